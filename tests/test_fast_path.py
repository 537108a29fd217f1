"""The fast write path keeps the store's contract, on both backends: statements run on the
driver read and write what SQLAlchemy would, its errors are SQLAlchemy's and roll back, and a
batch's deferred events and remembered rows are what the database holds."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from onestop import Engine, ManualClock
from onestop.store import queries
from onestop.store.schema import dossiers

from .conftest import FIXTURES
from .helpers import assert_replays


def test_driver_rows_equal_sqlalchemy_rows(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive(
        "LAND",
        "D1",
        applicant={"name": "Lê Văn A", "id_number": "012345678901", "phone": "0901234567"},
    )
    clock.advance(timedelta(hours=2))
    engine.complete_step(d.id)
    engine.request_supplement(d.id, "thiếu bản sao")
    with engine.store.begin() as conn:
        oracle = dict(conn.execute(select(dossiers).where(dossiers.c.id == d.id)).mappings().one())
    with engine.store.read() as uow:
        row = uow.load_dossier(d.id)
    assert row == oracle
    # Same values and the same types (dates as dates, flags as booleans, aware datetimes).
    assert {k: type(v) for k, v in row.items()} == {k: type(v) for k, v in oracle.items()}
    assert row["received_at"].utcoffset() == timedelta(hours=7)


def test_driver_errors_are_sqlalchemy_errors_and_roll_back(engine: Engine) -> None:
    d = engine.receive("LAND", "D1")
    with engine.store.read() as uow:
        first = queries.steps(uow, d.id)[0]
    step = {k: v for k, v in first.items() if k != "dossier_id"}
    with pytest.raises(IntegrityError), engine.store.write(savepoint=False, keyed=False) as uow:
        uow.update_step(d.id, 0, {"timeliness": "late"})
        uow.insert_step(d.id, step)  # the same (dossier, seq): refused by the primary key
    with engine.store.read() as uow:
        assert queries.steps(uow, d.id)[0] == first  # the update before it was rolled back


def test_batch_rows_and_events_are_the_database_rows(engine: Engine, clock: ManualClock) -> None:
    with engine.batch():
        d = engine.receive("LAND", "D1")
        assert engine.get(d.id) == d
        clock.advance(timedelta(hours=1))
        d = engine.complete_step(d.id)
        assert engine.get(d.id) == d
        clock.advance(timedelta(hours=1))
        d = engine.complete_step(d.id)
        assert engine.get(d.id) == d
        # A read inside the batch sees the events still waiting for the batch's insert.
        assert [e.trigger for e in engine.history(d.id)] == [
            "receive",
            "complete_step",
            "complete_step",
        ]
        d = engine.request_supplement(d.id, "thiếu bản sao")
        assert engine.get(d.id) == d
    assert [e.seq for e in engine.history(d.id)] == [1, 2, 3, 4]
    assert_replays(engine, d.id)


def test_sqlite_timestamps_keep_sqlalchemys_text_format(tmp_path: Path) -> None:
    # Reports compare these texts in SQL: a whole second must still carry its ".000000".
    from datetime import datetime

    from onestop import VN_TZ

    url = f"sqlite:///{tmp_path / 'f.db'}"
    clock = ManualClock(datetime(2025, 1, 24, 9, 0, tzinfo=VN_TZ))
    engine = Engine.open(url, FIXTURES, clock=clock)
    d = engine.receive("COPY", "W1")
    engine.store.dispose()
    con = sqlite3.connect(tmp_path / "f.db")
    stored = con.execute("SELECT received_at, created_at FROM dossiers WHERE id = ?", (d.id,))
    assert stored.fetchone() == ("2025-01-24 02:00:00.000000", "2025-01-24 02:00:00.000000")
    con.close()
