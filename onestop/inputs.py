"""What every value from outside must be before onestop uses it: one rule each, as pydantic types.

The command arguments (:mod:`onestop.arguments`) and the queries of the engine are built from
these types, so a rule (the id range, the characters allowed in text, the citizen ID format...)
is written once here and a value that breaks it is refused with
:class:`~onestop.errors.ValidationError` before any transaction starts.

* Ids are the store's 64-bit keys: integers from 1 to ``2**63 - 1`` (no bools, no strings).
* Text is normalised to NFC; control characters (NUL included: PostgreSQL refuses it), bidi
  overrides and isolates, zero-width and other invisible format characters, and lone surrogates
  are refused. Free text (reasons, notes) may hold line breaks and tabs; a single-line value
  (names, references, codes, keys) may not.
* Citizen ID numbers are exactly 12 ASCII digits (full-width or Arabic-Indic digits refused).
* Moments are timezone-aware and representable in Vietnam's time zone, years 1900 to 9998;
  whether one falls inside the engine's calendar is checked where the calendar is known.
* Amounts are finite, non-negative integers of VND.

Example:
    >>> from onestop.inputs import dossier_id
    >>> dossier_id(7)
    7
    >>> dossier_id(2**63)
    Traceback (most recent call last):
    ...
    onestop.errors.ValidationError: dossier_id: must be an integer from 1 to 9223372036854775807
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any

import pydantic
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
)

from onestop.clock import VN_TZ
from onestop.errors import ValidationError

#: The largest id the store's keys hold (BIGINT on PostgreSQL, INTEGER on SQLite).
MAX_ID = 2**63 - 1
#: Years a moment may fall in, whatever the calendar: far enough to convert to any time zone.
FIRST_YEAR, LAST_YEAR = 1900, 9998
#: Whitespace controls free text may hold (line breaks and tabs in a reason or a note).
_FREE_TEXT_CONTROLS = frozenset("\n\t")
#: Unicode categories refused in text: controls, invisible format characters (bidi overrides
#: and isolates, zero-width spaces and joiners, the BOM...), lone surrogates, line and paragraph
#: separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _clean(value: Any, *, multiline: bool) -> Any:
    """NFC form of ``value`` if it is a string without refused characters (others pass on to
    the type's own check)."""
    if not isinstance(value, str):
        return value
    for i, ch in enumerate(value):
        if unicodedata.category(ch) in _REFUSED_CATEGORIES and not (
            multiline and ch in _FREE_TEXT_CONTROLS
        ):
            name = unicodedata.name(ch, "control character")
            raise ValueError(f"character U+{ord(ch):04X} ({name}) at position {i} is not allowed")
    return unicodedata.normalize("NFC", value)


def _single_line(value: Any) -> Any:
    return _clean(value, multiline=False)


def _free_text(value: Any) -> Any:
    return _clean(value, multiline=True)


def _in_vietnam_time(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is outside {FIRST_YEAR}..{LAST_YEAR}")
    try:
        value.astimezone(VN_TZ)
    except OverflowError:
        raise ValueError("cannot be expressed in Vietnam's time zone") from None
    return value


_LINE = BeforeValidator(_single_line)

#: A code of the definitions: procedure, unit, agency.
Code = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=60), _LINE
]
#: A person's name (the applicant's).
Name = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _LINE
]
#: An account: the user id recorded on events.
UserId = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=100), _LINE
]
#: A caller's reference (e.g. the portal's dossier code), a postal tracking number.
Reference = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=100), _LINE
]
#: An idempotency key.
Key = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _LINE
]
#: Free text that may span lines: reasons and notes.
Text = Annotated[
    str,
    Strict(),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    BeforeValidator(_free_text),
]
#: A key of the store: an integer from 1 to 2**63 - 1.
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]
#: A citizen identity number (căn cước): exactly 12 ASCII digits.
CitizenId = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{12}$"), _LINE
]
#: A Vietnamese phone number: ``0`` or ``+84`` then 9 or 10 ASCII digits.
Phone = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, pattern=r"^(\+84|0)[0-9]{9,10}$"), _LINE
]
#: An amount of VND: a finite integer, 0 to 10**13.
Amount = Annotated[int, Field(ge=0, le=10**13, allow_inf_nan=False)]
#: A timezone-aware moment that Vietnam's time zone can represent.
Moment = Annotated[AwareDatetime, AfterValidator(_in_vietnam_time)]

_ID = pydantic.TypeAdapter(Id)


def dossier_id(value: Any, field: str = "dossier_id") -> int:
    """``value`` if it is a valid id of the store.

    Raises:
        ValidationError: Naming ``field`` if it is not an integer from 1 to ``2**63 - 1``.
    """
    try:
        return _ID.validate_python(value)
    except pydantic.ValidationError:
        raise ValidationError(field, f"must be an integer from 1 to {MAX_ID}") from None


_MOMENT = pydantic.TypeAdapter(Moment)


def moment(value: Any, field: str) -> datetime:
    """``value`` if it is a :data:`Moment` (aware, representable in Vietnam's time zone).

    Raises:
        ValidationError: Naming ``field`` and what is wrong.
    """
    try:
        return _MOMENT.validate_python(value)
    except pydantic.ValidationError as exc:
        msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValidationError(field, msg) from None


def day(value: date, field: str) -> date:
    """``value`` if its year is within ``FIRST_YEAR..LAST_YEAR``.

    Raises:
        ValidationError: Naming ``field`` otherwise.
    """
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValidationError(
            field, f"{value.isoformat()} is outside the years {FIRST_YEAR}..{LAST_YEAR}"
        )
    return value
