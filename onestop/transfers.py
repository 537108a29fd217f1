"""Running a reorganisation: the planned transfers written through the store, one
``transferred`` event per dossier (:mod:`onestop.reorganisation` plans them).

Each transfer moves the competent unit, the current step's agency and the remaining route to the
successor, keeps the appointment (or extends it as the dossier's rule set allows), and appends
one chained event in the same version-checked write as the row, so ``onestop verify`` stays
clean. Dossiers already moved are not the old unit set's any more: a second run plans nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from onestop import deadlines, inputs
from onestop._yaml import load_yaml, validate_model
from onestop.arguments import Meta, actor_id, validated
from onestop.definitions import Definitions, UnitMapping, check_mapping
from onestop.errors import DefinitionError, UnknownUnit
from onestop.recorder import Change
from onestop.reorganisation import TRANSFERRED, Plan, Transfer, plan

if TYPE_CHECKING:
    from onestop.engine import Engine


@dataclass
class Outcome:
    """What a run did.

    Attributes:
        plan: The plan (every open dossier of the old set: transfers and unmapped).
        written: Dossiers transferred by this run (0 for a dry run).
        skipped: Planned dossiers another writer changed before their turn (left as they are).
    """

    plan: Plan
    written: int = 0
    skipped: list[int] = field(default_factory=list)


def read_mapping(path: str | Path) -> UnitMapping:
    """Read a mapping file (not yet checked against any unit set).

    Raises:
        DefinitionError: Missing or malformed file (file, key path, reason).
    """
    return validate_model(UnitMapping, load_yaml(Path(path)), str(path))


def load_mapping(path: str | Path, defs: Definitions) -> UnitMapping:
    """Read a mapping file and check it against the definitions' unit sets.

    Raises:
        DefinitionError: Missing or malformed file, unknown unit sets or units (file, key
            path, reason for each).
    """
    mapping = read_mapping(path)
    problems = check_mapping(mapping, defs.unit_sets, str(path))
    if problems:
        raise DefinitionError(problems)
    return mapping


def reorganise(
    engine: Engine,
    mapping: UnitMapping,
    at: datetime,
    *,
    dry_run: bool = False,
    actor: str = "reorganisation",
    progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Transfer every open dossier of ``mapping``'s old unit set to its successor.

    Args:
        engine: An engine serving both unit sets (its timeline).
        mapping: The reorganisation's mapping.
        at: The instant it takes effect (an aware datetime); events are dated at it, or at the
            dossier's last change if that is later (a log never goes back in time).
        dry_run: Plan only; write nothing.
        actor: Recorded on each event.
        progress: Called with ``(done, total)`` after each dossier written.

    Raises:
        ValidationError: If ``at`` is not an aware instant in the calendar's range, or
            ``actor`` is not a user id.
        UnknownUnit: If the engine does not serve both unit sets.
    """
    at = inputs.moment(at, "at")
    who = actor_id(validated(Meta, actor=actor))  # a user id, as every command's actor
    old = engine.timeline.catalog(mapping.from_unit_set)
    new = engine.timeline.catalog(mapping.to_unit_set)
    if old is new:
        raise UnknownUnit(f"mapping {mapping.mapping!r} maps a unit set to itself")

    def due(rule_set: str, value: datetime | None) -> datetime | None:
        rules = engine.rules.named(rule_set) if rule_set else engine.rules.in_force(at.date())
        return deadlines.transfer_due(engine.calendar, rules, value)

    with engine.store.read() as uow:
        rows = uow.open_of_unit_set(mapping.from_unit_set)
    planned = plan(rows, mapping, old, new, at, due)
    outcome = Outcome(planned)
    if dry_run or not planned.transfers:
        return outcome
    total = len(planned.transfers)
    # One transaction: all transfers, or none (a caller's batch, e.g. a simulation's, is one).
    with nullcontext() if engine.store.in_batch else engine.batch():
        for i, transfer in enumerate(planned.transfers, 1):
            if _write(engine, mapping, transfer, at, who):
                outcome.written += 1
            else:
                outcome.skipped.append(transfer.dossier_id)
            if progress is not None:
                progress(i, total)
    return outcome


def _write(
    engine: Engine, mapping: UnitMapping, t: Transfer, at: datetime, actor: str | None
) -> bool:
    with engine.recorder.write(savepoint=False, keyed=False) as uow:
        row = uow.load_dossier(t.dossier_id, lock=True)
        if row["version"] != t.version or row["unit_set"] != mapping.from_unit_set:
            return False
        when = max(at, row["updated_at"])
        step_updates = []
        if t.old_agency is not None:
            step_updates.append((int(row["step_index"]), {"agency": t.new_agency}))
        # Recorded as every command is: the event, the portal's message (the holder changed).
        change = Change(
            TRANSFERRED, {**t.set, "updated_at": when}, t.record(mapping), actor, when,
            t.new_unit, step_updates=step_updates,
        )  # fmt: skip
        engine.recorder.record_change(uow, row, change)
        return True
