"""Synthetic dossier rows written straight into a migrated store (for report and sweep figures)."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from onestop.clock import VN_TZ
from onestop.store import Store

# One value of a row handed to sqlite3.
Cell = str | int | None

LEVELS = ["city", "district", "commune"]
TIMELINESS = ["early", "on_time", "late"]
_COLUMNS = (
    "unit_set, rule_set, procedure_code, procedure_version, field, level, competent_unit, "
    "intake_unit, intake_mode, channel, return_method, status, status_code, step_index, "
    "step_count, current_agency, received_at, received_on, due_at, step_due_at, apologies, "
    "resolved_at, resolved_on, timeliness, created_at, updated_at, version"
)


def _utc(moment: datetime) -> str:
    # The format SQLAlchemy's SQLite DateTime stores (UTC, naive).
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill(
    path: Path,
    n: int,
    *,
    year: int = 2024,
    open_share: float = 0.0,
    due_now: int = 0,
    now: datetime | None = None,
    seed: int = 7,
) -> Store:
    """Create a SQLite store at ``path`` with ``n`` dossiers.

    Resolved dossiers spread over ``year``; ``open_share`` of them are open (processing) with a
    deadline far ahead of ``now``, except ``due_now`` whose deadline has just passed.
    """
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    rng = random.Random(seed)
    now = now or datetime(year, 12, 31, 9, 0, tzinfo=VN_TZ)
    stamp = _utc(now)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    marks = ", ".join("?" * 27)
    sql = f"INSERT INTO dossiers ({_COLUMNS}) VALUES ({marks})"
    start = date(year, 1, 1)
    n_open = int(n * open_share)
    batch: list[tuple[Cell, ...]] = []
    status: tuple[str, int, int, str, str]  # status, code, step index, received_at, received_on
    tail: tuple[Cell, ...]  # due_at .. version, None in different places for open and resolved
    for i in range(n):
        level = LEVELS[rng.randrange(3)]
        if i < n_open:
            due = now - timedelta(minutes=5) if i < due_now else now + timedelta(days=30)
            received = now - timedelta(days=2)
            status = ("processing", 4, 1, _utc(received), received.date().isoformat())
            tail = (_utc(due), _utc(due), 0, None, None, None, stamp, stamp, 2)
        else:
            day = start + timedelta(days=rng.randrange(365))
            resolved = datetime.combine(day, datetime.min.time(), VN_TZ) + timedelta(hours=10)
            t = TIMELINESS[0 if rng.random() < 0.7 else (1 if rng.random() < 0.99 else 2)]
            status = ("resolved", 9, 2, _utc(resolved), day.isoformat())
            tail = (_utc(resolved), None, 0, _utc(resolved), day.isoformat(), t, stamp, stamp, 5)
        code, portal, step, received_at, received_on = status
        head = ("bench", "decree-61-2018", "P", 1, "land", level, "U", "U", "normal", "counter")
        row = (*head, "counter", code, portal, step, 3, "A", received_at, received_on, *tail)
        batch.append(row)
        if len(batch) == 50_000:
            con.executemany(sql, batch)
            batch.clear()
    if batch:
        con.executemany(sql, batch)
    con.commit()
    con.close()
    return Store(f"sqlite:///{path}")
