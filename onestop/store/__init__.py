"""Durable storage: SQLite by default (WAL), PostgreSQL (psycopg 3) for several processes.

:class:`Store` owns the SQLAlchemy engine, runs the Alembic migrations, and offers the few
row-level operations the engine's commands need, each inside a caller's transaction:
optimistic version checks, append-only events, idempotency keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from onestop.catalog import Catalog
from onestop.dossier import Event
from onestop.errors import StaleVersion, UnknownDossier
from onestop.store import schema
from onestop.store.schema import dossiers, events, idempotency_keys

_LOAD = select(dossiers).where(dossiers.c.id == bindparam("b_id"))
_LOCK = _LOAD.with_for_update()
_INSERT_DOSSIER = insert(dossiers)
_UPDATE_DOSSIER = update(dossiers).where(
    dossiers.c.id == bindparam("b_id"), dossiers.c.version == bindparam("b_version")
)
_INSERT_EVENT = insert(events)
_SET_HEAD = update(dossiers).where(dossiers.c.id == bindparam("b_id"))
_INSERT_STEP = insert(schema.dossier_steps)
_UPDATE_STEP = update(schema.dossier_steps).where(
    schema.dossier_steps.c.dossier_id == bindparam("b_id"),
    schema.dossier_steps.c.seq == bindparam("b_seq"),
)
#: Every dossier column, ``None``: the row of a dossier before its first command.
EMPTY_ROW: dict[str, Any] = {c.name: None for c in dossiers.columns}

__all__ = [
    "DATETIME_COLUMNS",
    "DATE_COLUMNS",
    "Store",
    "replay",
    "replay_rows",
    "schema",
    "to_json",
]

_MIGRATIONS = Path(__file__).parent / "migrations"

#: Dossier columns holding datetimes (events carry them as ISO strings).
DATETIME_COLUMNS = frozenset(
    c.name for c in dossiers.columns if isinstance(c.type, schema.AwareDateTime)
)
#: Dossier columns holding local dates.
DATE_COLUMNS = frozenset({"received_on", "resolved_on"})


def to_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """Column values as JSON-safe data (datetimes and dates as ISO strings)."""
    return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in values.items()}


def from_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`to_json` for dossier columns."""
    out = dict(values)
    for key, value in values.items():
        if value is None:
            continue
        if key in DATETIME_COLUMNS:
            out[key] = datetime.fromisoformat(value)
        elif key in DATE_COLUMNS:
            out[key] = date.fromisoformat(value)
    return out


def replay(history: Sequence[Event]) -> dict[str, Any]:
    """Rebuild a dossier row from its events, oldest first.

    Each event's ``data["set"]`` holds the column values its command set; the version is the
    number of events and the head hash the latest event's. The result equals the stored row when
    the log is complete and untampered.
    """
    rows = [{"dossier_id": e.dossier_id, "data": e.data, "hash": e.hash} for e in history]
    return replay_rows(rows)


