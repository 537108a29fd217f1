"""A unit of work: the row operations of one transaction, over one connection.

The engine never holds a SQLAlchemy connection: :meth:`onestop.store.Store.write` and
:meth:`~onestop.store.Store.read` hand it a :class:`UnitOfWork`, whose methods are the only
statements a command runs.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from onestop.clock import VN_TZ
from onestop.errors import IdempotencyKeyReused, StaleVersion, UnknownDossier, ValidationError
from onestop.portal import STATE_FIELDS
from onestop.store.codec import DATETIME_COLUMNS, from_json
from onestop.store.schema import dossier_steps, dossiers, events, idempotency_keys, outbox

# The hot-path statements, as SQLAlchemy Core. They are compiled once per dialect and set of
# columns (:class:`Prepared`) and run on the driver's cursor of the same connection, inside the
# same transaction: SQLAlchemy's per-call work (cache key, parameter processing, result setup,
# events) cost about eight times the driver's own time per statement.
_LOAD = select(dossiers).where(dossiers.c.id == bindparam("b_id"))
_LOCK = _LOAD.with_for_update()
_INSERT_DOSSIER = insert(dossiers).returning(dossiers.c.id)
_UPDATE_DOSSIER = update(dossiers).where(
    dossiers.c.id == bindparam("b_id"), dossiers.c.version == bindparam("b_version")
)
_VERSION = select(dossiers.c.version).where(dossiers.c.id == bindparam("b_id"))
_REFERENCE = select(dossiers.c.id).where(dossiers.c.reference == bindparam("b_reference"))
# ``inline``: no RETURNING of the generated key (PostgreSQL would add one).
_INSERT_EVENT = insert(events).inline()
_INSERT_MESSAGE = insert(outbox).inline()
_SET_HEAD = update(dossiers).where(dossiers.c.id == bindparam("b_id"))
_INSERT_STEP = insert(dossier_steps).inline()
# Bulk loads (the simulator's in-memory store) give the dossier ids themselves.
_BULK_DOSSIER = insert(dossiers).inline()
_UPDATE_STEP = update(dossier_steps).where(
    dossier_steps.c.dossier_id == bindparam("b_id"), dossier_steps.c.seq == bindparam("b_seq")
)
#: Every dossier column, ``None``: the row of a dossier before its first command.
EMPTY_ROW: dict[str, Any] = {c.name: None for c in dossiers.columns}
#: Every dossier step column, empty (a step row built in memory starts from it).
EMPTY_STEP: dict[str, Any] = {c.name: None for c in dossier_steps.columns}
_DOSSIER_COLUMNS = tuple(c.name for c in dossiers.columns)
#: The columns of a dossier row and of a dossier step row, in the order of bulk inserts.
DOSSIER_COLUMNS = _DOSSIER_COLUMNS
STEP_COLUMNS = tuple(c.name for c in dossier_steps.columns)
#: The columns of an event row, in the order of the multi-row insert.
EVENT_COLUMNS = tuple(c.name for c in events.columns if c.name != "id")
#: The columns an outbox message is written with (the rest take their defaults).
MESSAGE_COLUMNS = ("dossier_id", "seq", "created_at", "trigger", *STATE_FIELDS)

# PostgreSQL: an event and its outbox message in one statement.
_INSERT_EVENT_AND_MESSAGE = (
    insert(outbox)
    .values({c: bindparam(f"m_{c}", type_=outbox.c[c].type) for c in MESSAGE_COLUMNS})
    .add_cte(
        insert(events)
        .values({c: bindparam(c, type_=events.c[c].type) for c in EVENT_COLUMNS})
        .cte("ev")
    )
)


def event_values(event: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """An event row with the dossier's deadline after it (the columns outside the hash)."""
    return {
        **event,
        "due_at": after["due_at"],
        "paused_at": after["paused_at"],
        "apologies": after["apologies"],
    }


