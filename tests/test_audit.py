"""Tamper evidence: editing, deleting or inserting events directly in the database is found."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select, text, update
from typer.testing import CliRunner

from onestop import VN_TZ, Engine, ManualClock
from onestop.audit import Finding, anchor_day, verify
from onestop.cli import app
from onestop.store.schema import dossiers, events


@pytest.fixture
def busy(engine: Engine, clock: ManualClock) -> Engine:
    for unit in ("D1", "D2"):
        d = engine.receive("LAND", unit)
        for _ in range(2):
            clock.advance(timedelta(hours=2))
            engine.complete_step(d.id)
    return engine


def findings(engine: Engine) -> list[Finding]:
    return verify(engine.store)


def test_intact_log_verifies(busy: Engine) -> None:
    assert findings(busy) == []


def test_edited_event(busy: Engine) -> None:
    with busy.store.begin() as conn:
        conn.execute(
            update(events)
            .where(events.c.dossier_id == 1, events.c.seq == 2)
            .values(actor="mallory")
        )
    [found] = findings(busy)
    assert (found.dossier_id, found.seq, found.problem) == (1, 2, "edited")


def test_deleted_event_in_the_middle_and_at_the_end(busy: Engine) -> None:
    with busy.store.begin() as conn:
        conn.execute(delete(events).where(events.c.dossier_id == 1, events.c.seq == 2))
        conn.execute(delete(events).where(events.c.dossier_id == 2, events.c.seq == 3))
    found = {(f.dossier_id, f.seq, f.problem) for f in findings(busy)}
    assert found == {(1, 2, "deleted"), (2, 3, "deleted")}


def test_inserted_event(busy: Engine) -> None:
    with busy.store.begin() as conn:
        rows = (
            conn.execute(select(events).where(events.c.dossier_id == 1).order_by(events.c.seq))
            .mappings()
            .all()
        )
        # Shift later events up and slip a forged one in at seq 2.
        for row in reversed(rows[1:]):
            conn.execute(update(events).where(events.c.id == row["id"]).values(seq=row["seq"] + 1))
        forged = {k: v for k, v in dict(rows[1]).items() if k != "id"}
        forged.update(seq=2, actor="mallory", hash="0" * 64)
        conn.execute(insert(events).values(**forged))
    [found] = findings(busy)
    assert (found.dossier_id, found.seq, found.problem) == (1, 2, "inserted")


def test_edited_dossier_row(busy: Engine) -> None:
    with busy.store.begin() as conn:
        conn.execute(
            update(dossiers)
            .where(dossiers.c.id == 2)
            .values(due_at=datetime(2030, 1, 1, tzinfo=VN_TZ))
        )
    [found] = findings(busy)
    assert (found.dossier_id, found.problem) == (2, "row_edited") and "due_at" in found.detail


def test_rewritten_chain_caught_by_the_anchor(busy: Engine, clock: ManualClock) -> None:
    from onestop.store.event_log import GENESIS, chain_hash

    day = clock.now().date()
    anchor_day(busy.store, day, clock.now())
    assert findings(busy) == []
    # A careful forger re-hashes a whole dossier consistently...
    with busy.store.begin() as conn:
        rows = (
            conn.execute(select(events).where(events.c.dossier_id == 1).order_by(events.c.seq))
            .mappings()
            .all()
        )
        previous = GENESIS
        for row in rows:
            changed = dict(row)
            if row["seq"] == 1:
                changed["actor"] = "mallory"
            changed["hash"] = chain_hash(previous, changed)
            conn.execute(
                update(events)
                .where(events.c.id == row["id"])
                .values(actor=changed["actor"], hash=changed["hash"])
            )
            previous = changed["hash"]
        conn.execute(update(dossiers).where(dossiers.c.id == 1).values(event_hash=previous))
    # ...but the day's anchor no longer matches.
    assert [f.problem for f in findings(busy)] == ["anchor_mismatch"]


def test_verify_command(busy: Engine, db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the command test uses the SQLite file")
    path = db_url.removeprefix("sqlite:///")
    ok = CliRunner().invoke(app, ["verify", "--db", path, "--anchor", "2025-01-24"])
    assert ok.exit_code == 0, ok.output
    assert "event log intact" in ok.output
    with busy.store.begin() as conn:
        conn.execute(text("UPDATE events SET trigger = 'resolve' WHERE id = 3"))
    bad = CliRunner().invoke(app, ["verify", "--db", path])
    assert bad.exit_code == 1
    assert "edited" in bad.output and "1 problem(s) found" in bad.output
