"""Planning a reorganisation: which open dossiers move to which successor unit (pure).

On 1 July 2025 the district level was abolished and Can Tho, Hậu Giang and Sóc Trăng merged
(Resolution 202/2025/QH15, Resolution 1668/NQ-UBTVQH15); dossiers pending at an abolished or
merged unit passed to the successor authority without interruption. :func:`plan` reads the open
dossiers of the old unit set and the mapping, and says for each one where it goes: the successor
unit (the mapping's entry; for a procedure now decided at a lower level, the lower unit that
received it, else the entry's ``seat``), the successor catalog's version of its procedure, the
agency of its current step there, and its appointment (kept, or extended when the rule set
allows it). A dossier that cannot be placed is listed with the reason, never dropped. Writing
the plan is :meth:`onestop.Engine.reorganise`'s job (one ``transferred`` event per dossier).

Example:
    >>> from datetime import date, datetime
    >>> from onestop.clock import VN_TZ
    >>> from onestop.definitions import Definitions
    >>> defs = Definitions.load("workflows")
    >>> mp = defs.mappings["cantho-2025-merged"]
    >>> old, new = defs.catalogs["cantho-2024"], defs.catalogs["cantho-2025-merged"]
    >>> row = {"id": 7, "version": 3, "unit_set": "cantho-2024", "status": "processing",
    ...        "procedure_code": "district.land-first", "procedure_version": 1,
    ...        "competent_unit": "92.NK", "intake_unit": "92.NK", "step_index": 1,
    ...        "current_agency": "92.NK.LAND", "due_at": None, "origin_unit_set": None}
    >>> p = plan([row], mp, old, new, datetime(2025, 7, 1, tzinfo=VN_TZ))
    >>> t = p.transfers[0]
    >>> (t.old_unit, t.new_unit, t.via, t.old_agency, t.new_agency)
    ('92.NK', '92.NINHKIEU', 'seat', '92.NK.LAND', '92.NINHKIEU.CADASTRAL')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from onestop.catalog import Catalog, Procedure
from onestop.clock import local_date
from onestop.definitions import MappingEntry, UnitMapping
from onestop.errors import UnknownProcedure, UnknownUnit
from onestop.timeline import entries_by_old

#: The event a transfer writes (no status change; the lifecycle is not fired).
TRANSFERRED = "transferred"


@dataclass(frozen=True)
class Transfer:
    """One dossier's move to its successor.

    Attributes:
        dossier_id: The dossier.
        version: Its row version when planned (the write checks it).
        old_unit: Competent unit before.
        new_unit: Competent unit after.
        via: How ``new_unit`` was found: ``entry`` (the mapping's new unit), ``intake`` (the
            successor of the lower unit that received it) or ``seat`` (the entry's seat).
        entry: The mapping entry used.
        procedure_code: The procedure.
        old_version: Its version before (old catalog).
        new_version: Its version in the successor catalog.
        old_agency: The current step's agency before (``None``: no step under way).
        new_agency: The current step's agency after.
        due_at: The appointment after the transfer.
        extended: Whether the rule set extended the appointment.
        set: The dossier columns the transfer sets.
    """

    dossier_id: int
    version: int
    old_unit: str
    new_unit: str
    via: str
    entry: MappingEntry
    procedure_code: str
    old_version: int
    new_version: int
    old_agency: str | None
    new_agency: str | None
    due_at: datetime | None
    extended: bool
    set: dict[str, Any]

    def record(self, mapping: UnitMapping) -> dict[str, Any]:
        """What the ``transferred`` event records beside the columns it sets."""
        return {
            "mapping": mapping.mapping,
            "effective": mapping.effective.isoformat(),
            "old_unit": self.old_unit,
            "new_unit": self.new_unit,
            "via": self.via,
            "entry": self.entry.model_dump(exclude_defaults=True),
            "old_procedure_version": self.old_version,
            "new_procedure_version": self.new_version,
            "old_agency": self.old_agency,
            "new_agency": self.new_agency,
            "appointment": "extended" if self.extended else "kept",
        }


@dataclass(frozen=True)
class Unmapped:
    """An open dossier the plan cannot move, and why."""

    dossier_id: int
    unit: str
    procedure_code: str
    reason: str


@dataclass
class Plan:
    """Every open dossier of the old unit set: transferred or listed as unmapped."""

    mapping: UnitMapping
    at: datetime
    transfers: list[Transfer] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)

    def counts(self) -> list[tuple[str, str, int]]:
        """``(old unit, new unit, dossiers)``, by old unit then new unit."""
        found = Counter((t.old_unit, t.new_unit) for t in self.transfers)
        return [(old, new, n) for (old, new), n in sorted(found.items())]

    def lines(self) -> list[str]:
        """The plan as text: a head line, counts by old → new unit, the unmapped dossiers."""
        out = [
            f"reorganisation {self.mapping.mapping} ({self.mapping.from_unit_set} → "
            f"{self.mapping.to_unit_set}) at {self.at.isoformat()}: "
            f"{len(self.transfers)} to transfer, {len(self.unmapped)} unmapped"
        ]
        out += [f"  {old} → {new}: {n}" for old, new, n in self.counts()]
        out += [
            f"  unmapped #{u.dossier_id} {u.procedure_code} at {u.unit}: {u.reason}"
            for u in self.unmapped
        ]
        return out


#: The appointment of a transferred dossier, given its rule set's name and its due date
#: (see :func:`onestop.deadlines.transfer_due`).
DueRule = Callable[[str, datetime | None], datetime | None]


def _kept(_rule_set: str, due: datetime | None) -> datetime | None:
    return due


def _successor(
    row: Mapping[str, Any], entry: MappingEntry, entries: Mapping[str, MappingEntry],
    old: Catalog, new: Catalog, proc: Procedure,
) -> tuple[str, str] | str:  # fmt: skip
    """``(unit, via)`` at the successor procedure's level, or the reason there is none."""
    units = new.units
    if units.level_of(entry.new).code == proc.level:
        return entry.new, "entry"
    intake = row["intake_unit"]
    if intake != row["competent_unit"] and old.units.has_unit(intake):
        above = old.units.ancestor_at(intake, old.units.level_of(row["competent_unit"]).code)
        lower = entries.get(intake)
        if (
            above is not None
            and above.code == row["competent_unit"]
            and lower is not None
            and units.level_of(lower.new).code == proc.level
        ):
            return lower.new, "intake"
    if entry.seat is not None and units.level_of(entry.seat).code == proc.level:
        return entry.seat, "seat"
    at = units.ancestor_at(entry.new, proc.level)
    if at is not None:
        return at.code, "entry"
    return (
        f"its successor {entry.new!r} is at level {units.level_of(entry.new).code!r}, the "
        f"procedure is decided at level {proc.level!r} in {units.name!r}, and the mapping "
        "names no seat"
    )


def plan(
    rows: Iterable[Mapping[str, Any]],
    mapping: UnitMapping,
    old: Catalog,
    new: Catalog,
    at: datetime,
    due: DueRule = _kept,
) -> Plan:
    """Plan the transfer of open dossiers from ``mapping``'s old unit set to its new one.

    Args:
        rows: Open dossier rows (``id``, ``version``, ``unit_set``, ``procedure_code``,
            ``procedure_version``, ``competent_unit``, ``intake_unit``, ``step_index``,
            ``current_agency``, ``due_at``, ``rule_set``, ``origin_unit_set``...). Rows of
            another unit set are skipped: they are not the old set's (or already moved).
        mapping: The reorganisation's mapping.
        old: The old unit set's catalog.
        new: The new unit set's catalog.
        at: The instant of the reorganisation (the successor version in force that day).
        due: The appointment after the transfer (default: kept).

    Returns:
        Transfers and unmapped dossiers, by dossier id.
    """
    entries = entries_by_old(mapping)
    result = Plan(mapping, at)
    for row in sorted(rows, key=lambda r: int(r["id"])):
        if row["unit_set"] != mapping.from_unit_set:
            continue
        found = _transfer(row, mapping, entries, old, new, local_date(at), due)
        if isinstance(found, str):
            unit, code = row["competent_unit"], row["procedure_code"]
            result.unmapped.append(Unmapped(int(row["id"]), unit, code, found))
        else:
            result.transfers.append(found)
    return result


def _transfer(
    row: Mapping[str, Any], mapping: UnitMapping, entries: Mapping[str, MappingEntry],
    old: Catalog, new: Catalog, day: date, due: DueRule,
) -> Transfer | str:  # fmt: skip
    """One dossier's transfer, or the reason it cannot be moved."""
    unit, code = row["competent_unit"], row["procedure_code"]
    entry = entries.get(unit)
    if entry is None:
        return f"unit {unit!r} has no entry in mapping {mapping.mapping!r}"
    try:
        proc = new.get(code, at=day)
    except UnknownProcedure as exc:
        return f"no successor procedure in {new.units.name!r}: {exc}"
    found = _successor(row, entry, entries, old, new, proc)
    if isinstance(found, str):
        return found
    target, via = found
    index = int(row["step_index"])
    old_agency = row["current_agency"]
    new_agency = None
    if old_agency is not None:
        step = old.get(code, version=int(row["procedure_version"])).route.steps[index]
        steps = proc.route.steps
        if index >= len(steps) or steps[index].code != step.code:
            return (
                f"step {step.code!r} is not step {index + 1} of the successor's route "
                f"({', '.join(s.code for s in steps)})"
            )
        try:
            new_agency = new.step_agency(proc, steps[index], target).code
        except UnknownUnit as exc:
            return f"no agency for step {step.code!r} at {target!r}: {exc}"
    new_due = due(str(row.get("rule_set") or ""), row["due_at"])
    changes: dict[str, Any] = {
        "unit_set": new.units.name,
        "competent_unit": target,
        "procedure_version": proc.version,
        "level": proc.level,
        "field": proc.field,
        "step_count": len(proc.route.steps),
        "current_agency": new_agency,
    }
    if row.get("origin_unit_set") is None:  # the first transfer keeps the receipt's
        changes.update(
            origin_unit_set=row["unit_set"],
            origin_unit=unit,
            origin_procedure_version=int(row["procedure_version"]),
        )
    extended = new_due != row["due_at"]
    if extended:
        changes["due_at"] = new_due
    return Transfer(
        int(row["id"]), int(row["version"]), unit, target, via, entry, code,
        int(row["procedure_version"]), proc.version, old_agency, new_agency, new_due, extended,
        changes,
    )  # fmt: skip
