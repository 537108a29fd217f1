"""The Engine: every state change of a dossier goes through one of its commands.

A command validates its arguments, checks the trigger on the procedure's shared state machine,
updates the dossier row (optimistic version check) and appends exactly one event, all in one
database transaction. Time comes from the injected clock, working-day arithmetic from the
calendar.

Example:
    >>> from datetime import datetime
    >>> from onestop import Engine, ManualClock, VN_TZ
    >>> clock = ManualClock(datetime(2025, 1, 24, 9, 0, tzinfo=VN_TZ))
    >>> engine = Engine.open("sqlite://", "tests/fixtures/workflows", clock=clock)
    >>> d = engine.receive("BIRTH", "W1")
    >>> d.status.value, d.due_at.isoformat()
    ('received', '2025-02-05T09:00:00+07:00')
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, select

from onestop.access import Actor, Forbidden, Policy
from onestop.audit import GENESIS, chain_hash
from onestop.calendar import Calendar
from onestop.catalog import Catalog, Procedure
from onestop.clock import Clock, SystemClock
from onestop.commands import (
    Apology,
    Dispatch,
    Intake,
    Meta,
    OptionalReason,
    Paid,
    Payment,
    Rating,
    Reason,
    Resolution,
    actor_id,
    validated,
)
from onestop.definitions import Definitions
from onestop.dossier import Dossier, Event
from onestop.errors import NotAllowedHere, StaleVersion, ValidationError
from onestop.lifecycle import OPEN_STATUSES, Facts, Lifecycle, Status
from onestop.log import configure as configure_logging
from onestop.rules import RuleBook, RuleSet
from onestop.store import EMPTY_ROW, Store, from_json, to_json
from onestop.store.schema import dossier_steps, dossiers, events
from onestop.timeliness import classify_resolution

log = structlog.get_logger("onestop.engine")


def _meta(actor: str | Actor | None, expected_version: int | None, key: str | None) -> Meta:
    """The arguments every command takes, validated."""
    return validated(Meta, actor=actor, expected_version=expected_version, idempotency_key=key)


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What a command's plan sees: its transaction, the dossier row, the time, the rules."""

    conn: Connection
    row: dict[str, Any]
    now: datetime
    status: Status
    proc: Procedure
    rules: RuleSet


#: A command's plan: given its context, the dossier columns to set.
Plan = Callable[[_Ctx], dict[str, Any]]