def replay_rows(history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """:func:`replay` over raw ``events`` rows."""
    row: dict[str, Any] = {}
    for ev in history:
        row.update(from_json(ev["data"]["set"]))
    row["version"] = len(history)
    if history:
        row["id"] = history[0]["dossier_id"]
        row["event_hash"] = history[-1]["hash"]
    return row


class Store:
    """A database holding dossiers, their steps, events, and the loaded definitions.

    Args:
        url: SQLAlchemy URL: ``sqlite:///path.db`` (default), ``sqlite://`` (memory) or
            ``postgresql+psycopg://user@host/db``.
        sqlite_synchronous: SQLite ``synchronous`` pragma. ``NORMAL`` with WAL survives a
            process crash; ``FULL`` also survives power loss, at a cost per commit.
        echo: Log SQL (debugging).
    """

    def __init__(
        self,
        url: str = "sqlite:///onestop.db",
        *,
        sqlite_synchronous: str = "NORMAL",
        echo: bool = False,
    ) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed
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
                cur.execute(f"PRAGMA synchronous={sync}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(self.engine, "begin")
            def _sqlite_begin(conn: Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        else:
            self.engine = create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10)

    # -- lifecycle ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision (creates it on an empty database)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

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

    def sync_definitions(self, catalog: Catalog) -> None:
        """Store the unit set and catalog the engine runs with (replacing older copies)."""
        units = catalog.units
        name = units.name
        with self.begin() as conn:
            for table in (schema.units, schema.agencies, schema.procedures):
                conn.execute(delete(table).where(table.c.unit_set == name))
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

    # -- rows --------------------------------------------------------------------------------

    @staticmethod
    def load_dossier(conn: Connection, dossier_id: int, *, lock: bool = False) -> dict[str, Any]:
        """The dossier row as a dict.

        Args:
            conn: The connection (inside a transaction when ``lock`` is set).
            dossier_id: The dossier.
            lock: Lock the row until the transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite's
                ``BEGIN IMMEDIATE`` already serialises writers), so that commands on one dossier
                run one after the other and a stale ``expected_version`` is seen before any write.

        Raises:
            UnknownDossier: If there is none.
        """
        row = conn.execute(_LOCK if lock else _LOAD, {"b_id": dossier_id}).mappings().first()
        if row is None:
            raise UnknownDossier(f"no dossier {dossier_id}")
        return dict(row)

    @staticmethod
    def insert_dossier(conn: Connection, values: Mapping[str, Any]) -> int:
        """Insert a new dossier at version 1 and return its id."""
        result = conn.execute(_INSERT_DOSSIER, {**values, "version": 1})
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    @staticmethod
    def reference_taken(conn: Connection, reference: str) -> bool:
        """Whether a dossier already carries this external reference."""
        query = select(dossiers.c.id).where(dossiers.c.reference == reference)
        return conn.execute(query).first() is not None

    @staticmethod
    def update_dossier(
        conn: Connection, dossier_id: int, version: int, values: Mapping[str, Any]
    ) -> None:
        """Apply ``values`` if the row is still at ``version``; bump the version.

        Raises:
            StaleVersion: If another command changed the dossier since it was read.
        """
        # Values travel as parameters of one prebuilt statement: SQLAlchemy caches its
        # compiled form per set of columns instead of re-keying literal values every call.
        result = conn.execute(
            _UPDATE_DOSSIER,
            {**values, "version": version + 1, "b_id": dossier_id, "b_version": version},
        )
        if result.rowcount != 1:
            actual = conn.execute(
                select(dossiers.c.version).where(dossiers.c.id == dossier_id)
            ).scalar()
            raise StaleVersion(dossier_id, version, actual)

    @staticmethod
    def append_event(conn: Connection, values: Mapping[str, Any]) -> None:
        """Append one event row."""
        conn.execute(_INSERT_EVENT, dict(values))

    @staticmethod
    def set_event_hash(conn: Connection, dossier_id: int, value: str) -> None:
        """Move the dossier's chain head (same transaction as the event and the version bump)."""
        conn.execute(_SET_HEAD, {"event_hash": value, "b_id": dossier_id})

    @staticmethod
    def insert_step(conn: Connection, values: Mapping[str, Any]) -> None:
        """Insert one dossier step row."""
        conn.execute(_INSERT_STEP, dict(values))

    @staticmethod
    def update_step(conn: Connection, dossier_id: int, seq: int, values: Mapping[str, Any]) -> None:
        """Update one dossier step row."""
        conn.execute(_UPDATE_STEP, {**values, "b_id": dossier_id, "b_seq": seq})

    @staticmethod
    def claim_key(conn: Connection, key: str, command: str, now: datetime) -> bool:
        """Reserve an idempotency key in the current transaction.

        Returns:
            False if the key is already taken (by a committed command or a concurrent one that
            has now committed); the caller then returns the stored result.
        """
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(idempotency_keys).values(key=key, command=command, created_at=now)
                )
        except IntegrityError:
            return False
        return True

    @staticmethod
    def keyed_result(conn: Connection, key: str) -> dict[str, Any] | None:
        """The stored result of a command run with ``key``, if any."""
        row = (
            conn.execute(select(idempotency_keys).where(idempotency_keys.c.key == key))
            .mappings()
            .first()
        )
        return dict(row) if row else None

    @staticmethod
    def finish_key(conn: Connection, key: str, dossier_id: int, result: Mapping[str, Any]) -> None:
        """Record the result of the command that claimed ``key``."""
        conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == key)
            .values(dossier_id=dossier_id, result=dict(result))
        )