def _message_values(event: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """An outbox message row: the event's place in its dossier's log, and the state after it."""
    return {
        "dossier_id": event["dossier_id"],
        "seq": event["seq"],
        "created_at": event["at"],
        "trigger": event["trigger"],
        **state,
    }


class Prepared:
    """A Core statement compiled once for a dialect and a set of columns, run on the driver.

    The SQL and the bind processors are SQLAlchemy's own (the same text, type conversions and
    PostgreSQL casts it would use); only its per-call overhead is skipped.

    Args:
        statement: The Core statement.
        dialect: The connection's dialect.
        keys: The columns given values (INSERT and UPDATE), in order.
    """

    __slots__ = ("names", "positional", "procs", "result", "sql")

    def __init__(
        self, statement: ClauseElement, dialect: Dialect, keys: Iterable[str] | None = None
    ) -> None:
        compiled = statement.compile(
            dialect=dialect, column_keys=None if keys is None else list(keys)
        )
        assert isinstance(compiled, SQLCompiler)  # a DML or SELECT statement
        self.sql: str = compiled.string
        self.positional: bool = compiled.positional
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        self.names: tuple[str, ...] = tuple(names or ())
        self.procs = tuple(
            compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in self.names
        )
        # Result processors of the selected columns (dossier rows).
        self.result: tuple[Callable[[Any], Any] | None, ...] = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in getattr(statement, "selected_columns", ())
        )

    def params(self, values: Mapping[str, Any]) -> Any:
        """The driver's parameters for ``values`` (keyed by bind name)."""
        out = [
            value if proc is None else proc(value)
            for proc, value in zip(self.procs, map(values.__getitem__, self.names), strict=True)
        ]
        return tuple(out) if self.positional else dict(zip(self.names, out, strict=True))


# Prepared statements per dialect object (one per engine), then per statement and columns.
_PREPARED: weakref.WeakKeyDictionary[Dialect, dict[tuple[Any, ...], Prepared]] = (
    weakref.WeakKeyDictionary()
)


class Batch:
    """What a batch of commands (:meth:`onestop.store.Store.batch`) keeps beside its one
    transaction: the events and outbox messages waiting for their multi-row inserts, and the
    dossier rows it has locked, as its commands left them."""

    __slots__ = ("events", "messages", "rows")

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.rows: dict[int, dict[str, Any]] = {}

    def absorb(self, uow: UnitOfWork) -> None:
        """Take over the work of a command that succeeded."""
        self.events.extend(uow.events)
        self.messages.extend(uow.messages)
        self.rows.update(uow.rows)

    def flush(self, uow: UnitOfWork) -> None:
        """Insert the waiting events and messages (before a read, and before the batch
        commits)."""
        if self.events:
            uow.insert_events(self.events)
            self.events.clear()
        if self.messages:
            uow.insert_messages(self.messages)
            self.messages.clear()


