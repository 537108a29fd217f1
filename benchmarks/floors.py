"""Floors that do the same writes as onestop: its own statements, replayed on the bare driver.

:func:`capture` records the SQL and driver parameters onestop sends for one loop of
receive → complete_step → resolve → return (one transaction per command, or one batch); the
replays run exactly those statements on a freshly migrated database with the plain DBAPI driver
(``sqlite3``, ``psycopg``), changing only the dossier id. What remains between a figure and its
floor is onestop's own Python: validation, the state machine, the plans, the hash chain.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from onestop import Engine
from onestop.store import SQLITE_WAL_PAGES, Store
from onestop.store.unit_of_work import Prepared, UnitOfWork

#: Parameters that name the dossier (replaced by the replayed dossier's id).
_ID_NAMES = ("dossier_id", "b_id")


@dataclass
class Statement:
    """One statement as the driver received it."""

    sql: str
    params: Any
    names: tuple[str, ...]
    positional: bool
    many: bool = False

    def bind(self, params: Any, dossier_id: int) -> Any:
        """``params`` with the dossier id replaced."""
        if self.positional:
            return tuple(
                dossier_id if n in _ID_NAMES else v for n, v in zip(self.names, params, strict=True)
            )
        return {k: dossier_id if k in _ID_NAMES else v for k, v in params.items()}


@dataclass
class Capture:
    """The statements of one loop: per transaction (durable) or all in one (batch)."""

    transactions: list[list[Statement]] = field(default_factory=list)


@contextmanager
def _spy(into: list[Statement]) -> Iterator[None]:
    run, run_many = UnitOfWork._run, UnitOfWork._run_many

    def spy(self: UnitOfWork, prepared: Prepared, values: Any) -> Any:
        into.append(
            Statement(prepared.sql, prepared.params(values), prepared.names, prepared.positional)
        )
        return run(self, prepared, values)

    def spy_many(self: UnitOfWork, prepared: Prepared, rows: Any) -> None:
        params = [prepared.params(r) for r in rows]
        into.append(Statement(prepared.sql, params, prepared.names, prepared.positional, True))
        run_many(self, prepared, rows)

    UnitOfWork._run, UnitOfWork._run_many = spy, spy_many  # type: ignore[method-assign]
    try:
        yield
    finally:
        UnitOfWork._run, UnitOfWork._run_many = run, run_many  # type: ignore[method-assign]


def capture(engine: Engine, commands: list[Callable[[int], Any]], batch: bool) -> Capture:
    """Run ``commands`` (the first creates the dossier and returns it, the others take its id)
    once and record the statements sent to the driver."""
    out = Capture()
    if batch:
        out.transactions.append([])
        with _spy(out.transactions[0]), engine.batch():
            dossier_id = commands[0](0).id
            for command in commands[1:]:
                command(dossier_id)
        return out
    dossier_id = 0
    for i, command in enumerate(commands):
        out.transactions.append([])
        with _spy(out.transactions[-1]):
            result = command(dossier_id)
        if i == 0:
            dossier_id = result.id
    return out


def _replay(
    cur: Any,
    begin: Callable[[], object],
    commit: Callable[[], object],
    captured: Capture,
    n: int,
    batch: bool,
) -> float:
    """Replay ``n`` loops; returns transitions/s (each statement list holds four commands'
    work in a batch, one command's otherwise)."""
    commands = 4
    t0 = time.perf_counter()
    if batch:
        begin()
    many: dict[str, tuple[Statement, list[Any]]] = {}
    for _ in range(n):
        dossier_id = 0
        for statements in captured.transactions:
            if not batch:
                begin()
            for st in statements:
                if st.many:
                    rows = many.setdefault(st.sql, (st, []))[1]
                    rows.extend(st.bind(p, dossier_id) for p in st.params)
                    continue
                cur.execute(st.sql, st.bind(st.params, dossier_id))
                if st.sql.startswith("INSERT INTO dossiers"):
                    dossier_id = cur.fetchone()[0]
                elif st.sql.startswith("SELECT"):
                    cur.fetchone()
            if not batch:
                commit()
    for st, rows in many.values():
        cur.executemany(st.sql, rows)
    if batch:
        commit()
    return commands * n / (time.perf_counter() - t0)


def replay_sqlite(path: str, captured: Capture, n: int, batch: bool) -> float:
    """The captured loop ``n`` times with ``sqlite3`` on a new migrated database at ``path``
    (WAL, ``synchronous=NORMAL``, the same checkpoint interval, foreign keys on,
    ``BEGIN IMMEDIATE``: as onestop)."""
    import sqlite3

    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_PAGES}")
    con.execute("PRAGMA foreign_keys=ON")
    cur = con.cursor()
    try:
        return _replay(
            cur,
            lambda: cur.execute("BEGIN IMMEDIATE"),
            lambda: cur.execute("COMMIT"),
            captured,
            n,
            batch,
        )
    finally:
        con.close()


def replay_postgres(url: str, captured: Capture, n: int, batch: bool) -> float:
    """The captured loop ``n`` times with ``psycopg`` on the reset, migrated database ``url``."""
    import psycopg

    from onestop.testing import reset_postgres

    reset_postgres(url)
    store = Store(url)
    store.migrate()
    store.dispose()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as con:
        cur = con.cursor()
        return _replay(cur, lambda: None, con.commit, captured, n, batch)


def wal_pages_per_commit(captured: Capture, n: int = 50) -> float:
    """WAL pages a durable command writes on SQLite: the captured loop ``n`` times with
    automatic checkpoints off, the log's frames counted after it."""
    import sqlite3
    import tempfile
    from pathlib import Path

    path = str(Path(tempfile.mkdtemp()) / "pages.db")
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cur = con.cursor()
    _replay(cur, lambda: cur.execute("BEGIN IMMEDIATE"), lambda: cur.execute("COMMIT"), captured,
            n, False)  # fmt: skip
    frames = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    con.close()
    return float(frames) / (len(captured.transactions) * n)
