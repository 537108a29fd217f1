"""The procedure catalog: procedures, their routes and steps, validated against a unit set.

A :class:`Procedure` says what a citizen applies for (code, names, field, level, statutory time,
fee, channel flags). Its :class:`Route` is the ordered :class:`RouteStep` list that processes it,
each step owned by an agency (named, or found by role at a level relative to the competent unit)
with a budget in working days; budgets sum to the statutory time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from onestop.errors import DefinitionError, Problem, UnknownProcedure, UnknownUnit
from onestop.fields import FieldName
from onestop.lifecycle import Lifecycle
from onestop.units import CODE_PATTERN, KEY_PATTERN, Agency, Units

if TYPE_CHECKING:
    from onestop.catalog_search import Found, Kind

_EPS = 1e-9

TimeUnit = Literal["working_days", "same_day", "calendar_days"]

#: How the catalog reads a time limit written in the law, stated once for every entry: "N ngày
#: làm việc", or "N ngày" in a text that itself excludes days off and holidays (e.g. Decree
#: 43/2014 Art. 61), is ``working_days``; "N ngày" alone is ``calendar_days`` (Civil Code 2015
#: Art. 147-148: the first day is not counted, a last day that is off moves to the next working
#: day) -- so the judicial record's "10 ngày" and a construction permit's "15 ngày" read alike;
#: "giải quyết ngay trong ngày" is ``same_day``.
TIME_READING = (
    "ngày làm việc → working_days; ngày alone → calendar_days; ngay trong ngày → same_day"
)
OnlineLevel = Literal["full", "partial", "none"]
SupplementRule = Literal["pause", "restart"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class RouteStep(_Frozen):
    """One step of a route: who acts and how long they may take.

    Attributes:
        code: Key of the step within its route, e.g. ``review``.
        name: Human name, e.g. "Chuyên viên thẩm định".
        role: Role of the acting agency (``desk``, ``justice``, ``police``...), found at the unit
            of ``level`` containing the competent unit. Exclusive with ``agency``.
        agency: Code of one fixed agency. Exclusive with ``role``.
        level: Level at which ``role`` is looked up; default: the procedure's level.
        budget: Time budget in working days (half days allowed).
    """

    code: str = Field(pattern=CODE_PATTERN, max_length=60)
    name: str = Field(default="", max_length=300)
    role: str | None = Field(default=None, pattern=KEY_PATTERN, max_length=40)
    agency: str | None = Field(default=None, max_length=60)
    level: str | None = Field(default=None, max_length=40)
    budget: float = Field(gt=0, le=365)

    @model_validator(mode="after")
    def _one_owner(self) -> RouteStep:
        if (self.role is None) == (self.agency is None):
            raise ValueError("give exactly one of 'role' or 'agency'")
        if self.agency is not None and self.level is not None:
            raise ValueError("'level' applies to 'role' only")
        return self


class Route(_Frozen):
    """The ordered steps processing a procedure (quy trình nội bộ / liên thông).

    Attributes:
        inter_agency: Whether the route is an inter-agency chain (liên thông).
        steps: The steps in order; the last one produces the result.
    """

    inter_agency: bool = False
    steps: tuple[RouteStep, ...] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_steps(self) -> Route:
        seen: set[str] = set()
        for step in self.steps:
            if step.code in seen:
                raise ValueError(f"duplicate step code {step.code!r}")
            seen.add(step.code)
        return self

    @property
    def total_budget(self) -> float:
        """Sum of the step budgets in working days."""
        return sum(s.budget for s in self.steps)


class Procedure(_Frozen):
    """An administrative procedure (thủ tục hành chính) as published in the catalog.

    Attributes:
        code: National procedure code.
        version: Definition version; dossiers keep the version in force when received.
        valid_from: First day of receipt this version governs (``None``: since before the
            catalog's unit set).
        valid_to: Last day of receipt it governs, inclusive (``None``: until further notice).
            The versions of one code must follow each other without gap or overlap.
        name_vi: Vietnamese name.
        name_en: English name.
        field: Field (lĩnh vực), e.g. ``civil_status``, ``land``.
        level: Level code of the competent authority.
        statutory_days: Statutory time limit (for ``same_day``: the working time the route's
            budgets share, at most 1).
        time_unit: ``working_days`` (default); ``same_day`` (due by the close of the receipt
            working day, or of the next one after the cut-off); or ``calendar_days``.
        fee_vnd: Fee or charge in VND (at the counter, and online unless ``fee_vnd_online``).
        fee_vnd_online: Fee for an online filing when the law sets another one (``None``: the
            same as ``fee_vnd``).
        online: Online service: ``full``, ``partial`` or ``none``.
        postal: Whether intake and return by post are offered.
        location_independent: Whether any unit of ``intake_levels`` may receive it.
        intake_levels: Levels whose desks may receive it location-independently
            (default: every level).
        supplement_rule: ``pause`` keeps time used before a supplement request; ``restart``
            counts the full time again from the supplement, when the request was notified within
            the intake-check window and the dossier was not overdue.
        intake_check_days: The intake-check window in working days from receipt (default 3).
        source: Legal basis.
        assumed: True when the entry is plausible but not taken from a published list.
        route: How it is processed.
    """

    code: str = Field(pattern=CODE_PATTERN, max_length=60)
    version: int = Field(default=1, ge=1)
    valid_from: date | None = None
    valid_to: date | None = None
    name_vi: str = Field(min_length=1, max_length=500)
    name_en: str = Field(min_length=1, max_length=500)
    field: str = Field(pattern=KEY_PATTERN, max_length=60)
    level: str = Field(max_length=40)
    statutory_days: float = Field(gt=0, le=365)
    time_unit: TimeUnit = "working_days"
    fee_vnd: int = Field(default=0, ge=0)
    fee_vnd_online: int | None = Field(default=None, ge=0)
    online: OnlineLevel = "none"
    postal: bool = False
    location_independent: bool = False
    intake_levels: tuple[str, ...] | None = None
    supplement_rule: SupplementRule = "pause"
    intake_check_days: float = Field(default=3.0, gt=0, le=60)
    source: str = Field(default="", max_length=1000)
    assumed: bool = False
    route: Route

    @model_validator(mode="after")
    def _interval(self) -> Procedure:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(
                f"valid_to {self.valid_to.isoformat()} is before valid_from "
                f"{self.valid_from.isoformat()}"
            )
        return self

    @model_validator(mode="after")
    def _budgets_sum(self) -> Procedure:
        total = self.route.total_budget
        if self.time_unit == "same_day" and self.statutory_days > 1:
            raise ValueError(
                f"a same-day procedure has at most 1 working day, not {self.statutory_days:g}"
            )
        if self.time_unit != "calendar_days" and abs(total - self.statutory_days) > _EPS:
            raise ValueError(
                f"step budgets sum to {total:g} working days, "
                f"the statutory time is {self.statutory_days:g}"
            )
        if self.time_unit == "calendar_days" and total > self.statutory_days + _EPS:
            raise ValueError(
                f"step budgets sum to {total:g} working days, more than the statutory "
                f"{self.statutory_days:g} calendar days"
            )
        return self

    @property
    def key(self) -> tuple[str, int]:
        """``(code, version)``: identifies one definition version."""
        return (self.code, self.version)

    def in_force(self, day: date) -> bool:
        """Whether this version governs dossiers received on ``day``."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def fee_for(self, channel: str) -> int:
        """The fee due for a dossier filed through ``channel`` (``online`` or another)."""
        if channel == "online" and self.fee_vnd_online is not None:
            return self.fee_vnd_online
        return self.fee_vnd


def _day(d: date | None) -> str:
    return d.isoformat() if d else "the start"


def version_problems(
    versions: Iterable[tuple[Procedure, str, str]],
) -> list[Problem]:
    """Overlaps and gaps between the versions of one procedure code.

    Args:
        versions: ``(procedure, file, key path)`` of every version of one code.

    Returns:
        One problem per overlap or gap, placed at the later version's ``valid_from``.
    """
    ordered = sorted(versions, key=lambda v: (v[0].valid_from or date.min, v[0].version))
    problems: list[Problem] = []
    for (prev, _, _), (proc, file, path) in zip(ordered, ordered[1:], strict=False):
        where = f"{path}.valid_from"
        if proc.valid_from is None or prev.valid_to is None or proc.valid_from <= prev.valid_to:
            end = prev.valid_to.isoformat() if prev.valid_to else "further notice"
            problems.append(
                Problem(
                    file,
                    where,
                    f"version {proc.version} of {proc.code!r} (from {_day(proc.valid_from)}) "
                    f"overlaps version {prev.version} (in force until {end})",
                )
            )
        elif proc.valid_from > prev.valid_to + timedelta(days=1):
            problems.append(
                Problem(
                    file,
                    where,
                    f"no version of {proc.code!r} is in force from "
                    f"{(prev.valid_to + timedelta(days=1)).isoformat()} to "
                    f"{(proc.valid_from - timedelta(days=1)).isoformat()} (gap between version "
                    f"{prev.version} and version {proc.version})",
                )
            )
    return problems


def _check_procedure(proc: Procedure, units: Units, file: str, path: str) -> list[Problem]:
    problems: list[Problem] = []
    spec = units.spec
    if (spec.valid_to and proc.valid_from and proc.valid_from > spec.valid_to) or (
        spec.valid_from and proc.valid_to and proc.valid_to < spec.valid_from
    ):
        problems.append(
            Problem(
                file,
                f"{path}.valid_from",
                f"version {proc.version} of {proc.code!r} is never in force while unit set "
                f"{units.name!r} is ({_day(spec.valid_from)} to {_day(spec.valid_to)})",
            )
        )
    level = units.levels.get(proc.level)
    if level is None:
        return [Problem(file, f"{path}.level", f"unknown level {proc.level!r}")]
    if proc.location_independent and not level.location_independent:
        problems.append(
            Problem(
                file,
                f"{path}.location_independent",
                f"level {proc.level!r} does not allow location-independent intake",
            )
        )
    for lvl in proc.intake_levels or ():
        if lvl not in units.levels:
            problems.append(Problem(file, f"{path}.intake_levels", f"unknown level {lvl!r}"))
    competent = units.units_at(proc.level)
    if not competent:
        problems.append(Problem(file, f"{path}.level", f"no unit at level {proc.level!r}"))
    for j, step in enumerate(proc.route.steps):
        where = f"{path}.route.steps[{j}]"
        if step.agency is not None:
            if not units.has_agency(step.agency):
                problems.append(Problem(file, f"{where}.agency", f"unknown agency {step.agency!r}"))
            continue
        step_level = step.level or proc.level
        if step_level not in units.levels:
            problems.append(Problem(file, f"{where}.level", f"unknown level {step_level!r}"))
            continue
        if units.levels[step_level].rank > level.rank:
            problems.append(
                Problem(
                    file,
                    f"{where}.level",
                    f"level {step_level!r} is below the procedure's level {proc.level!r}; "
                    "name the agency instead",
                )
            )
            continue
        missing = [
            u.code
            for u in competent
            if (at := units.ancestor_at(u.code, step_level)) is None
            or units.agency_for(step.role or "", at.code) is None
        ]
        if missing:
            sample = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
            problems.append(
                Problem(
                    file,
                    f"{where}.role",
                    f"no {step.role!r} agency at level {step_level!r} for "
                    f"{len(missing)} of {len(competent)} competent units ({sample})",
                )
            )
    return problems


class Catalog:
    """The procedures of one unit set, every version, checked against that unit set; each
    version's lifecycle is built and checked here, so a bad one fails at load time."""

    def __init__(
        self,
        units: Units,
        entries: Iterable[tuple[Procedure, str, str]] = (),
        fields: Mapping[str, FieldName] | None = None,
    ) -> None:
        """Build and validate a catalog.

        Args:
            units: The unit set the procedures refer to.
            entries: ``(procedure, file, key path)`` triples, the last two for error messages.
            fields: The field vocabulary; when given, every procedure's field must be in it.

        Raises:
            DefinitionError: Every problem found, with file, key path and reason.
        """
        self.units = units
        #: Field names by code (empty when no vocabulary was loaded).
        self.fields: dict[str, FieldName] = dict(fields or {})
        self._lifecycles: dict[tuple[str, int], Lifecycle] = {}
        problems: list[Problem] = []
        versions: dict[str, list[Procedure]] = defaultdict(list)
        placed: dict[str, list[tuple[Procedure, str, str]]] = defaultdict(list)
        seen: dict[tuple[str, int], str] = {}
        for proc, file, path in entries:
            if proc.key in seen:
                problems.append(
                    Problem(
                        file,
                        f"{path}.code",
                        f"duplicate procedure {proc.code!r} version {proc.version} "
                        f"(first defined in {seen[proc.key]})",
                    )
                )
                continue
            seen[proc.key] = file
            problems.extend(_check_procedure(proc, units, file, path))
            if fields is not None and proc.field not in fields:
                problems.append(
                    Problem(
                        file,
                        f"{path}.field",
                        f"unknown field {proc.field!r}: add it to a fields file (fields.yaml)",
                    )
                )
            versions[proc.code].append(proc)
            placed[proc.code].append((proc, file, path))
            try:
                self._lifecycles[proc.key] = Lifecycle(proc)
            except DefinitionError as exc:
                problems.extend(Problem(file, path, p.reason) for p in exc.problems)
        for code in sorted(placed):
            problems.extend(version_problems(placed[code]))
        if problems:
            raise DefinitionError(problems)
        for _code, procs in versions.items():
            procs.sort(key=lambda p: (p.valid_from or date.min, p.version))
        self._versions = dict(versions)

    def __len__(self) -> int:
        return len(self._versions)

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self.procedures())

    def procedures(self) -> list[Procedure]:
        """The latest version of every procedure, ordered by code."""
        return [self._versions[c][-1] for c in sorted(self._versions)]

    def all_versions(self) -> list[Procedure]:
        """Every version of every procedure."""
        return [p for c in sorted(self._versions) for p in self._versions[c]]

    def get(self, code: str, at: date | None = None, version: int | None = None) -> Procedure:
        """The procedure version in force on ``at`` (default: latest), or a given ``version``.

        Raises:
            UnknownProcedure: If no such procedure (or version, or version in force) exists.
        """
        procs = self._versions.get(code)
        if not procs:
            raise UnknownProcedure(f"unknown procedure {code!r}")
        if version is not None:
            for proc in procs:
                if proc.version == version:
                    return proc
            raise UnknownProcedure(f"procedure {code!r} has no version {version}")
        if at is None:
            return procs[-1]
        for proc in procs:
            if proc.in_force(at):
                return proc
        raise UnknownProcedure(f"procedure {code!r} is not in force on {at.isoformat()}")

    def in_force(self, at: date) -> list[Procedure]:
        """The version of every procedure in force on ``at``, ordered by code."""
        return [p for c in sorted(self._versions) for p in self._versions[c] if p.in_force(at)]

    def lifecycle(self, proc: Procedure) -> Lifecycle:
        """The shared state machine of a procedure version (built and checked at load)."""
        return self._lifecycles[proc.key]

    def search(
        self,
        kind: Kind = "procedures",
        *,
        text: str | None = None,
        level: str | None = None,
        unit: str | None = None,
        at: date | None = None,
    ) -> list[Found]:
        """Find procedure, unit or agency codes by words, with or without diacritics.

        ``catalog.search(text="ho kinh doanh")`` lists the business-household procedures;
        ``catalog.search("units", text="ninh kieu")`` finds Ninh Kiều. See
        :func:`onestop.catalog_search.search` for the arguments and the matching rule.

        Raises:
            ValidationError: If ``kind`` or ``level`` is not known.
            UnknownUnit: If ``unit`` is not a unit of this catalog's unit set.
        """
        from onestop.catalog_search import search

        return search(self, kind, text=text, level=level, unit=unit, at=at)

    def step_agency(self, proc: Procedure, step: RouteStep, competent_unit: str) -> Agency:
        """The agency that performs ``step`` for a dossier whose competent unit is given.

        Raises:
            UnknownUnit: If the unit or the agency cannot be found.
        """
        if step.agency is not None:
            return self.units.agency(step.agency)
        level = step.level or proc.level
        at = self.units.ancestor_at(competent_unit, level)
        agency = self.units.agency_for(step.role or "", at.code) if at else None
        if agency is None:
            raise UnknownUnit(f"no {step.role!r} agency at level {level!r} for {competent_unit!r}")
        return agency