class UnitOfWork:
    """Row operations inside one transaction (or one savepoint of a batch).

    Args:
        conn: The connection, inside its transaction.
        batch: Inside :meth:`onestop.store.Store.batch`, where events wait for the batch's
            multi-row insert and the rows this batch has locked stay known (``None`` outside).
    """

    __slots__ = (
        "_conn", "_cursor", "_driver", "_prepared", "batch", "dialect", "events", "messages",
        "rows",
    )  # fmt: skip

    def __init__(
        self,
        conn: Connection | None,
        batch: Batch | None = None,
        *,
        driver: Any = None,
        dialect: Dialect | None = None,
    ) -> None:
        self._conn = conn
        self.batch = batch
        self.dialect: Dialect = conn.dialect if conn is not None else dialect  # type: ignore[assignment]
        # The DBAPI connection the hot-path statements run on (the one under ``conn``).
        self._driver = driver
        #: Events appended by this unit of work, not yet inserted (inside a batch).
        self.events: list[dict[str, Any]] = []
        #: Outbox messages written by this unit of work, not yet inserted (inside a batch).
        self.messages: list[dict[str, Any]] = []
        #: Dossier rows as this unit of work left them (inside a batch).
        self.rows: dict[int, dict[str, Any]] = {}
        self._cursor: Any = None
        prepared = _PREPARED.get(self.dialect)
        if prepared is None:
            prepared = _PREPARED.setdefault(self.dialect, {})
        self._prepared = prepared

    @classmethod
    def on_driver(cls, driver: Any, dialect: Dialect) -> UnitOfWork:
        """A unit of work on a bare DBAPI connection (a command without idempotency key runs
        its whole transaction there, see :meth:`onestop.store.Store.write`): only the row
        operations, not the SQLAlchemy :attr:`conn`."""
        return cls(None, driver=driver, dialect=dialect)

    @property
    def conn(self) -> Connection:
        """The SQLAlchemy connection, inside its transaction.

        Raises:
            RuntimeError: If this unit of work runs on the driver only.
        """
        if self._conn is None:
            raise RuntimeError("this unit of work runs on the DBAPI connection only")
        return self._conn

    # -- the driver -----------------------------------------------------------------------------

    def _statement(
        self, name: str, statement: ClauseElement, keys: tuple[str, ...] = ()
    ) -> Prepared:
        key = (name, keys)
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = Prepared(statement, self.dialect, keys or None)
            self._prepared[key] = prepared
        return prepared

    def _driver_connection(self) -> Any:
        if self._driver is None:
            self._driver = self.conn.connection.driver_connection
        return self._driver

    def _run(self, prepared: Prepared, values: Mapping[str, Any]) -> Any:
        """Execute on the driver's cursor of this connection (same transaction); driver errors
        come out as SQLAlchemy's, as from ``Connection.execute``."""
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self._driver_connection().cursor()
        params = prepared.params(values)
        try:
            cursor.execute(prepared.sql, params)
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                prepared.sql, params, exc, self.dialect.loaded_dbapi.Error
            ) from exc
        return cursor

    def _run_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self._driver_connection().cursor()
        params = [prepared.params(row) for row in rows]
        try:
            cursor.executemany(prepared.sql, params)
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                prepared.sql, params[:10], exc, self.dialect.loaded_dbapi.Error
            ) from exc

    # -- rows -----------------------------------------------------------------------------------

    def load_dossier(self, dossier_id: int, *, lock: bool = False) -> dict[str, Any]:
        """The dossier row as a dict.

        Args:
            dossier_id: The dossier.
            lock: Lock the row until the transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite
                serialises writers already), so that commands on one dossier run one after the
                other and a stale ``expected_version`` is seen before any write. Inside a batch
                a row this batch has already locked is not read again: nobody else can have
                changed it.

        Raises:
            UnknownDossier: If there is none.
        """
        if lock and self.batch is not None:
            known = self.batch.rows.get(dossier_id)
            if known is not None:
                return dict(known)
        # Ids are 64-bit keys: one outside that range names no dossier (and must not reach the
        # driver, which raises its own untyped overflow error).
        row = None
        if 0 < dossier_id < 2**63:
            prepared = self._statement("lock" if lock else "load", _LOCK if lock else _LOAD)
            row = self._run(prepared, {"b_id": dossier_id}).fetchone()
        if row is None:
            raise UnknownDossier(f"no dossier {dossier_id}")
        return {
            name: value if proc is None else proc(value)
            for name, proc, value in zip(_DOSSIER_COLUMNS, prepared.result, row, strict=True)
        }

    def insert_dossier(self, values: Mapping[str, Any]) -> int:
        """Insert a new dossier at version 1 and return its id."""
        row = {**values, "version": 1}
        prepared = self._statement("insert_dossier", _INSERT_DOSSIER, tuple(row))
        return int(self._run(prepared, row).fetchone()[0])

    def reference_taken(self, reference: str) -> bool:
        """Whether a dossier already carries this external reference."""
        prepared = self._statement("reference", _REFERENCE)
        return self._run(prepared, {"b_reference": reference}).fetchone() is not None

    def update_dossier(self, dossier_id: int, version: int, values: Mapping[str, Any]) -> None:
        """Apply ``values`` if the row is still at ``version``; bump the version.

        Raises:
            StaleVersion: If another command changed the dossier since it was read.
        """
        params = {**values, "version": version + 1, "b_id": dossier_id, "b_version": version}
        keys = tuple(k for k in params if k not in ("b_id", "b_version"))
        prepared = self._statement("update_dossier", _UPDATE_DOSSIER, keys)
        if self._run(prepared, params).rowcount != 1:
            found = self._run(self._statement("version", _VERSION), {"b_id": dossier_id})
            actual = found.fetchone()
            raise StaleVersion(dossier_id, version, None if actual is None else actual[0])

    def remember(self, row: Mapping[str, Any]) -> None:
        """Keep a dossier's row as this command left it (inside a batch, for the batch's next
        command on it; datetimes in Vietnam's zone, as a read returns them)."""
        if self.batch is not None:
            self.rows[row["id"]] = {
                k: v.astimezone(VN_TZ) if k in DATETIME_COLUMNS and v is not None else v
                for k, v in row.items()
            }

    def append_event(self, event: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """Append one event row, with the dossier's deadline after it (for reports as of any
        instant: with the event's status and agency, the dossier's state then). Inside a batch
        it waits for the batch's multi-row insert."""
        row = event_values(event, after)
        if self.batch is not None:
            self.events.append(row)
        else:
            self._run(self._statement("insert_event", _INSERT_EVENT, EVENT_COLUMNS), row)

    def insert_events(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert event rows in one multi-row statement."""
        if rows:
            self._run_many(self._statement("insert_event", _INSERT_EVENT, EVENT_COLUMNS), rows)

    def append_message(self, event: Mapping[str, Any], state: Mapping[str, Any]) -> None:
        """Write an outbox message for the portal about ``event`` (same transaction), holding
        the dossier's ``state`` after it (:func:`onestop.portal.portal_state`). Inside a batch
        it waits for the batch's multi-row insert, as events do."""
        row = _message_values(event, state)
        if self.batch is not None:
            self.messages.append(row)
        else:
            self._run(self._statement("insert_message", _INSERT_MESSAGE, MESSAGE_COLUMNS), row)

    def append_event_with_message(
        self, event: Mapping[str, Any], after: Mapping[str, Any], state: Mapping[str, Any]
    ) -> None:
        """:meth:`append_event` and :meth:`append_message` together: on PostgreSQL outside a
        batch in one statement (a data-modifying CTE), one round trip fewer per command."""
        if self.batch is not None or self.dialect.name != "postgresql":
            self.append_event(event, after)
            self.append_message(event, state)
            return
        message = _message_values(event, state)
        values = {**event_values(event, after), **{f"m_{k}": v for k, v in message.items()}}
        self._run(self._statement("insert_event_message", _INSERT_EVENT_AND_MESSAGE), values)

    def insert_messages(self, rows: list[dict[str, Any]]) -> None:
        """Insert outbox messages in one multi-row statement."""
        if rows:
            prepared = self._statement("insert_message", _INSERT_MESSAGE, MESSAGE_COLUMNS)
            self._run_many(prepared, rows)

    def insert_dossiers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert whole dossier rows, ids included, in one multi-row statement (bulk loads)."""
        if rows:
            self._run_many(self._statement("bulk_dossier", _BULK_DOSSIER, DOSSIER_COLUMNS), rows)

    def insert_steps(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert whole dossier step rows in one multi-row statement (bulk loads)."""
        if rows:
            self._run_many(self._statement("insert_step", _INSERT_STEP, STEP_COLUMNS), rows)

    def open_of_unit_set(self, unit_set: str) -> list[dict[str, Any]]:
        """Every open dossier row received under (or moved to) ``unit_set``, by id."""
        from onestop.store.queries import open_of_unit_set

        return open_of_unit_set(self, unit_set)

    def set_event_hash(self, dossier_id: int, value: str) -> None:
        """Move a new dossier's chain head (its first event needs the id the insert gave)."""
        prepared = self._statement("set_head", _SET_HEAD, ("event_hash",))
        self._run(prepared, {"event_hash": value, "b_id": dossier_id})

    def insert_step(self, dossier_id: int, values: Mapping[str, Any]) -> None:
        """Insert one dossier step row."""
        row = {**values, "dossier_id": dossier_id}
        self._run(self._statement("insert_step", _INSERT_STEP, tuple(row)), row)

    def update_step(self, dossier_id: int, seq: int, values: Mapping[str, Any]) -> None:
        """Update one dossier step row."""
        prepared = self._statement("update_step", _UPDATE_STEP, tuple(values))
        self._run(prepared, {**values, "b_id": dossier_id, "b_seq": seq})

    def replay_or_claim(
        self,
        key: str | None,
        command: str,
        now: datetime,
        args_digest: str | None = None,
        dossier_id: int | None = None,
    ) -> dict[str, Any] | None:
        """Idempotency: the stored result row of an earlier command run with ``key``, or
        ``None`` after reserving ``key`` for this command (or when there is no key).

        Args:
            key: The key, already scoped to its user, command and dossier by the caller.
            command: The command.
            now: When.
            args_digest: A digest of the command's arguments, stored with the key: a retry
                with other arguments is refused.
            dossier_id: The dossier (``None`` for a command creating one), for the message.

        Raises:
            ValidationError: If ``key`` was used for another command.
            IdempotencyKeyReused: If ``key`` was used with other arguments.
        """
        if key is None or self.claim_key(key, command, now, args_digest):
            return None
        prior = self.keyed_result(key)
        if prior is None or prior["result"] is None:
            raise StaleVersion(0, 0, None)  # pragma: no cover - claimed by an aborted writer
        if prior["command"] != command:
            raise ValidationError(
                "idempotency_key",
                f"already used for a {prior['command']!r} command, not {command!r}",
            )
        if prior["args_digest"] is not None and prior["args_digest"] != args_digest:
            raise IdempotencyKeyReused(command, dossier_id)
        return from_json(prior["result"])

    def claim_key(
        self, key: str, command: str, now: datetime, args_digest: str | None = None
    ) -> bool:
        """Reserve an idempotency key in the current transaction.

        Returns:
            False if the key is already taken (by a committed command or a concurrent one that
            has now committed); the caller then returns the stored result.
        """
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(idempotency_keys).values(
                        key=key, command=command, created_at=now, args_digest=args_digest
                    )
                )
        except IntegrityError:
            return False
        return True

    def keyed_result(self, key: str) -> dict[str, Any] | None:
        """The stored result of a command run with ``key``, if any."""
        query = select(idempotency_keys).where(idempotency_keys.c.key == key)
        row = self.conn.execute(query).mappings().first()
        return dict(row) if row else None

    def finish_key(self, key: str, dossier_id: int, result: Mapping[str, Any]) -> None:
        """Record the result of the command that claimed ``key``."""
        self.conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == key)
            .values(dossier_id=dossier_id, result=dict(result))
        )

    def run(
        self,
        name: str,
        statement: ClauseElement,
        values: Mapping[str, Any] | None = None,
        keys: tuple[str, ...] = (),
    ) -> list[dict[str, Any]]:
        """Run a statement of another store module in this unit of work (on the driver's
        cursor, compiled once per dialect like the row operations above).

        Args:
            name: A name unique to the statement (and ``keys``), for the compiled cache.
            statement: A Core statement whose parameters are ``bindparam``s.
            values: Their values (and the values of ``keys``).
            keys: The columns an INSERT or UPDATE sets, in order.

        Returns:
            The selected rows as dicts (empty for a statement selecting nothing).
        """
        prepared = self._statement(name, statement, keys)
        cursor = self._run(prepared, values or {})
        if not prepared.result:
            return []
        names = [c.name for c in getattr(statement, "selected_columns", ())]
        procs = prepared.result
        return [
            {n: v if p is None else p(v) for n, p, v in zip(names, procs, row, strict=True)}
            for row in cursor.fetchall()
        ]
