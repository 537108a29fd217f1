"""The simulator's kernel: the engine's law applied to dossiers in memory, events sealed in bulk.

A simulated command needs what the law decides (the lifecycle's answer and the command's plan:
due times, steps, timeliness), not the machinery that makes a real command safe (a transaction,
a lock, authorization, idempotency, a validated call, a log line, a :class:`~onestop.Dossier`
built per command). :class:`Kernel` runs each command through the same two pure functions the
engine runs, :func:`onestop.plans.first` and :func:`onestop.plans.decide`, on rows held in
dictionaries, and journals what each decided. Events are sealed (canonical JSON, hash chain)
by :func:`onestop.store.event_log.event_row`, the engine's own, when a closed dossier is
written: in bulk, once enough wait, so memory stays flat in the number of closed dossiers.

Same seed, same draws: a run over the kernel writes exactly the events (hashes included), rows
and steps of a run over the engine (``tests/test_sim_kernel.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from onestop import plans
from onestop.arguments import Channel, Intake, ReturnMethod
from onestop.catalog import Catalog, Procedure
from onestop.engine import Engine
from onestop.errors import UnknownDossier
from onestop.rules import RuleSet
from onestop.status import Status
from onestop.store import EMPTY_ROW
from onestop.store.event_log import event_row
from onestop.store.memory import FLUSH_EVENTS, BulkHolder
from onestop.store.unit_of_work import EMPTY_STEP, event_values

_NO_ARGS: Mapping[str, Any] = {}

# One journal entry: what a command decided and the dossier's state after it.
Entry = tuple[
    str,  # trigger
    str,  # status before
    dict[str, Any],  # columns set (as the plan returned them)
    dict[str, Any],  # arguments and decisions recorded
    datetime,  # when
    str | None,  # where (a new dossier's intake unit)
    list[dict[str, Any]],  # step rows added
    list[tuple[int, dict[str, Any]]],  # step rows changed
    dict[str, Any],  # the state the event names: version, status, step, agency, deadline
]


class Row:
    """A dossier as the kernel holds it: attribute access to its columns, ``status`` typed.

    The simulator reads a few columns per command; a :class:`~onestop.Dossier` built per
    command would cost more than the command.
    """

    __slots__ = ("values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def status(self) -> Status:
        """The dossier's status."""
        return Status(self.values["status"])


