"""Durable storage: SQLite by default (WAL), PostgreSQL (psycopg 3) for several processes.

:class:`Store` owns the SQLAlchemy engine, runs the Alembic migrations, and hands out units of
work: :meth:`Store.write` (a command's transaction, or a savepoint inside a :meth:`Store.batch`),
:meth:`Store.read`. All SQL lives in this package: the row operations
(:mod:`~onestop.store.unit_of_work`), the event log (:mod:`~onestop.store.event_log`), read
queries (:mod:`~onestop.store.queries`) and the SQL forms of the core's predicates
(:mod:`~onestop.store.clauses`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from onestop.catalog import Catalog
from onestop.defaults import DEFAULT_URL
from onestop.errors import SchemaOutOfDate
from onestop.store import schema
from onestop.store.codec import DATE_COLUMNS, DATETIME_COLUMNS, from_json, to_json
from onestop.store.event_log import replay, replay_rows
from onestop.store.unit_of_work import EMPTY_ROW, Batch, UnitOfWork

__all__ = [
    "DATETIME_COLUMNS",
    "DATE_COLUMNS",
    "EMPTY_ROW",
    "SQLITE_WAL_PAGES",
    "Store",
    "UnitOfWork",
    "from_json",
    "replay",
    "replay_rows",
    "schema",
    "to_json",
]

_MIGRATIONS = Path(__file__).parent / "migrations"
#: Execution option marking a connection as a reader (SQLite: deferred BEGIN).
_READ_ONLY = "onestop_read_only"
#: Default ``wal_autocheckpoint`` of SQLite stores (see :class:`Store`).
SQLITE_WAL_PAGES = 10_000
#: Inside a batch, events waiting for their multi-row insert are flushed at this many.
_BATCH_EVENTS = 5000
#: PostgreSQL advisory lock key of start-up work ("onestop" in ASCII).
_STARTUP_LOCK = 0x6F6E6573746F70


class Store:
    """A database holding dossiers, their steps, events, and the loaded definitions.

    Args:
        url: SQLAlchemy URL: ``sqlite:///path.db`` (default), ``sqlite://`` (memory) or
            ``postgresql+psycopg://user@host/db``.
        sqlite_synchronous: SQLite ``synchronous`` pragma. ``NORMAL`` with WAL survives a
            process crash; ``FULL`` also survives power loss, at a cost per commit.
        sqlite_wal_pages: SQLite ``wal_autocheckpoint``: the write-ahead log is copied back
            into the database (two fsyncs) once it holds this many pages. A command writes
            about a dozen pages (the dossier row, its indexes, the event, the step), so
            SQLite's default of 1,000 pages checkpoints every ~80 commands, and those fsyncs
            cost more than the commands; 10,000 pages (~40 MB of log) amortise them tenfold.
            Durability is the same.
        echo: Log SQL (debugging).
        outbox: Write an outbox message for the national portal with every event that changes
            what it shows (:mod:`onestop.portal`). Off only for a database nobody synchronises
            (the benchmarks measure its cost with it off).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        sqlite_synchronous: str = "NORMAL",
        sqlite_wal_pages: int = SQLITE_WAL_PAGES,
        echo: bool = False,
        outbox: bool = True,
    ) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed
        self.outbox = outbox
        self._local = threading.local()
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            memory = parsed.database in (None, "", ":memory:")
            if not memory and parsed.database:
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                parsed,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": 30},
                poolclass=StaticPool if memory else None,
            )
            sync = sqlite_synchronous.upper()
            if sync not in ("OFF", "NORMAL", "FULL", "EXTRA"):
                raise ValueError(f"sqlite_synchronous must be OFF/NORMAL/FULL/EXTRA, not {sync}")

            @event.listens_for(self.engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
                # We issue BEGIN IMMEDIATE ourselves: writers queue on the database lock at the
                # start of a command instead of failing on lock upgrade half-way through.
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                if not memory:
                    cur.execute("PRAGMA journal_mode=WAL")
                    cur.execute(f"PRAGMA wal_autocheckpoint={int(sqlite_wal_pages)}")
                cur.execute(f"PRAGMA synchronous={sync}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(self.engine, "begin")
            def _sqlite_begin(conn: Connection) -> None:
                # Writers take the lock up front; readers (Store.read) begin deferred, so in
                # WAL mode they read the last committed state and never wait for a writer.
                reading = conn.get_execution_options().get(_READ_ONLY, False)
                # On the driver itself: through exec_driver_sql it cost ~20 µs a transaction.
                driver = conn.connection.driver_connection
                driver.execute("BEGIN" if reading else "BEGIN IMMEDIATE")  # type: ignore[union-attr]

        else:
            self.engine = create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10)

    # -- lifecycle ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision (creates it on an empty database)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.connect() as conn:
            sqlite = self.dialect == "sqlite"
            if sqlite:
                # A table rebuild (SQLite's ALTER) drops the old table, which foreign keys
                # forbid; the pragma only takes effect outside a transaction.
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                with conn.begin():
                    self._startup_lock(conn)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise RuntimeError("a migration left rows without their parent")
            finally:
                if sqlite:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]

    def _startup_lock(self, conn: Connection) -> None:
        """Serialise start-up work (migrations, definition sync) between processes: on
        PostgreSQL a transaction-scoped advisory lock (SQLite's ``BEGIN IMMEDIATE`` already
        serialises writers)."""
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _STARTUP_LOCK})

    def revisions(self) -> tuple[str | None, str]:
        """The database's schema revision (``None`` when it has none) and this version's."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        return current, str(head)

    def require_current_schema(self) -> None:
        """Refuse a database whose schema is not this version's, saying what to do.

        Raises:
            SchemaOutOfDate: If it has no onestop schema, an older one or a newer one.
        """
        current, head = self.revisions()
        if current == head:
            return
        if current is None:
            raise SchemaOutOfDate(
                "the database has no onestop schema (run `onestop demo`, "
                "Engine.open, or `onestop migrate` to create one)"
            )
        if current < head:
            raise SchemaOutOfDate(
                f"the database's schema is at revision {current}, this onestop "
                f"reads {head}: run `onestop migrate` (back the database up "
                "first)"
            )
        raise SchemaOutOfDate(
            f"the database's schema is at revision {current}, newer than this "
            f"onestop's {head}: upgrade onestop"
        )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def insert_or_skip(self, table: Table, *keys: str) -> Any:
        """``INSERT`` that skips rows whose ``keys`` already exist (``ON CONFLICT DO NOTHING``,
        in this store's dialect); chain ``.values()`` or ``.from_select()`` before executing."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        return dialect_insert(table).on_conflict_do_nothing(index_elements=list(keys))

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any exception."""
        with self.engine.begin() as conn:
            yield conn

    def next_dossier_id(self) -> int:
        """The id after the largest dossier id stored (where ids given outside the database,
        by a bulk writer, start)."""
        with self.begin() as conn:
            return int(conn.execute(select(func.max(schema.dossiers.c.id))).scalar() or 0) + 1

    def bulk_write(
        self,
        rows: Sequence[Mapping[str, Any]],
        steps: Sequence[Mapping[str, Any]],
        events: Sequence[Mapping[str, Any]],
    ) -> None:
        """Insert whole dossier rows (ids included), their step rows and their event rows in
        one transaction of multi-row statements (the simulator's bulk writes); on PostgreSQL
        the dossier identity then continues after the ids given."""
        with self.begin() as conn:
            uow = UnitOfWork(conn)
            uow.insert_dossiers(rows)
            uow.insert_steps(steps)
            uow.insert_events(events)
            if self.dialect == "postgresql":
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('dossiers', 'id'), "
                        "(SELECT max(id) FROM dossiers))"
                    )
                )

    # -- units of work -----------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make this thread's units of work inside the block share one transaction.

        Its commands' events are inserted together (one multi-row statement before the batch
        commits, or before a read inside it), and a dossier it has locked is not read again.
        Everything a batch returns, dossier ids included, is provisional until it commits: a
        batch that is killed or raises leaves nothing, and on SQLite the ids it handed out are
        given again (PostgreSQL's sequences skip them). Committed ids are never given twice.

        Raises:
            RuntimeError: If a batch is already open in this thread.
        """
        if getattr(self._local, "conn", None) is not None:
            raise RuntimeError("batches do not nest")
        with self.engine.begin() as conn:
            pending = Batch()
            self._local.conn, self._local.batch = conn, pending
            try:
                yield
                pending.flush(UnitOfWork(conn))
            finally:
                self._local.conn = self._local.batch = None

    @property
    def in_batch(self) -> bool:
        """Whether this thread is inside :meth:`batch`."""
        return getattr(self._local, "conn", None) is not None

    @contextmanager
    def write(self, savepoint: bool = True, keyed: bool = True) -> Iterator[UnitOfWork]:
        """A command's unit of work: its own transaction, or inside a batch a savepoint.

        Args:
            savepoint: Inside a batch, whether the work needs a savepoint. A command that
                checks everything before its first write can skip it (two statements saved);
                one that writes before it can be refused, or that can fail in the database,
                needs one.
            keyed: Whether the work claims an idempotency key (which needs the SQLAlchemy
                connection). Outside a batch, work without one runs its transaction on the
                pooled DBAPI connection alone, with only the row operations of
                :class:`UnitOfWork`.
        """
        conn = getattr(self._local, "conn", None)
        if conn is None and not keyed:
            yield from self._driver_transaction()
            return
        if conn is None:
            with self.engine.begin() as fresh:
                yield UnitOfWork(fresh)
            return
        pending: Batch = self._local.batch
        uow = UnitOfWork(conn, pending)
        if savepoint:
            with conn.begin_nested():
                yield uow
        else:
            yield uow
        # Reached only when the command succeeded: its events and rows join the batch's.
        pending.absorb(uow)
        if len(pending.events) >= _BATCH_EVENTS:
            pending.flush(uow)

    def _driver_transaction(self) -> Iterator[UnitOfWork]:
        """One transaction on a pooled DBAPI connection, without a SQLAlchemy ``Connection``
        (whose checkout, begin and commit cost ~90 µs of a command's time on SQLite): begun
        (SQLite: ``BEGIN IMMEDIATE``, as every writer; psycopg begins by itself), committed on
        success, rolled back on any exception, and returned to the pool."""
        pooled = self.engine.raw_connection()
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            driver: Any = pooled.driver_connection
            try:
                if self.dialect == "sqlite":
                    driver.execute("BEGIN IMMEDIATE")
                yield UnitOfWork.on_driver(driver, self.engine.dialect)
            except BaseException:
                driver.rollback()
                raise
            try:
                driver.commit()
            except dbapi_error as exc:  # e.g. a serialization failure found at commit
                raise DBAPIError.instance("COMMIT", None, exc, dbapi_error) from exc
        finally:
            pooled.close()

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        """A unit of work for reading (inside a batch it sees the batch's writes).

        On SQLite it never takes the write lock: a long report does not stall the desks.
        """
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.engine.connect() as fresh:
                yield UnitOfWork(fresh.execution_options(**{_READ_ONLY: True}))
        else:
            uow = UnitOfWork(conn)
            self._local.batch.flush(uow)
            yield uow

    def sync_definitions(self, catalog: Catalog) -> None:
        """Store the unit set and catalog the engine runs with (replacing older copies)."""
        units = catalog.units
        name = units.name
        with self.begin() as conn:
            self._startup_lock(conn)
            tables = (
                schema.levels,
                schema.fields,
                schema.units,
                schema.agencies,
                schema.procedures,
            )
            for table in tables:
                conn.execute(delete(table).where(table.c.unit_set == name))
            conn.execute(
                insert(schema.levels),
                [
                    {
                        "unit_set": name,
                        **lv.model_dump(include={"code", "name_vi", "name_en", "rank"}),
                    }
                    for lv in units.levels.values()
                ],
            )
            conn.execute(
                insert(schema.units),
                [
                    {
                        "unit_set": name,
                        **u.model_dump(include={"code", "name", "level", "kind", "parent"}),
                    }
                    for u in units.all_units
                ],
            )
            if catalog.fields:
                conn.execute(
                    insert(schema.fields),
                    [{"unit_set": name, **f.model_dump()} for f in catalog.fields.values()],
                )
            if units.all_agencies:
                conn.execute(
                    insert(schema.agencies),
                    [{"unit_set": name, **a.model_dump()} for a in units.all_agencies],
                )
            procs = catalog.all_versions()
            if procs:
                conn.execute(
                    insert(schema.procedures),
                    [
                        {
                            "unit_set": name,
                            "code": p.code,
                            "version": p.version,
                            "name_vi": p.name_vi,
                            "name_en": p.name_en,
                            "field": p.field,
                            "level": p.level,
                            "statutory_days": p.statutory_days,
                            "time_unit": p.time_unit,
                            "fee_vnd": p.fee_vnd,
                            "online": p.online,
                            "postal": p.postal,
                            "location_independent": p.location_independent,
                            "definition": json.loads(p.model_dump_json()),
                        }
                        for p in procs
                    ],
                )
