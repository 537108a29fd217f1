"""The Engine: every state change of a dossier goes through one of its commands.

A command validates its arguments, checks who acts, fires its trigger on the procedure's shared
state machine, runs its plan (:mod:`onestop.plans`, pure domain law) and writes the new row and
exactly one event in one unit of work of the store. The engine holds no SQL and no law of its
own: it is the pipeline validate → authorize → fire → plan → write.

Example:
    >>> from datetime import datetime
    >>> from onestop import Engine, ManualClock, VN_TZ
    >>> clock = ManualClock(datetime(2025, 1, 24, 9, 0, tzinfo=VN_TZ))
    >>> engine = Engine.open("sqlite://", "tests/fixtures/workflows", clock=clock, dev=True)
    >>> d = engine.receive("BIRTH", "W1")
    >>> d.status.value, d.due_at.isoformat()
    ('received', '2025-02-05T09:00:00+07:00')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Unpack

import structlog

from onestop import plans
from onestop.access import Actor, Forbidden, Policy
from onestop.arguments import (
    Channel,
    Intake,
    Meta,
    NewOptions,
    OpenQuery,
    Options,
    Reason,
    ReturnMethod,
    validated,
    validated_mapping,
)
from onestop.audit_key import AuditKey
from onestop.authority import VAULT_COMMANDS, Authority
from onestop.calendar import Calendar
from onestop.catalog import Catalog, Procedure
from onestop.clock import Clock, SystemClock, local_date
from onestop.commands import DossierCommands
from onestop.defaults import DEFAULT_URL, workflows_dir
from onestop.definitions import Definitions, UnitMapping
from onestop.dossier import Dossier, Event, Step
from onestop.errors import StaleVersion, UnknownUnit, ValidationError
from onestop.inputs import dossier_id as valid_id
from onestop.lifecycle import Lifecycle
from onestop.recorder import Change, EventRecorder
from onestop.rules import RuleBook, RuleSet
from onestop.store import EMPTY_ROW, Store, UnitOfWork, queries
from onestop.store.officers import has_directory
from onestop.timeline import Timeline
from onestop.transfers import Outcome, reorganise
from onestop.vault import VaultKey, load_vault_key

log = structlog.get_logger("onestop.engine")
#: The options of the trusted path: no actor, no expected version, no idempotency key.
_TRUSTED = Meta.model_construct()
_DEFAULTS: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class ReadContext:
    """A read of one dossier, authorized: its unit of work, reader, row, and whether the
    reader is its applicant."""

    uow: UnitOfWork
    actor: Actor | None
    row: dict[str, Any]
    owner: bool


class Engine(DossierCommands):
    """Runs the one-stop lifecycle of dossiers over a store.

    The commands on existing dossiers are listed in :class:`onestop.commands.DossierCommands`;
    each is a row of the command table :data:`onestop.plans.COMMANDS` run by :meth:`execute`.

    Args:
        store: Where dossiers and events live.
        catalog: Procedures and routes (with their unit set and lifecycles).
        calendar: Working days and office hours.
        clock: The source of time (default: the system clock).
        rules: Legal rule sets by date (default: :meth:`RuleBook.vietnam`).
        policy: Who may do what (default: none, every caller is trusted; with ``directory``,
            :class:`~onestop.access.OneStopPolicy`). Without a directory, a policy trusts the
            caller's :class:`~onestop.access.Actor`, which every command then needs.
        directory: Enforce the staff directory held in the store (:mod:`onestop.authority`):
            every command and query names its user, whose roles come from the directory at
            the command's instant; queries are filtered by what the user may see. Without it
            the engine is embedded in a host that does its own access control.
        vault_key: The personal-data vault's key (default: none; applicant data is then
            refused). See :mod:`onestop.vault`.
        timeline: The unit sets served in turn, chosen by the receipt day (default:
            ``catalog`` alone). A dossier keeps its unit set's catalog until transferred.
        audit_key: The key chaining new events (default: from ``ONESTOP_AUDIT_KEY`` or
            ``ONESTOP_AUDIT_KEY_FILE``). Commands refuse to run without one, unless ``dev``.
        dev: Development mode: without a key, events are chained with plain SHA-256, which
            anyone who can write to the database can recompute.

    The engine does not configure logging: it logs through structlog, whatever the host set up
    (see :func:`onestop.log.redact` for the personal-data processor to include).
    """

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        calendar: Calendar,
        clock: Clock | None = None,
        rules: RuleBook | None = None,
        policy: Policy | None = None,
        timeline: Timeline | None = None,
        *,
        directory: bool = False,
        vault_key: VaultKey | None = None,
        audit_key: AuditKey | None = None,
        dev: bool = False,
    ) -> None:
        self.store = store
        self.dev = dev
        #: Writes every event of this engine (and of its transfers and feedback desk).
        self.recorder = EventRecorder(store, audit_key, dev=dev)
        self.catalog = catalog
        self.units = catalog.units
        self.authority = Authority(policy, self.units, directory=directory, vault=vault_key)
        if vault_key is not None and vault_key.development:
            log.warning("vault.development_key", detail="personal data is not protected")
        self.policy = self.authority.policy
        self.calendar = calendar
        self.clock: Clock = clock or SystemClock()
        self.rules = rules or RuleBook.vietnam()
        self.timeline = timeline or Timeline.single(catalog)

    @classmethod
    def open(
        cls,
        url: str = DEFAULT_URL,
        workflows: str | Path | None = None,
        *,
        unit_set: str | None = None,
        clock: Clock | None = None,
        calendar: Calendar | None = None,
        rules: RuleBook | None = None,
        migrate: bool = True,
        policy: Policy | None = None,
        directory: bool | None = None,
        vault_key: VaultKey | None = None,
        serve: Sequence[str] = (),
        audit_key: AuditKey | None = None,
        dev: bool = False,
    ) -> Engine:
        """Load definitions, open (and migrate) the database, and return a ready engine.

        Args:
            url: Database URL (default: the SQLite file ``onestop-demo.db``).
            workflows: The definitions directory (default: the ones shipped with onestop).
            unit_set: Which unit set to run alone (default: the manifest's ``timeline``, each
                unit set chosen by the receipt day, else the directory's default).
            clock: Source of time (default: system clock).
            calendar: Working calendar (default: Vietnam 2015–2040 with the directory's
                overrides).
            rules: Legal rule sets (default: Vietnam's).
            migrate: Run schema migrations and store the definitions.
            policy: Access policy (default: none; with a directory, the one-stop policy).
            directory: Enforce the staff directory (see :class:`Engine`). Default: enforce it
                if the database holds one (``onestop staff-directory load``), so that once a
                directory is loaded every engine opened on the database enforces it.
                ``False`` is the explicit embedded mode.
            vault_key: The vault key (default: from ``ONESTOP_VAULT_KEY`` or
                ``ONESTOP_VAULT_KEY_FILE``, else none).
            serve: The unit sets to serve, oldest first (e.g. a mapping's two); overrides
                ``unit_set`` and the manifest's timeline.
            audit_key: The key chaining new events (default: from the environment).
            dev: Development mode (an unkeyed chain when there is no key).

        Raises:
            DefinitionError: If a definition file is invalid.
            VaultKeyError: If the environment names a malformed vault key.
            UnknownUnit: If ``serve`` names an unknown unit set.
        """
        defs = Definitions.load(workflows or workflows_dir(), unit_set)
        timeline = Timeline.of(defs, unit_set, serve)
        if calendar is None:
            calendar = Calendar.vietnam(overrides=defs.overrides)
        store = Store(url)
        if migrate:
            store.migrate()
            for catalog in timeline.catalogs:
                store.sync_definitions(catalog)
        if directory is None:
            with store.begin() as conn:
                directory = has_directory(conn)
        if vault_key is None:
            vault_key = load_vault_key()
        return cls(
            store, timeline.catalogs[0], calendar, clock, rules, policy, timeline,
            directory=directory, vault_key=vault_key, audit_key=audit_key, dev=dev,
        )  # fmt: skip

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run this thread's commands inside the block in one database transaction.

        For simulation and bulk loads. Each command still runs under a savepoint when it needs
        one, so a refused command changes nothing and the batch goes on; the events are inserted
        together when the batch ends (or before a read inside it).
        """
        with self.store.batch():
            yield

    def lifecycle(self, proc: Procedure, catalog: Catalog | None = None) -> Lifecycle:
        """The shared state machine of a procedure version (of ``catalog``, default the
        engine's first)."""
        return (catalog or self.catalog).lifecycle(proc)

    def catalog_of(self, unit_set: str) -> Catalog:
        """The catalog of a unit set this engine serves (a dossier's ``unit_set``).

        Raises:
            UnknownUnit: If the engine does not serve it.
        """
        if unit_set == self.catalog.units.name:
            return self.catalog
        return self.timeline.catalog(unit_set)

    # -- the pipeline ------------------------------------------------------------------------

    def now(self) -> datetime:
        """The engine clock's current instant.

        Raises:
            ValidationError: If the clock returns a naive datetime.
        """
        now = self.clock.now()
        if now.tzinfo is None:
            raise ValidationError("clock", "the clock returned a naive datetime")
        return now

    def intake_law(
        self, intake: Intake, trigger: str, now: datetime
    ) -> tuple[Catalog, Procedure, RuleSet, dict[str, Any]]:
        """The law a new dossier is received under at ``now``: the catalog receiving that day
        (its units checked open), the procedure version and rule set in force, and the row's
        intake columns (:func:`onestop.plans.intake_values`).

        Raises:
            UnknownProcedure, UnknownUnit, AbolishedUnit, NotAllowedHere, ValidationError.
        """
        day = local_date(now)
        catalog = self.timeline.receiving(day, intake.competent_unit, intake.intake_unit)
        proc = catalog.get(intake.procedure, at=day)
        rules = self.rules.in_force(day)
        return catalog, proc, rules, plans.intake_values(intake, trigger, proc, catalog, rules, now)

    def _create(self, trigger: str, meta: Meta, intake: Intake, args: dict[str, Any]) -> Dossier:
        gate = self.authority
        # A savepoint (inside a batch) only where the database can refuse: a claimed key, or a
        # reference another writer may take between the check and the insert.
        keyed = meta.idempotency_key is not None
        savepoint = keyed or intake.reference is not None
        with self.recorder.write(savepoint=savepoint, keyed=keyed) as uow:
            # Read once the write lock is held, so the log's times never go backwards.
            now = self.now()
            catalog, proc, rules, values = self.intake_law(intake, trigger, now)
            actor = gate.actor(uow, meta.actor, now)
            gate.check(actor, trigger, values, units=catalog.units)
            row = {**EMPTY_ROW, **values}
            plan = plans.first(row, trigger, now, proc, rules, self.calendar, catalog)
            # An applicant's own submission is theirs: their account goes on the vault row.
            own = None
            if actor is not None and actor.agency is None and "applicant" in actor.roles:
                own = actor.user_id
            applicant = gate.new_applicant(intake.applicant, own)
            scoped = None
            if meta.idempotency_key is not None:  # after authorization, scoped to the user
                scoped = gate.scoped_key(actor, meta.actor, trigger, None, meta.idempotency_key)
                digest = gate.args_digest({**intake.model_dump(), **args})
                prior = uow.replay_or_claim(scoped, trigger, now, digest)
                if prior is not None:
                    return Dossier.from_row(prior)
            if row["reference"] is not None and uow.reference_taken(row["reference"]):
                raise ValidationError("reference", f"{row['reference']!r} is already used")
            row["applicant_ref"] = None if applicant is None else applicant[0]
            changes = {k: v for k, v in row.items() if k not in ("id", "version", "event_hash")}
            row["id"] = uow.insert_dossier(changes)
            row["version"] = 1
            if applicant is not None:
                gate.insert_applicant(uow, applicant[1], row["id"], now)
            who = gate.recorded_actor(actor, meta.actor, row["applicant_ref"])
            change = Change(
                trigger, changes, {**args, **plan.record}, who, now, row["intake_unit"],
                new_steps=plan.new_steps, scoped=scoped, logged=meta is not _TRUSTED,
            )  # fmt: skip
            return self.recorder.record_new(uow, row, change)

    def execute(
        self,
        command: str,
        dossier_id: int,
        arguments: Mapping[str, Any] | None = None,
        **options: Unpack[Options],
    ) -> Dossier:
        """Run a command of :data:`onestop.plans.COMMANDS` on an existing dossier.

        Args:
            command: The command's name, e.g. ``complete_step``.
            dossier_id: The dossier.
            arguments: The command's own arguments (see its method).
            **options: ``actor``, ``expected_version``, ``idempotency_key``.

        Raises:
            ValidationError: Unknown command or bad argument (naming the field).
            UnknownDossier, StaleVersion, Forbidden, InvalidTransition: As their names say.
        """
        spec = plans.COMMANDS.get(command)
        if spec is None:
            raise ValidationError("command", f"unknown command {command!r}")
        meta = validated(Meta, **options)
        args = validated_mapping(spec.arguments, arguments)
        return self._execute(command, spec, valid_id(dossier_id), args, meta)

    def execute_trusted(
        self, command: str, dossier_id: int, arguments: Mapping[str, Any] | None = None
    ) -> Dossier:
        """The trusted path of :meth:`execute`, for arguments built by onestop's own code (the
        simulator): the same pipeline and law, without pydantic validation of the arguments,
        and with no actor, expected version or idempotency key, and no log line per command.
        Never for input from outside the process: a wrong argument here is not reported as a
        :class:`ValidationError`.

        Raises:
            UnknownDossier, InvalidTransition: As :meth:`execute`.
        """
        spec = plans.COMMANDS[command]
        if arguments:
            args = spec.arguments.model_construct(**arguments)
        else:  # frozen: the defaults are built once per command
            args = _DEFAULTS.get(command) or _DEFAULTS.setdefault(
                command, spec.arguments.model_construct()
            )
        return self._execute(command, spec, dossier_id, args, _TRUSTED)

    def _execute(
        self, command: str, spec: plans.Command, dossier_id: int, args: Any, meta: Meta
    ) -> Dossier:
        trigger = spec.trigger or command
        keyed = meta.idempotency_key is not None
        gate = self.authority
        # A vault command writes the vault before the dossier: a savepoint keeps a batch whole.
        savepoint = keyed or command in VAULT_COMMANDS
        with self.recorder.write(savepoint=savepoint, keyed=keyed) as uow:
            row = uow.load_dossier(dossier_id, lock=True)
            # Read once the dossier is locked, so its events' times never go backwards.
            now = self.now()
            actor = gate.actor(uow, meta.actor, now)
            owner = gate.owner(uow, actor, row)
            gate.see(uow, actor, row, owner)
            scoped = None
            if meta.idempotency_key is not None:
                # Checked once the user is known and may see the dossier, scoped to (user,
                # command, dossier): a retry after the command moved the dossier on (so that
                # the user may no longer run it) still gets its own first result.
                scoped = gate.scoped_key(
                    actor, meta.actor, command, dossier_id, meta.idempotency_key
                )
                digest = gate.args_digest(args.model_dump())
                prior = uow.replay_or_claim(scoped, trigger, now, digest, dossier_id)
                if prior is not None:
                    return Dossier.from_row(prior)
            if meta.expected_version is not None and row["version"] != meta.expected_version:
                raise StaleVersion(dossier_id, meta.expected_version, row["version"])
            catalog = self.catalog_of(row["unit_set"])
            marks = gate.check(actor, command, row, owner=owner, units=catalog.units)
            proc = catalog.get(row["procedure_code"], version=row["procedure_version"])
            rules = self.rules.named(row["rule_set"])
            plan = plans.decide(spec, row, args, now, proc, rules, self.calendar, catalog)
            changes = plan.set
            recorded = {**args.model_dump(), **plan.record, **marks}
            if command in VAULT_COMMANDS:  # the data goes to the vault, never to the event
                changes.update(gate.apply(uow, command, row, args, now))
                recorded = {**plan.record, **marks}
            who = gate.recorded_actor(actor, meta.actor, row["applicant_ref"])
            change = Change(
                trigger, changes, recorded, who, now, new_steps=plan.new_steps,
                step_updates=plan.step_updates, scoped=scoped, logged=meta is not _TRUSTED,
            )  # fmt: skip
            return self.recorder.record_change(uow, row, change)

    # -- commands: new dossiers ----------------------------------------------------------------

    def submit_online(
        self,
        procedure: str,
        competent_unit: str,
        *,
        return_method: str = "online",
        applicant: dict[str, Any] | None = None,
        reference: str | None = None,
        digitised: bool | None = None,
        reused_data: bool | None = None,
        **options: Unpack[NewOptions],
    ) -> Dossier:
        """Record an online submission (mới đăng ký), to be checked and received by the desk.
        Arguments as for :meth:`receive`.

        Raises:
            UnknownProcedure, UnknownUnit, NotAllowedHere, ValidationError.
        """
        intake = validated(
            Intake, procedure=procedure, competent_unit=competent_unit, channel="online",
            return_method=return_method, applicant=applicant, reference=reference,
            digitised=digitised, reused_data=reused_data,
        )  # fmt: skip
        return self._create("submit_online", validated(Meta, **options), intake, {})

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
        digitised: bool | None = None,
        reused_data: bool | None = None,
        **options: Unpack[NewOptions],
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
            digitised: Whether its components were digitised at intake (``None``: not recorded).
            reused_data: Whether digitised data already held was reused instead of asking the
                applicant again.
            **options: ``actor``, ``idempotency_key``.

        Raises:
            UnknownProcedure, UnknownUnit, NotAllowedHere, ValidationError.
        """
        intake = validated(
            Intake, procedure=procedure, competent_unit=competent_unit, intake_unit=intake_unit,
            channel=channel, return_method=return_method, applicant=applicant, reference=reference,
            digitised=digitised, reused_data=reused_data,
        )  # fmt: skip
        return self._create("receive", validated(Meta, **options), intake, {})

    def receive_trusted(
        self,
        procedure: str,
        competent_unit: str,
        *,
        intake_unit: str | None = None,
        channel: Channel = "counter",
        return_method: ReturnMethod = "counter",
    ) -> Dossier:
        """The trusted path of :meth:`receive` (see :meth:`execute_trusted`): codes and
        channels built by onestop's own code, not validated by pydantic; the intake law
        (competence, location independence) still applies.

        Raises:
            UnknownProcedure, UnknownUnit, NotAllowedHere: As :meth:`receive`.
        """
        intake = Intake.model_construct(
            procedure=procedure, competent_unit=competent_unit, intake_unit=intake_unit,
            channel=channel, return_method=return_method,
        )  # fmt: skip
        return self._create("receive", _TRUSTED, intake, {})

    def refuse_at_intake(
        self,
        procedure: str,
        competent_unit: str,
        reason: str,
        *,
        intake_unit: str | None = None,
        channel: str = "counter",
        applicant: dict[str, Any] | None = None,
        **options: Unpack[NewOptions],
    ) -> Dossier:
        """Refuse to receive a dossier at the counter (Form 03), keeping it in the ledger.

        Raises:
            UnknownProcedure, UnknownUnit, NotAllowedHere, ValidationError.
        """
        meta = validated(Meta, **options)
        why = validated(Reason, reason=reason)
        intake = validated(
            Intake, procedure=procedure, competent_unit=competent_unit, intake_unit=intake_unit,
            channel=channel, applicant=applicant,
        )  # fmt: skip
        return self._create("refuse", meta, intake, why.model_dump())

    # -- reorganisation ----------------------------------------------------------------------

    def reorganise(
        self,
        mapping: UnitMapping | str,
        at: datetime | None = None,
        *,
        dry_run: bool = False,
        actor: str = "reorganisation",
        progress: Callable[[int, int], None] | None = None,
    ) -> Outcome:
        """Transfer the open dossiers of a reorganised unit set to their successors
        (:func:`onestop.transfers.reorganise`): one ``transferred`` event each, appointments
        kept, unmapped dossiers listed; idempotent.

        Args:
            mapping: The mapping, or the name of one between two unit sets this engine serves.
            at: When it takes effect (default: now).
            dry_run: Only plan (``Outcome.plan``); write nothing.
            actor: Recorded on the events.
            progress: Called with ``(done, total)`` as dossiers are written.

        Raises:
            UnknownUnit: If the engine does not serve both unit sets, or no such mapping.
            ValidationError: If ``at`` is not an aware instant.
        """
        if isinstance(mapping, str):
            found = [m for m in self.timeline.mappings.values() if m.mapping == mapping]
            if not found:
                raise UnknownUnit(f"no mapping {mapping!r} between the unit sets served")
            mapping = found[0]
        moment = self.now() if at is None else at
        return reorganise(self, mapping, moment, dry_run=dry_run, actor=actor, progress=progress)

    # -- queries -----------------------------------------------------------------------------

    @contextmanager
    def _reading(self, dossier_id: int, actor: str | Actor | None) -> Iterator[ReadContext]:
        """Validate, open a read, resolve the user, load the row and authorize reading it."""
        dossier_id = valid_id(dossier_id)
        given = validated(Meta, actor=actor).actor
        now = self.now()
        with self.store.read() as uow:
            who = self.authority.actor(uow, given, now)
            row = uow.load_dossier(dossier_id)
            owner = self.authority.owner(uow, who, row)
            self.authority.see(uow, who, row, owner)
            yield ReadContext(uow, who, row, owner)

    def get(self, dossier_id: int, *, actor: str | Actor | None = None) -> Dossier:
        """The dossier as stored, with the applicant's data from the vault if ``actor``'s role
        may read it.

        Args:
            dossier_id: The dossier.
            actor: Who reads (required when the engine enforces a staff directory).

        Raises:
            UnknownDossier: If there is none.
            Forbidden: If the engine enforces a directory and ``actor`` may not see it.
            ValidationError: If ``dossier_id`` is not an id of the store.
        """
        with self._reading(dossier_id, actor) as c:
            return self.authority.view(c.uow, c.actor, c.row, c.owner)

    def history(self, dossier_id: int, *, actor: str | Actor | None = None) -> list[Event]:
        """The dossier's events, oldest first (they hold no personal data).

        Raises:
            UnknownDossier: If there is none.
            Forbidden: If the engine enforces a directory and ``actor`` may not see it.
            ValidationError: If ``dossier_id`` is not an id of the store.
        """
        with self._reading(dossier_id, actor) as c:
            return [Event.from_row(r) for r in queries.history(c.uow, c.row["id"])]

    def steps(self, dossier_id: int, *, actor: str | Actor | None = None) -> list[Step]:
        """The dossier's steps (Form 05): agency, start, due, hand-over, timeliness.

        Raises:
            UnknownDossier: If there is none.
            Forbidden: If the engine enforces a directory and ``actor`` may not see it.
            ValidationError: If ``dossier_id`` is not an id of the store.
        """
        with self._reading(dossier_id, actor) as c:
            return [Step.from_row(r) for r in queries.steps(c.uow, c.row["id"])]

    def find_by_id_number(self, id_number: str, *, actor: str | Actor | None = None) -> list[int]:
        """The dossiers (that ``actor`` may see) whose applicant has this citizen ID number,
        found through the vault's blind index, without decrypting anything. For a data
        subject's request under Decree 13/2023 (access, correction, erasure).

        Raises:
            ValidationError: If ``id_number`` is not a citizen ID number.
            VaultKeyError: If the engine has no vault key.
        """
        from onestop.arguments import Applicant
        from onestop.store.vault_rows import refs_by_id_index

        number = validated(Applicant, id_number=id_number).id_number
        assert number is not None
        index = self.authority.id_index(number)
        given = validated(Meta, actor=actor).actor
        now = self.now()
        found: list[int] = []
        with self.store.read() as uow:
            who = self.authority.actor(uow, given, now)
            for _ref, dossier_id in refs_by_id_index(uow, index):
                row = uow.load_dossier(dossier_id)
                owner = self.authority.owner(uow, who, row)
                try:
                    self.authority.see(uow, who, row, owner)
                except Forbidden:
                    continue
                found.append(dossier_id)
        return found

    def open_dossiers(
        self,
        *,
        actor: str | Actor | None = None,
        unit: str | None = None,
        agency: str | None = None,
        procedure: str | None = None,
        overdue_at: datetime | None = None,
        limit: int = 1000,
    ) -> list[Dossier]:
        """Open dossiers, optionally by competent unit, current agency, procedure, or overdue at
        a given time (:func:`onestop.timeliness.is_overdue`); by appointment date. With a
        staff directory, only those ``actor`` may see (and without personal data: read one
        with :meth:`get`).

        Raises:
            Forbidden: If the engine enforces a directory and names no ``actor``.
            UnknownUnit: If ``unit`` or ``agency`` does not exist.
            UnknownProcedure: If ``procedure`` does not exist.
            ValidationError: If a filter is malformed (naming it).
        """
        q = validated(
            OpenQuery, unit=unit, agency=agency, procedure=procedure, overdue_at=overdue_at,
            limit=limit,
        )  # fmt: skip
        unit, agency, procedure, overdue_at, limit = (
            q.unit, q.agency, q.procedure, q.overdue_at, q.limit,
        )  # fmt: skip
        served = [c.units for c in self.timeline.catalogs]
        if unit is not None and not any(u.has_unit(unit) for u in served):
            self.units.unit(unit)
        if agency is not None and not any(u.has_agency(agency) for u in served):
            self.units.agency(agency)
        if procedure is not None:
            self.catalog.get(procedure)
        given = validated(Meta, actor=actor).actor
        now = self.now()
        with self.store.read() as uow:
            visible = self.authority.visibility(self.authority.actor(uow, given, now))
            rows = queries.open_dossiers(
                uow, units=None if unit is None else [unit], agency=agency, procedure=procedure,
                overdue_at=overdue_at, limit=limit, visible=visible,
            )  # fmt: skip
        return [Dossier.from_row(r) for r in rows]