class Engine:
    """Runs the one-stop lifecycle of dossiers over a store.

    Args:
        store: Where dossiers and events live.
        catalog: Procedures and routes (with their unit set).
        calendar: Working days and office hours.
        clock: The source of time (default: the system clock).
        rules: Legal rule sets by date (default: :meth:`RuleBook.vietnam`).
        policy: Who may do what (default: none, every caller is trusted). With a policy every
            command needs an :class:`~onestop.access.Actor`.
    """

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        calendar: Calendar,
        clock: Clock | None = None,
        rules: RuleBook | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.catalog = catalog
        self.units = catalog.units
        self.calendar = calendar
        self.clock: Clock = clock or SystemClock()
        self.rules = rules or RuleBook.vietnam()
        self._local = threading.local()
        if not structlog.is_configured():
            # An embedding application that configured structlog keeps its own setup.
            configure_logging()
        # One machine per procedure version, built (and checked) now, shared by all dossiers.
        self._lifecycles = {p.key: Lifecycle(p) for p in catalog.all_versions()}

    @classmethod
    def open(
        cls,
        url: str = "sqlite:///onestop.db",
        workflows: str | Path = "workflows",
        *,
        unit_set: str | None = None,
        clock: Clock | None = None,
        calendar: Calendar | None = None,
        rules: RuleBook | None = None,
        migrate: bool = True,
        policy: Policy | None = None,
    ) -> Engine:
        """Load definitions, open (and migrate) the database, and return a ready engine.

        Args:
            url: Database URL (SQLite file by default).
            workflows: The definitions directory.
            unit_set: Which unit set to run (default: the directory's default).
            clock: Source of time (default: system clock).
            calendar: Working calendar (default: Vietnam 2015–2040 with the directory's
                overrides).
            rules: Legal rule sets (default: Vietnam's).
            migrate: Run schema migrations and store the definitions.
            policy: Access policy (default: none).
        """
        defs = Definitions.load(workflows, unit_set)
        catalog = defs.catalog
        if calendar is None:
            calendar = Calendar.vietnam(overrides=defs.overrides)
        store = Store(url)
        if migrate:
            store.migrate()
            store.sync_definitions(catalog)
        return cls(store, catalog, calendar, clock, rules, policy)

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run the commands of this thread inside the block in one database transaction.

        For simulation and bulk loads: events are written in one commit instead of one per
        command. Each command still runs under a savepoint, so a refused command changes
        nothing and the batch goes on. Reads inside the block see the batch's writes.

        Example:
            >>> with engine.batch():  # doctest: +SKIP
            ...     for _ in range(1000):
            ...         engine.receive("COPY", "W1")
        """
        if getattr(self._local, "conn", None) is not None:
            raise RuntimeError("batches do not nest")
        with self.store.begin() as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    @contextmanager
    def _write(self, savepoint: bool = True) -> Iterator[Connection]:
        """A command's transaction: its own, or inside a batch a savepoint.

        Args:
            savepoint: Inside a batch, whether the command needs a savepoint. Commands check
                their trigger and arguments before their first write, so only one that writes
                before it can be refused (an idempotency-key claim) or that can fail in the
                database (an insert) needs one; skipping it saves two statements per command.
        """
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.store.begin() as fresh:
                yield fresh
        elif savepoint:
            with conn.begin_nested():
                yield conn
        else:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.store.engine.connect() as fresh:
                yield fresh
        else:
            yield conn

    # -- helpers -----------------------------------------------------------------------------

    def lifecycle(self, proc: Procedure) -> Lifecycle:
        """The shared state machine of a procedure version."""
        return self._lifecycles[proc.key]

    def _now(self) -> datetime:
        now = self.clock.now()
        if now.tzinfo is None:
            raise ValidationError("clock", "the clock returned a naive datetime")
        return now

    def _due(self, proc: Procedure, start: datetime) -> datetime:
        if proc.time_unit == "calendar_days":
            return self.calendar.add_calendar_days(start, int(proc.statutory_days))
        return self.calendar.add_working_days(start, proc.statutory_days)

    def _facts(self, row: dict[str, Any], rules: RuleSet) -> Facts:
        return Facts(
            row["status"],
            row["step_index"],
            row["step_count"],
            row["paused_from"],
            row["return_method"] == "post",
            row["apologies"],
            rules.max_apologies,
            row["rating"] is not None,
        )

    def _after_cutoff(self, rules: RuleSet, now: datetime) -> bool:
        return (
            self.calendar.is_working_day(now.date())
            and now.timetz().replace(tzinfo=None) >= rules.cutoff
        )

    def _claim(self, conn: Connection, meta: Meta, command: str, now: datetime) -> Dossier | None:
        """Reserve the idempotency key; if it was used before, the first result."""
        if meta.idempotency_key is None:
            return None
        if self.store.claim_key(conn, meta.idempotency_key, command, now):
            return None
        prior = self.store.keyed_result(conn, meta.idempotency_key)
        if prior is None or prior["result"] is None:
            raise StaleVersion(0, 0, None)  # pragma: no cover - claimed by an aborted writer
        if prior["command"] != command:
            raise ValidationError(
                "idempotency_key",
                f"already used for a {prior['command']!r} command, not {command!r}",
            )
        return Dossier.from_row(from_json(prior["result"]))

    @staticmethod
    def _event(
        after: dict[str, Any],
        previous_hash: str | None,
        trigger: str,
        before: str,
        changes: dict[str, Any],
        meta: Meta,
        now: datetime,
        args: dict[str, Any],
        unit: str | None,
    ) -> dict[str, Any]:
        """The event row for a command, chained to the dossier's previous event."""
        event = {
            "dossier_id": after["id"],
            "seq": after["version"],
            "at": now,
            "trigger": trigger,
            "from_status": before,
            "to_status": after["status"],
            "step_index": after["step_index"],
            "agency": after["current_agency"],
            "unit": unit,
            "actor": actor_id(meta),
            "data": {"set": to_json(changes), "args": to_json(args)},
        }
        event["hash"] = chain_hash(previous_hash or GENESIS, event)
        return event

    def _record(
        self, conn: Connection, row: dict[str, Any], event: dict[str, Any], meta: Meta
    ) -> Dossier:
        """Append the event, store the idempotent result, log; ``row`` is the new state."""
        self.store.append_event(conn, event)
        trigger = event["trigger"]
        dossier = Dossier.from_row(row)
        if meta.idempotency_key is not None:
            self.store.finish_key(conn, meta.idempotency_key, row["id"], to_json(row))
        log.debug(
            "dossier.command",
            trigger=trigger,
            dossier_id=row["id"],
            procedure=row["procedure_code"],
            unit=row["competent_unit"],
            status=row["status"],
            version=row["version"],
        )
        return dossier

    def _start_step(
        self, steps: list[dict[str, Any]], proc: Procedure, competent: str, k: int, at: datetime
    ) -> dict[str, Any]:
        """Begin step ``k`` at ``at``: append its row to ``steps``, return the dossier columns."""
        step = proc.route.steps[k]
        agency = self.catalog.step_agency(proc, step, competent).code
        due = self.calendar.add_working_days(at, step.budget)
        steps.append(
            {
                "seq": k,
                "step_code": step.code,
                "agency": agency,
                "started_at": at,
                "due_at": due,
                "completed_at": None,
                "timeliness": None,
            }
        )
        return {"step_index": k, "current_agency": agency, "step_due_at": due}

    def _insert_steps(self, conn: Connection, dossier_id: int, steps: list[dict[str, Any]]) -> None:
        for step in steps:
            self.store.insert_step(conn, {**step, "dossier_id": dossier_id})

    def _finish_step(self, conn: Connection, row: dict[str, Any], now: datetime) -> None:
        judged = classify_resolution(now, row["step_due_at"], False).value
        self.store.update_step(
            conn, row["id"], row["step_index"], {"completed_at": now, "timeliness": judged}
        )

    def _shift_step(self, conn: Connection, row: dict[str, Any], due: datetime) -> None:
        self.store.update_step(conn, row["id"], row["step_index"], {"due_at": due})

    # -- commands: new dossiers ----------------------------------------------------------------

    def _intake(
        self, args: Intake, trigger: str, now: datetime
    ) -> tuple[Procedure, dict[str, Any]]:
        proc = self.catalog.get(args.procedure, at=now.date())
        units = self.units
        competent = units.unit(args.competent_unit)
        if competent.level != proc.level:
            raise ValidationError(
                "competent_unit",
                f"{competent.code!r} is a {competent.level} unit; {proc.code!r} is decided at "
                f"{proc.level} level",
            )
        intake = units.unit(args.intake_unit or competent.code)
        mode = "normal"
        if intake.code != competent.code:
            if not proc.location_independent:
                raise NotAllowedHere(
                    f"{proc.code!r} must be received at {competent.code!r}: it is not on the "
                    "location-independent list"
                )
            if proc.intake_levels is not None and intake.level not in proc.intake_levels:
                raise NotAllowedHere(
                    f"{proc.code!r} may be received location-independently only at "
                    f"{', '.join(proc.intake_levels)} level, not at {intake.level!r}"
                )
            mode = "location_independent"
        if args.channel == "online" and proc.online == "none":
            raise NotAllowedHere(f"{proc.code!r} is not offered online")
        if args.channel == "postal" or args.return_method == "post":
            if not proc.postal:
                raise NotAllowedHere(f"{proc.code!r} is not offered through the postal service")
            if args.channel == "postal":
                mode = "postal" if mode == "normal" else mode
        if trigger == "submit_online" and args.channel != "online":
            raise ValidationError("channel", "an online submission has channel 'online'")
        applicant = args.applicant
        rules = self.rules.in_force(now.date())
        return proc, {
            "reference": args.reference,
            "unit_set": units.name,
            "rule_set": rules.name,
            "procedure_code": proc.code,
            "procedure_version": proc.version,
            "field": proc.field,
            "level": proc.level,
            "competent_unit": competent.code,
            "intake_unit": intake.code,
            "intake_mode": mode,
            "channel": args.channel,
            "return_method": args.return_method,
            "applicant_name": applicant.name if applicant else None,
            "applicant_id_number": applicant.id_number if applicant else None,
            "applicant_phone": applicant.phone if applicant else None,
            "step_index": 0,
            "step_count": len(proc.route.steps),
            "current_agency": None,
            "apologies": 0,
            "created_at": now,
            "updated_at": now,
        }

    def _receipt(
        self,
        steps: list[dict[str, Any]],
        proc: Procedure,
        competent: str,
        rules: RuleSet,
        now: datetime,
    ) -> dict[str, Any]:
        """Columns set by receipt: appointment date and first step (appended to ``steps``)."""
        start = self.calendar.next_opening(now)
        if proc.statutory_days <= rules.next_day_threshold_days and self._after_cutoff(rules, now):
            start = self.calendar.next_opening(self.calendar.end_of_day(now))
        due = self._due(proc, start)
        changes = {
            "received_at": now,
            "received_on": now.date(),
            "due_at": due,
            "original_due_at": due,
        }
        changes.update(self._start_step(steps, proc, competent, 0, start))
        return changes

    def _authorize(self, meta: Meta, command: str, dossier: dict[str, Any]) -> None:
        """Apply the access policy; a denial is logged and raised before anything is written."""
        if self.policy is None:
            return
        actor = meta.actor
        try:
            if not isinstance(actor, Actor):
                raise Forbidden(f"{command}: this engine requires an Actor for every command")
            self.policy.check(actor, command, dossier, self.units)
        except Forbidden as exc:
            log.warning(
                "dossier.forbidden",
                command=command,
                user=actor_id(meta),
                dossier_id=dossier.get("id"),
                reason=str(exc),
            )
            raise

    def _create(self, trigger: str, meta: Meta, intake: Intake, args: dict[str, Any]) -> Dossier:
        now = self._now()
        proc, values = self._intake(intake, trigger, now)
        self._authorize(meta, trigger, values)
        rules = self.rules.named(values["rule_set"])
        status = self.lifecycle(proc).fire(
            trigger, Facts(Status.NEW.value, steps=len(proc.route.steps))
        )
        values.update(status=status.value, status_code=status.portal_code)
        if status is Status.SUBMITTED:
            values["submitted_at"] = now
        if status is Status.REFUSED:
            values["closed_at"] = now
        with self._write() as conn:
            prior = self._claim(conn, meta, trigger, now)
            if prior is not None:
                return prior
            row = {**EMPTY_ROW, **values}
            steps: list[dict[str, Any]] = []
            if status is Status.RECEIVED:
                row.update(self._receipt(steps, proc, values["competent_unit"], rules, now))
            changes = {k: v for k, v in row.items() if k not in ("id", "version", "event_hash")}
            if changes["reference"] is not None and self.store.reference_taken(
                conn, changes["reference"]
            ):
                raise ValidationError("reference", f"{changes['reference']!r} is already used")
            row["id"] = self.store.insert_dossier(conn, changes)
            row["version"] = 1
            self._insert_steps(conn, row["id"], steps)
            event = self._event(
                row, None, trigger, Status.NEW.value, changes, meta, now, args, row["intake_unit"]
            )
            # The first event's hash needs the new id: the head is set after the insert.
            self.store.set_event_hash(conn, row["id"], event["hash"])
            row["event_hash"] = event["hash"]
            return self._record(conn, row, event, meta)

    def submit_online(
        self,
        procedure: str,
        competent_unit: str,
        *,
        return_method: str = "online",
        applicant: dict[str, Any] | None = None,
        reference: str | None = None,
        actor: str | Actor | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Record an online submission (mới đăng ký), to be checked and received by the desk.

        Raises:
            UnknownProcedure, UnknownUnit, NotAllowedHere, ValidationError.
        """
        meta = _meta(actor, None, idempotency_key)
        intake = validated(
            Intake,
            procedure=procedure,
            competent_unit=competent_unit,
            channel="online",
            return_method=return_method,
            applicant=applicant,
            reference=reference,
        )
        return self._create("submit_online", meta, intake, {})

    def receive(
        self,
        procedure: str,
        competent_unit: str,
        *,
        intake_unit: str | None = None,
        channel: str = "counter",
        return_method: str = "counter",
        applicant: dict[str, Any] | None = None,
        reference: str | None = None,
        actor: str | Actor | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Receive a complete dossier (Form 01) and set its appointment date.

        Args:
            procedure: Procedure code.
            competent_unit: The unit whose authority decides it (at the procedure's level).
            intake_unit: Where it is received (default: the competent unit). Another unit only
                for location-independent procedures, at an allowed level.
            channel: ``counter``, ``online`` or ``postal``.
            return_method: ``counter``, ``online`` or ``post``.
            applicant: ``name``, ``id_number``, ``phone`` (personal data, never logged).
            reference: The caller's own unique reference (e.g. the portal's dossier code).
            actor: Who receives it.
            idempotency_key: Makes a retried call return the first result.

        Raises:
            UnknownProcedure, UnknownUnit, NotAllowedHere, ValidationError.
        """
        meta = _meta(actor, None, idempotency_key)
        intake = validated(
            Intake,
            procedure=procedure,
            competent_unit=competent_unit,
            intake_unit=intake_unit,
            channel=channel,
            return_method=return_method,
            applicant=applicant,
            reference=reference,
        )
        return self._create("receive", meta, intake, {})

    def refuse_at_intake(
        self,
        procedure: str,
        competent_unit: str,
        reason: str,
        *,
        intake_unit: str | None = None,
        channel: str = "counter",
        applicant: dict[str, Any] | None = None,
        actor: str | Actor | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Refuse to receive a dossier at the counter (Form 03), keeping it in the ledger."""
        meta = _meta(actor, None, idempotency_key)
        why = validated(Reason, reason=reason)
        intake = validated(
            Intake,
            procedure=procedure,
            competent_unit=competent_unit,
            intake_unit=intake_unit,
            channel=channel,
            applicant=applicant,
        )
        return self._create("refuse", meta, intake, why.model_dump())

    # -- commands: existing dossiers -----------------------------------------------------------

    def _run(
        self,
        trigger: str,
        dossier_id: int,
        meta: Meta,
        plan: Plan,
        args: dict[str, Any] | None = None,
        command: str | None = None,
    ) -> Dossier:
        if not isinstance(dossier_id, int) or isinstance(dossier_id, bool):
            raise ValidationError("dossier_id", "must be an integer")
        now = self._now()
        with self._write(savepoint=meta.idempotency_key is not None) as conn:
            prior = self._claim(conn, meta, trigger, now)
            if prior is not None:
                return prior
            row = self.store.load_dossier(conn, dossier_id, lock=True)
            if meta.expected_version is not None and row["version"] != meta.expected_version:
                raise StaleVersion(dossier_id, meta.expected_version, row["version"])
            self._authorize(meta, command or trigger, row)
            proc = self.catalog.get(row["procedure_code"], version=row["procedure_version"])
            rules = self.rules.named(row["rule_set"])
            before = row["status"]
            status = self.lifecycle(proc).fire(trigger, self._facts(row, rules))
            changes = plan(_Ctx(conn, row, now, status, proc, rules))
            if status.value != before:
                changes.update(status=status.value, status_code=status.portal_code)
            changes["updated_at"] = now
            after = {**row, **changes, "version": row["version"] + 1}
            event = self._event(
                after, row["event_hash"], trigger, before, changes, meta, now, args or {}, None
            )
            # The chain head moves in the same version-checked UPDATE as the other columns.
            self.store.update_dossier(
                conn, dossier_id, row["version"], {**changes, "event_hash": event["hash"]}
            )
            after["event_hash"] = event["hash"]
            return self._record(conn, after, event, meta)

    def receive_submitted(
        self,
        dossier_id: int,
        *,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Receive an online submission after checking it; sets the appointment date."""
        meta = _meta(actor, expected_version, idempotency_key)

        def plan(c: _Ctx) -> dict[str, Any]:
            steps: list[dict[str, Any]] = []
            changes = self._receipt(steps, c.proc, c.row["competent_unit"], c.rules, c.now)
            self._insert_steps(c.conn, c.row["id"], steps)
            return changes

        return self._run("receive", dossier_id, meta, plan, command="receive_submitted")

    def refuse(
        self,
        dossier_id: int,
        reason: str,
        *,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Refuse an online submission (Form 03): not eligible or not competent."""
        meta = _meta(actor, expected_version, idempotency_key)
        why = validated(Reason, reason=reason)
        return self._run("refuse", dossier_id, meta, self._close, why.model_dump())

    @staticmethod
    def _close(c: _Ctx) -> dict[str, Any]:
        return {"closed_at": c.now, "step_due_at": None}

    def complete_step(
        self,
        dossier_id: int,
        *,
        note: str | None = None,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Hand the dossier over to the next step's agency (a line of Form 05).

        A hand-over from the desk after the cut-off time (15:00) starts the next step at the
        next working day's opening.
        """
        meta = _meta(actor, expected_version, idempotency_key)
        text = validated(OptionalReason, reason=note)

        def plan(c: _Ctx) -> dict[str, Any]:
            row, now = c.row, c.now
            self._finish_step(c.conn, row, now)
            start = now
            current = c.proc.route.steps[row["step_index"]]
            if current.role == "desk" and self._after_cutoff(c.rules, now):
                start = self.calendar.next_opening(self.calendar.end_of_day(now))
            steps: list[dict[str, Any]] = []
            changes = self._start_step(
                steps, c.proc, row["competent_unit"], row["step_index"] + 1, start
            )
            self._insert_steps(c.conn, row["id"], steps)
            return changes

        return self._run("complete_step", dossier_id, meta, plan, text.model_dump())

    forward = complete_step

    def _pause(self, trigger: str, dossier_id: int, meta: Meta, args: dict[str, Any]) -> Dossier:
        def plan(c: _Ctx) -> dict[str, Any]:
            return {"paused_from": c.row["status"], "paused_at": c.now}

        return self._run(trigger, dossier_id, meta, plan, args)

    def _unpause(self, c: _Ctx, trigger: str, counts: bool) -> dict[str, Any]:
        """Columns to set when processing resumes after a pause.

        Args:
            c: The command context.
            trigger: ``supplement``, ``pay`` or ``resume``.
            counts: Whether the paused time is excluded from the time limits.
        """
        row, now, proc = c.row, c.now, c.proc
        changes: dict[str, Any] = {"paused_from": None, "paused_at": None}
        if trigger == "supplement" and proc.supplement_rule == "restart":
            step = proc.route.steps[row["step_index"]]
            due = self._due(proc, now)
            step_due = self.calendar.add_working_days(now, step.budget)
            changes.update(due_at=due, original_due_at=due, step_due_at=step_due)
        elif counts:
            paused = max(0.0, self.calendar.working_days_between(row["paused_at"], now))
            if paused > 0:
                for key in ("due_at", "original_due_at", "step_due_at"):
                    changes[key] = self.calendar.add_working_days(row[key], paused)
        if "step_due_at" in changes:
            self._shift_step(c.conn, row, changes["step_due_at"])
        return changes

    def request_supplement(
        self,
        dossier_id: int,
        reason: str,
        *,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Ask the applicant to supplement the dossier (Form 02); the clock pauses."""
        meta = _meta(actor, expected_version, idempotency_key)
        return self._pause(
            "request_supplement", dossier_id, meta, validated(Reason, reason=reason).model_dump()
        )

    def supplement(
        self,
        dossier_id: int,
        *,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """The applicant supplied what was missing; processing resumes.

        Under the procedure's ``pause`` rule the appointment date moves by the working time spent
        waiting; under ``restart`` the full statutory time counts again from now.
        """
        meta = _meta(actor, expected_version, idempotency_key)
        return self._run(
            "supplement", dossier_id, meta, lambda c: self._unpause(c, "supplement", True)
        )

    def request_payment(
        self,
        dossier_id: int,
        amount_vnd: int,
        *,
        reason: str | None = None,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Ask the applicant to pay fees or taxes; the clock pauses (rule set permitting)."""
        meta = _meta(actor, expected_version, idempotency_key)
        args = validated(Payment, amount_vnd=amount_vnd, reason=reason).model_dump()
        return self._pause("request_payment", dossier_id, meta, args)

    def pay(
        self,
        dossier_id: int,
        *,
        online: bool = False,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """The applicant paid (online or not); processing resumes."""
        meta = _meta(actor, expected_version, idempotency_key)
        paid = validated(Paid, online=online)

        def plan(c: _Ctx) -> dict[str, Any]:
            changes = self._unpause(c, "pay", c.rules.payment_pauses_clock)
            changes["fee_paid_online"] = paid.online
            return changes

        return self._run("pay", dossier_id, meta, plan, paid.model_dump())

    def suspend(
        self,
        dossier_id: int,
        reason: str,
        *,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Stop processing (dừng xử lý); the clock pauses until :meth:`resume` or withdrawal."""
        meta = _meta(actor, expected_version, idempotency_key)
        return self._pause(
            "suspend", dossier_id, meta, validated(Reason, reason=reason).model_dump()
        )

    def resume(
        self,
        dossier_id: int,
        *,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Resume a suspended dossier; the suspended time does not count."""
        meta = _meta(actor, expected_version, idempotency_key)
        return self._run("resume", dossier_id, meta, lambda c: self._unpause(c, "resume", True))

    def withdraw(
        self,
        dossier_id: int,
        *,
        reason: str | None = None,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Withdraw at the applicant's request; ends the dossier without a result."""
        meta = _meta(actor, expected_version, idempotency_key)
        args = validated(OptionalReason, reason=reason).model_dump()
        return self._run("withdraw", dossier_id, meta, self._close, args)

    def resolve(
        self,
        dossier_id: int,
        *,
        outcome: str = "approved",
        note: str | None = None,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """The result is ready (approved or denied); timeliness is judged now."""
        meta = _meta(actor, expected_version, idempotency_key)
        res = validated(Resolution, outcome=outcome, note=note)

        def plan(c: _Ctx) -> dict[str, Any]:
            row, now = c.row, c.now
            self._finish_step(c.conn, row, now)
            judged = classify_resolution(now, row["due_at"], row["apologies"] > 0)
            return {
                "resolved_at": now,
                "resolved_on": now.date(),
                "outcome": res.outcome,
                "timeliness": judged.value,
                "step_due_at": None,
            }

        return self._run("resolve", dossier_id, meta, plan, res.model_dump())

    def apologise(
        self,
        dossier_id: int,
        new_due: datetime,
        reason: str,
        *,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Issue an apology letter (Form 04) with a new appointment date.

        The dossier still counts as late. The event records whether the letter was issued at
        least the rule set's lead time (1 working day) before the appointment.

        Raises:
            ValidationError: If ``new_due`` is naive, in the past, or not after the current one.
            InvalidTransition: If the rules allow no further reset, or the dossier is not open.
        """
        meta = _meta(actor, expected_version, idempotency_key)
        apology = validated(Apology, new_due=new_due, reason=reason)
        new = apology.new_due
        args: dict[str, Any] = {"new_due": new, "reason": apology.reason}

        def plan(c: _Ctx) -> dict[str, Any]:
            row, now = c.row, c.now
            if new <= now:
                raise ValidationError("new_due", f"{new.isoformat()} is in the past")
            if new <= row["due_at"]:
                raise ValidationError(
                    "new_due", f"must be after the current appointment {row['due_at'].isoformat()}"
                )
            # Form 04 is due a working day before the appointment: record whether it was.
            lead = self.calendar.working_days_between(now, row["due_at"])
            args["notice_in_time"] = lead >= c.rules.apology_lead_days
            return {"due_at": new, "apologies": row["apologies"] + 1}

        return self._run("apologise", dossier_id, meta, plan, args)

    def dispatch_post(
        self,
        dossier_id: int,
        *,
        tracking: str | None = None,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Hand the result to the postal service (public postal service, Decision 45/2016)."""
        meta = _meta(actor, expected_version, idempotency_key)
        args = validated(Dispatch, tracking=tracking).model_dump()

        def plan(c: _Ctx) -> dict[str, Any]:
            return {"dispatched_at": c.now}

        return self._run("dispatch_post", dossier_id, meta, plan, args)

    def return_result(
        self,
        dossier_id: int,
        *,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """The applicant has the result (at the desk, online, or delivered by post)."""
        meta = _meta(actor, expected_version, idempotency_key)

        def plan(c: _Ctx) -> dict[str, Any]:
            return {"returned_at": c.now, "closed_at": c.now}

        return self._run("return_result", dossier_id, meta, plan)

    def rate(
        self,
        dossier_id: int,
        score: int,
        *,
        actor: str | Actor | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Dossier:
        """Record the applicant's satisfaction rating (1–5), once, after return."""
        meta = _meta(actor, expected_version, idempotency_key)
        rating = validated(Rating, score=score)

        def plan(c: _Ctx) -> dict[str, Any]:
            return {"rating": rating.score}

        return self._run("rate", dossier_id, meta, plan, rating.model_dump())

    # -- queries -----------------------------------------------------------------------------

    def get(self, dossier_id: int) -> Dossier:
        """The dossier as stored.

        Raises:
            UnknownDossier: If there is none.
        """
        with self._read() as conn:
            return Dossier.from_row(self.store.load_dossier(conn, dossier_id))

    def history(self, dossier_id: int) -> list[Event]:
        """The dossier's events, oldest first."""
        with self._read() as conn:
            self.store.load_dossier(conn, dossier_id)
            rows = conn.execute(
                select(events).where(events.c.dossier_id == dossier_id).order_by(events.c.seq)
            ).mappings()
            return [Event.from_row(dict(r)) for r in rows]

    def steps(self, dossier_id: int) -> list[dict[str, Any]]:
        """The dossier's steps (Form 05): agency, start, due, completion, timeliness."""
        with self._read() as conn:
            rows = conn.execute(
                select(dossier_steps)
                .where(dossier_steps.c.dossier_id == dossier_id)
                .order_by(dossier_steps.c.seq)
            ).mappings()
            return [dict(r) for r in rows]

    def open_dossiers(
        self,
        *,
        unit: str | None = None,
        agency: str | None = None,
        procedure: str | None = None,
        overdue_at: datetime | None = None,
        limit: int = 1000,
    ) -> list[Dossier]:
        """Open dossiers, optionally filtered by competent unit, current agency, procedure, or
        overdue at a given time; ordered by appointment date.

        Raises:
            UnknownUnit: If ``unit`` or ``agency`` does not exist.
        """
        query = select(dossiers).where(dossiers.c.status.in_([s.value for s in OPEN_STATUSES]))
        if unit is not None:
            self.units.unit(unit)
            query = query.where(dossiers.c.competent_unit == unit)
        if agency is not None:
            self.units.agency(agency)
            query = query.where(dossiers.c.current_agency == agency)
        if procedure is not None:
            self.catalog.get(procedure)
            query = query.where(dossiers.c.procedure_code == procedure)
        if overdue_at is not None:
            query = query.where(dossiers.c.due_at < overdue_at)
        query = query.order_by(dossiers.c.due_at, dossiers.c.id).limit(limit)
        with self._read() as conn:
            return [Dossier.from_row(dict(r)) for r in conn.execute(query).mappings()]
