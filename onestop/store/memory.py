"""An in-memory store behind the engine's store interface, written to a database in bulk.

The simulator runs the real engine (lifecycle, calendar, deadline law, hash chain) thousands of
times faster without a SQL round trip per command: :class:`MemoryStore` hands out the same units
of work as :class:`onestop.store.Store` (``write``, ``read``, ``batch``), keeps the open
dossiers' rows, steps and events in dictionaries, and writes them to a real store in large
multi-row inserts. A dossier the caller :meth:`~MemoryStore.retire`\\ s (closed: nothing more
will happen to it) leaves memory at the next flush, so memory stays flat in the number of
closed dossiers. The rows and events written are exactly those the engine made (the event
hashes are the engine's, from :func:`onestop.store.event_log.event_row`), so ``onestop verify``
and the reports read them as any other.

Idempotency keys are refused (the simulator uses none). Reads of rows no longer held, and SQL
reads (history, steps, reports), go to the target store, which holds what was flushed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from onestop.errors import StaleVersion, UnknownDossier, ValidationError
from onestop.status import Status
from onestop.store import Store
from onestop.store.codec import local_datetimes
from onestop.store.unit_of_work import EMPTY_ROW, EMPTY_STEP, UnitOfWork, event_values

#: A flush writes the retired dossiers once their events reach this many.
FLUSH_EVENTS = 50_000


class BulkHolder:
    """What the simulator's in-memory holders (:class:`MemoryStore` and the simulator's
    kernel) share: batches that write everything held when the outermost one ends, and
    dossiers retired once closed, written in bulk when enough of their events wait.

    Subclasses call :meth:`_hold` in their constructor and give :meth:`_held` and
    :meth:`flush`.
    """

    flush_events: int
    _retired: list[int]
    _retired_events: int
    _batches: int

    def _hold(self, flush_events: int) -> None:
        self.flush_events = flush_events
        self._retired = []
        self._retired_events = 0
        self._batches = 0

    def _held(self, dossier_id: int) -> int | None:
        """The events (commands) held for a dossier; ``None`` if it is not held."""
        raise NotImplementedError

    def flush(self, *, everything: bool = False) -> None:
        """Write the retired dossiers (``everything``: all dossiers held) and drop them."""
        raise NotImplementedError

    @property
    def in_batch(self) -> bool:
        """Whether a :meth:`batch` is open (a nested one is part of it)."""
        return self._batches > 0

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commands inside the block are kept in memory; at the end of the outermost block
        every dossier still held, open or not, is written to the target."""
        self._batches += 1
        try:
            yield
        finally:
            self._batches -= 1
        if not self._batches:
            self.flush(everything=True)

    def retire(self, dossier_id: int) -> None:
        """Nothing more will happen to this dossier: write it with the next flush and drop it
        from memory (it is then unknown here). Flushes when enough events wait. A dossier
        already written (the end of a run writes every dossier) is left alone."""
        held = self._held(dossier_id)
        if held is None:
            return
        self._retired.append(dossier_id)
        self._retired_events += held
        if self._retired_events >= self.flush_events:
            self.flush()

    def _written(self) -> None:
        """Forget the retired dossiers: the flush wrote them."""
        self._retired = []
        self._retired_events = 0