class Kernel(BulkHolder):
    """The law of ``engine`` (its catalogs, timeline, rule book, calendar and clock) applied
    without its store; rows, steps and journals in memory, written to ``engine.store`` in bulk.

    Args:
        engine: The engine whose law applies; its store (opened with ``outbox=False``:
            simulated dossiers are never sent to the portal) receives the writes. Its audit key
            chains the events (none in development mode).
        flush_events: Closed dossiers are written once they hold this many events.
        events: Seal and write the events (the default). ``False`` writes the dossiers' rows
            and steps only, for runs whose log nobody keeps (a replication read for its
            figures, a staffing search): the same rows and steps, no events, and each row's
            chain head empty.

    Raises:
        ValueError: If the engine's store keeps an outbox.
    """

    def __init__(
        self, engine: Engine, flush_events: int = FLUSH_EVENTS, *, events: bool = True
    ) -> None:
        if engine.store.outbox:
            raise ValueError(
                "the kernel keeps no outbox: open the engine's store with outbox=False"
            )
        self.engine = engine
        self.store = engine.store
        self.rules = engine.rules
        self._hold(flush_events)
        self.events = events
        self.rows: dict[int, dict[str, Any]] = {}
        self.steps: dict[int, dict[int, dict[str, Any]]] = {}
        # Without events a journal holds one None per command (counted for flushing).
        self.journals: dict[int, list[Entry | None]] = {}
        self._next_id = engine.store.next_dossier_id()
        # Look-ups the law repeats for every command, made once.
        self._procs: dict[tuple[str, str, int, str], tuple[Catalog, Procedure, RuleSet]] = {}
        self._args: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[Any, dict[str, Any]]] = {}
        #: Rows written so far: dossiers, events.
        self.written = [0, 0]
        #: The most dossiers held at once (flat in the number of closed ones).
        self.peak = 0

    # -- commands -------------------------------------------------------------------------------

    def receive(
        self,
        procedure: str,
        competent_unit: str,
        *,
        intake_unit: str | None = None,
        channel: Channel = "counter",
        return_method: ReturnMethod = "counter",
    ) -> Row:
        """Receive a new dossier at the clock's now (the engine's ``receive_trusted``).

        Raises:
            UnknownProcedure, UnknownUnit, NotAllowedHere: As the engine.
        """
        engine = self.engine
        now = engine.now()
        intake = Intake.model_construct(
            procedure=procedure, competent_unit=competent_unit, intake_unit=intake_unit,
            channel=channel, return_method=return_method,
        )  # fmt: skip
        catalog, proc, rules, values = engine.intake_law(intake, "receive", now)
        row = {**EMPTY_ROW, **values}
        plan = plans.first(row, "receive", now, proc, rules, engine.calendar, catalog)
        dossier_id = self._next_id
        self._next_id += 1
        changes = {k: v for k, v in row.items() if k not in ("id", "version", "event_hash")}
        row["id"], row["version"] = dossier_id, 1
        self.rows[dossier_id] = row
        self.steps[dossier_id] = {}
        self._steps(dossier_id, plan)
        self.journals[dossier_id] = [
            (
                "receive", Status.NEW.value, changes, dict(plan.record), now, row["intake_unit"],
                plan.new_steps, plan.step_updates, self._state(row),
            )
            if self.events
            else None
        ]  # fmt: skip
        self.peak = max(self.peak, len(self.rows))
        return Row(row)

    def execute(
        self, command: str, dossier_id: int, arguments: Mapping[str, Any] | None = None
    ) -> Row:
        """Run ``command`` on a dossier at the clock's now (the engine's ``execute_trusted``:
        arguments built by onestop's own code, not validated).

        Raises:
            UnknownDossier: If the kernel holds no such dossier (or it was written).
            InvalidTransition: If the law refuses the command (nothing changes).
        """
        row = self._row(dossier_id)
        spec = plans.COMMANDS[command]
        args, recorded = self._arguments(command, spec, arguments or _NO_ARGS)
        catalog, proc, rules = self._law(row)
        now = self.engine.now()
        plan = plans.decide(spec, row, args, now, proc, rules, self.engine.calendar, catalog)
        before = row["status"]
        row.update(plan.set)
        row["version"] += 1
        self._steps(dossier_id, plan)
        self.journals[dossier_id].append(
            (
                spec.trigger or command, before, plan.set, {**recorded, **plan.record}, now,
                None, plan.new_steps, plan.step_updates, self._state(row),
            )
            if self.events
            else None
        )  # fmt: skip
        return Row(row)

    def get(self, dossier_id: int) -> Row:
        """The dossier as it stands.

        Raises:
            UnknownDossier: If the kernel holds no such dossier (or it was written).
        """
        return Row(self._row(dossier_id))

    def _row(self, dossier_id: int) -> dict[str, Any]:
        row = self.rows.get(dossier_id)
        if row is None:
            raise UnknownDossier(f"no dossier {dossier_id} in the kernel")
        return row

    def _law(self, row: Mapping[str, Any]) -> tuple[Catalog, Procedure, RuleSet]:
        # The rule set too: two dossiers of one procedure version may be under different ones.
        key = (row["unit_set"], row["procedure_code"], row["procedure_version"], row["rule_set"])
        found = self._procs.get(key)
        if found is None:
            catalog = self.engine.catalog_of(key[0])
            found = (
                catalog,
                catalog.get(key[1], version=key[2]),
                self.rules.named(row["rule_set"]),
            )
            self._procs[key] = found
        return found

    def _arguments(
        self, command: str, spec: plans.Command, arguments: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """The command's argument model and what the event records of it (made once per
        distinct arguments: the simulator repeats a few)."""
        key = (command, tuple(sorted(arguments.items())))
        found = self._args.get(key)
        if found is None:
            args = spec.arguments.model_construct(**arguments)
            found = self._args[key] = (args, args.model_dump())
        return found

    def _steps(self, dossier_id: int, plan: plans.Plan) -> None:
        steps = self.steps[dossier_id]
        for seq, values in plan.step_updates:
            steps[seq].update(values)
        for step in plan.new_steps:
            steps[step["seq"]] = {**EMPTY_STEP, **step, "dossier_id": dossier_id}

    @staticmethod
    def _state(row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "version": row["version"],
            "status": row["status"],
            "step_index": row["step_index"],
            "current_agency": row["current_agency"],
            "due_at": row["due_at"],
            "paused_at": row["paused_at"],
            "apologies": row["apologies"],
        }

    # -- writing ----------------------------------------------------------------------------------

    def _held(self, dossier_id: int) -> int | None:
        journal = self.journals.get(dossier_id)
        return None if journal is None else len(journal)

    def flush(self, *, everything: bool = False) -> None:
        """Seal the events of the retired dossiers (``everything``: of all dossiers held), write
        them with their rows and steps in one transaction, and drop them from memory.
        Dossiers count as written only once the write commits."""
        ids = list(self.rows) if everything else self._retired
        if not ids:
            return
        key = self.engine.recorder.key()
        rows: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for dossier_id in ids:
            row = self.rows.pop(dossier_id)
            head = None
            for entry in self.journals.pop(dossier_id):
                if entry is None:  # not recording events
                    continue
                trigger, before, changes, args, at, unit, new, updated, after = entry
                event = event_row(
                    after, head, trigger, before, changes, args, actor=None, at=at, unit=unit,
                    key=key, new_steps=new, step_updates=updated,
                )  # fmt: skip
                head = event["hash"]
                events.append(event_values(event, after))
            row["event_hash"] = head
            rows.append(row)
            steps.extend(self.steps.pop(dossier_id).values())
        self.store.bulk_write(rows, steps, events)
        self.written[0] += len(rows)
        self.written[1] += len(events)
        self._written()