#: What ``catalog diff`` compares between two versions, in the order it reports them.
DIFF_FIELDS = (
    "version",
    "level",
    "statutory_days",
    "time_unit",
    "fee_vnd",
    "fee_vnd_online",
    "online",
    "postal",
    "location_independent",
    "intake_levels",
    "route",
    "source",
)


@dataclass(frozen=True)
class Change:
    """One difference between the catalog in force on two days.

    Attributes:
        code: The procedure.
        field: The field that differs; ``"procedure"`` when it exists on one day only.
        before: Its value on the first day (``"—"``: not in force).
        after: Its value on the second day.
    """

    code: str
    field: str
    before: str
    after: str


def _shown(proc: Procedure, name: str) -> str:
    if name == "route":
        return " → ".join(
            f"{s.role or s.agency}{'@' + s.level if s.level else ''}({s.budget:g})"
            for s in proc.route.steps
        )
    value = getattr(proc, name)
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def diff(catalog: Catalog, before: date, after: date, later: Catalog | None = None) -> list[Change]:
    """What changed between the procedure versions in force on two days.

    Args:
        catalog: The catalog read on ``before`` (and on ``after`` unless ``later`` is given).
        before: The first day.
        after: The second day.
        later: The catalog read on ``after`` when another unit set is in force by then.

    Returns:
        The changes, by procedure code then in :data:`DIFF_FIELDS` order.
    """
    old = {p.code: p for p in catalog.in_force(before)}
    new = {p.code: p for p in (later or catalog).in_force(after)}
    changes: list[Change] = []
    for code in sorted(old.keys() | new.keys()):
        a, b = old.get(code), new.get(code)
        if a is None or b is None:
            changes.append(
                Change(
                    code,
                    "procedure",
                    "—" if a is None else "in force",
                    "—" if b is None else "in force",
                )
            )
            continue
        changes.extend(
            Change(code, name, _shown(a, name), _shown(b, name))
            for name in DIFF_FIELDS
            if _shown(a, name) != _shown(b, name)
        )
    return changes