class MemoryUnitOfWork(UnitOfWork):
    """The row operations of :class:`~onestop.store.UnitOfWork`, on a :class:`MemoryStore`.

    Writes wait in the unit of work and are applied when it ends without an exception, so a
    refused command changes nothing, as a rolled-back transaction. A reading unit of work
    (:meth:`MemoryStore.read`) also reaches the target's database, opened on first use, for
    SQL reads (reports, history) and for rows already flushed.
    """

    __slots__ = ("_open_sql", "_ops", "_sql", "store")

    def __init__(
        self, store: MemoryStore, open_sql: Callable[[], UnitOfWork] | None = None
    ) -> None:
        # Not UnitOfWork.__init__: no connection, cursor or prepared statements to set up
        # (one of these is made per command).
        self._conn = None
        self.batch = None
        self.store = store
        self._ops: list[tuple[str, Any, Any]] = []
        self._open_sql = open_sql
        self._sql: UnitOfWork | None = None

    def _target(self) -> UnitOfWork:
        if self._open_sql is None:
            raise RuntimeError("a command's unit of work in memory has no SQL connection")
        if self._sql is None:
            self._sql = self._open_sql()
        return self._sql

    @property
    def conn(self) -> Connection:
        """The target's connection (reading units of work only).

        Raises:
            RuntimeError: In a command's unit of work.
        """
        return self._target().conn

    def load_dossier(self, dossier_id: int, *, lock: bool = False) -> dict[str, Any]:
        """The dossier row as a dict.

        Raises:
            UnknownDossier: If this store holds none (never created, or retired and flushed).
        """
        row = self.store.rows.get(dossier_id)
        if row is not None:
            return dict(row)
        if self._open_sql is not None and not lock:  # a read: flushed rows are in the target
            return self._target().load_dossier(dossier_id)
        raise UnknownDossier(f"no dossier {dossier_id} in memory")

    def open_of_unit_set(self, unit_set: str) -> list[dict[str, Any]]:
        """Every open dossier row of ``unit_set``, by id: those held here (the open ones are
        all here: only closed dossiers are retired), and any the target holds that are not."""
        held = self.store.rows
        rows = [
            dict(row)
            for row in held.values()
            if row["unit_set"] == unit_set and Status(row["status"]).is_open
        ]
        if self._open_sql is not None:
            rows += [r for r in self._target().open_of_unit_set(unit_set) if r["id"] not in held]
        return sorted(rows, key=lambda row: int(row["id"]))

    def replay_or_claim(
        self,
        key: str | None,
        command: str,
        now: datetime,
        args_digest: str | None = None,
        dossier_id: int | None = None,
    ) -> dict[str, Any] | None:
        """No idempotency keys here (:meth:`MemoryStore.write` refuses keyed work)."""
        return None

    def reference_taken(self, reference: str) -> bool:
        """Whether a dossier of this store or of the target already carries ``reference``."""
        return self.store.reference_taken(reference)

    def insert_dossier(self, values: Mapping[str, Any]) -> int:
        """Take the next id for a new dossier at version 1 (written when the work ends)."""
        dossier_id = self.store.take_id()
        self._ops.append(("dossier", dossier_id, local_datetimes(values)))
        return dossier_id

    def update_dossier(self, dossier_id: int, version: int, values: Mapping[str, Any]) -> None:
        """Apply ``values`` and bump the version (when the work ends).

        Raises:
            StaleVersion: If the dossier is no longer at ``version``.
        """
        current = self.store.rows[dossier_id]["version"]
        if current != version:
            raise StaleVersion(dossier_id, version, current)
        self._ops.append(("update", dossier_id, local_datetimes(values)))

    def set_event_hash(self, dossier_id: int, value: str) -> None:
        """Move a new dossier's chain head."""
        self._ops.append(("head", dossier_id, value))

    def insert_step(self, dossier_id: int, values: Mapping[str, Any]) -> None:
        """Add one dossier step row."""
        self._ops.append(("step", dossier_id, local_datetimes(values)))

    def update_step(self, dossier_id: int, seq: int, values: Mapping[str, Any]) -> None:
        """Update one dossier step row."""
        self._ops.append(("step_update", dossier_id, (seq, local_datetimes(values))))

    def append_event(self, event: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """Append one event row, with the dossier's deadline after it (as the SQL store)."""
        self._ops.append(("event", event["dossier_id"], event_values(event, after)))

    def remember(self, row: Mapping[str, Any]) -> None:
        """Nothing to do: the store's rows are the dossiers' current state."""

    def finish_key(self, key: str, dossier_id: int, result: Mapping[str, Any]) -> None:
        """Never called: keyed work is refused."""
        raise ValidationError("idempotency_key", "the in-memory store takes no idempotency keys")

    def commit(self) -> None:
        """Apply the waiting writes to the store."""
        store = self.store
        for kind, dossier_id, values in self._ops:
            if kind == "update":
                row = store.rows[dossier_id]
                row.update(values)
                row["version"] += 1
            elif kind == "head":
                store.rows[dossier_id]["event_hash"] = values
            elif kind == "event":
                store.events[dossier_id].append(values)
            elif kind == "step":
                store.steps[dossier_id][values["seq"]] = {
                    **EMPTY_STEP,
                    **values,
                    "dossier_id": dossier_id,
                }
            elif kind == "step_update":
                seq, changes = values
                store.steps[dossier_id][seq].update(changes)
            else:  # a new dossier
                store.rows[dossier_id] = {**EMPTY_ROW, **values, "id": dossier_id, "version": 1}
                store.steps[dossier_id] = {}
                store.events[dossier_id] = []
                if values.get("reference") is not None:
                    store.references.add(values["reference"])
        self._ops.clear()


class MemoryStore(BulkHolder, Store):
    """Dossiers in memory behind the store interface, flushed in bulk to ``target``.

    A :class:`~onestop.store.Store` whose command units of work (``write``, ``read`` of a
    dossier row, ``batch``) are kept in memory; everything else (``begin``, reports, audit)
    runs on the target's database, which holds what was flushed.

    Args:
        target: The database the rows and events are written to (migrated, definitions
            synced). New ids continue after its largest dossier id.
        flush_events: Retired dossiers are written once they hold this many events.
    """

    def __init__(self, target: Store, flush_events: int = FLUSH_EVENTS) -> None:
        # Not Store.__init__: no database of its own, the target's engine for SQL.
        if target.outbox:
            # Its bulk flush writes events, rows and steps only: simulated dossiers are never
            # synchronised with the portal.
            raise ValueError("a MemoryStore keeps no outbox: open its target with outbox=False")
        self.target = target
        self.outbox = False
        self.url, self.engine, self.dialect = target.url, target.engine, target.dialect
        self._local = target._local
        self._hold(flush_events)
        self.rows: dict[int, dict[str, Any]] = {}
        self.steps: dict[int, dict[int, dict[str, Any]]] = {}
        self.events: dict[int, list[dict[str, Any]]] = {}
        self.references: set[str] = set()
        #: Rows written to the target so far: dossiers, events.
        self.written = [0, 0]
        #: The most dossiers held in memory at once (flat in the number of closed ones).
        self.peak = 0
        self._next_id = target.next_dossier_id()

    def take_id(self) -> int:
        """The next dossier id."""
        dossier_id = self._next_id
        self._next_id += 1
        self.peak = max(self.peak, len(self.rows) + 1)
        return dossier_id

    def reference_taken(self, reference: str) -> bool:
        """Whether ``reference`` is used here or in the target."""
        if reference in self.references:
            return True
        with self.target.read() as uow:
            return uow.reference_taken(reference)

    # -- units of work --------------------------------------------------------------------------

    @contextmanager
    def write(self, savepoint: bool = True, keyed: bool = True) -> Iterator[MemoryUnitOfWork]:
        """A command's unit of work: its writes are applied when it ends without an exception.

        Raises:
            ValidationError: For keyed work (an idempotency key): not kept in memory.
        """
        if keyed:
            raise ValidationError(
                "idempotency_key", "the in-memory store takes no idempotency keys"
            )
        uow = MemoryUnitOfWork(self)
        yield uow
        uow.commit()

    @contextmanager
    def read(self) -> Iterator[MemoryUnitOfWork]:
        """A unit of work for reading: dossier rows held here from memory, everything else
        (flushed rows, reports, history) from the target, whose connection opens on first use."""
        with ExitStack() as stack:
            yield MemoryUnitOfWork(self, lambda: stack.enter_context(self.target.read()))

    # -- leaving memory -------------------------------------------------------------------------

    def _held(self, dossier_id: int) -> int | None:
        events = self.events.get(dossier_id)
        return None if events is None else len(events)

    def flush(self, *, everything: bool = False) -> None:
        """Write the retired dossiers (``everything``: all dossiers held) to the target in one
        transaction of multi-row inserts, and drop them from memory."""
        ids = list(self.rows) if everything else self._retired
        if not ids:
            return
        rows: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for dossier_id in ids:
            rows.append(self.rows.pop(dossier_id))
            steps.extend(self.steps.pop(dossier_id).values())
            events.extend(self.events.pop(dossier_id))
        for row in rows:
            if row["reference"] is not None:
                self.references.discard(row["reference"])
        self.target.bulk_write(rows, steps, events)
        self.written[0] += len(rows)
        self.written[1] += len(events)
        self._written()
