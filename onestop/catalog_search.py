"""Finding codes: procedures, units and agencies by words typed with or without diacritics.

``search(catalog, "procedures", text="dang ky ho kinh doanh")`` finds "Đăng ký thành lập hộ kinh
doanh". Text is compared in one folded form (:func:`fold`): Unicode NFD with the combining marks
dropped, đ/Đ read as d, case folded. Every word of the query must be a word of the entry (its
code, Vietnamese and English names, field, kind or role), or the start of one when the query
word has three letters or more, so "kinh doa" finds "kinh doanh" but "ho" does not find "hoá".
The ``onestop catalog list`` command and ``Catalog.search`` both call :func:`search`.

    >>> fold("Đăng ký hộ kinh doanh")
    'dang ky ho kinh doanh'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from onestop.errors import UnknownUnit, ValidationError

if TYPE_CHECKING:
    from onestop.catalog import Catalog

Kind = Literal["procedures", "units", "agencies"]
KINDS: tuple[Kind, ...] = ("procedures", "units", "agencies")
#: Query words this long or longer also match the start of a word.
PREFIX_MIN = 3
_WORD = re.compile(r"[0-9a-z]+")


def fold(text: str) -> str:
    """``text`` without diacritics (NFD, combining marks dropped, đ → d), case folded."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.replace("đ", "d").replace("Đ", "D").casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits; codes split at dots and dashes)."""
    return _WORD.findall(fold(text))


def matches(query: Iterable[str], text: Iterable[str]) -> bool:
    """Whether every query word is a word of ``text`` (or starts one, if long enough)."""
    have = set(text)
    return all(
        q in have or (len(q) >= PREFIX_MIN and any(w.startswith(q) for w in have)) for q in query
    )


@dataclass(frozen=True)
class Found:
    """One procedure, unit or agency found.

    Attributes:
        kind: ``procedure``, ``unit`` or ``agency``.
        code: The code to pass to the engine (``receive(procedure, unit)``) or the reports.
        name: The Vietnamese name, as written.
        name_en: The English name (procedures), else empty.
        level: The level: the competent level of a procedure, a unit's, an agency's unit's.
        unit: An agency's unit, a unit's parent; empty for a procedure.
        detail: A procedure's field and time limit, a unit's kind, an agency's role.
    """

    kind: str
    code: str
    name: str
    name_en: str
    level: str
    unit: str
    detail: str


def _time(days: float, unit: str) -> str:
    if unit == "same_day":
        return "same day"
    count = f"{days:g}"
    return f"{count} calendar days" if unit == "calendar_days" else f"{count} working days"


def search(
    catalog: Catalog,
    kind: Kind = "procedures",
    *,
    text: str | None = None,
    level: str | None = None,
    unit: str | None = None,
    at: date | None = None,
) -> list[Found]:
    """Procedures, units or agencies of a catalog's unit set, filtered, ordered by code.

    Args:
        catalog: The catalog (its unit set gives units and agencies).
        kind: ``procedures``, ``units`` or ``agencies``.
        text: Words to find, with or without diacritics (see the module's docstring).
        level: Only this level (``city``, ``district``, ``commune``...).
        unit: Procedures decided at this unit's level; the unit and the units under it;
            the agencies of this unit.
        at: Procedures: the versions in force on this day (default: the latest versions).

    Raises:
        ValidationError: If ``kind`` or ``level`` is not known.
        UnknownUnit: If ``unit`` is not a unit of the catalog's unit set.
    """
    units = catalog.units
    if kind not in KINDS:
        raise ValidationError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    if level is not None and level not in units.levels:
        raise ValidationError("level", f"{level!r} is not one of {', '.join(units.levels)}")
    if unit is not None and not units.has_unit(unit):
        raise UnknownUnit(f"unknown unit {unit!r} in unit set {units.name!r}")
    query = words(text or "")
    found: list[Found] = []
    if kind == "procedures":
        wanted = level if unit is None else units.unit(unit).level
        if level is not None and wanted != level:
            return []
        procs = catalog.procedures() if at is None else catalog.in_force(at)
        for p in procs:
            field = catalog.fields.get(p.field)
            field_names = f"{field.name_vi} {field.name_en}" if field is not None else ""
            haystack = f"{p.code} {p.name_vi} {p.name_en} {p.field} {field_names}"
            if (wanted is None or p.level == wanted) and matches(query, words(haystack)):
                time = _time(p.statutory_days, p.time_unit)
                found.append(
                    Found(
                        "procedure", p.code, p.name_vi, p.name_en, p.level, "", f"{p.field}, {time}"
                    )
                )
    elif kind == "units":
        for u in units.all_units:
            inside = unit is None or u.code == unit or _under(catalog, u.code, unit)
            if (
                inside
                and (level is None or u.level == level)
                and matches(query, words(f"{u.code} {u.name} {u.kind}"))
            ):
                found.append(Found("unit", u.code, u.name, "", u.level, u.parent or "", u.kind))
    else:
        for a in units.all_agencies:
            a_level = units.unit(a.unit).level
            if (
                (unit is None or a.unit == unit)
                and (level is None or a_level == level)
                and matches(query, words(f"{a.code} {a.name} {a.role} {a.kind}"))
            ):
                found.append(Found("agency", a.code, a.name, "", a_level, a.unit, a.role))
    return sorted(found, key=lambda f: f.code)


def _under(catalog: Catalog, code: str, ancestor: str) -> bool:
    units = catalog.units
    parent = units.unit(code).parent
    while parent is not None:
        if parent == ancestor:
            return True
        parent = units.unit(parent).parent
    return False
