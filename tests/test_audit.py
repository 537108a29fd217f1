"""Tamper evidence: editing, deleting or inserting events directly in the database is found."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text, update
from typer.testing import CliRunner

from onestop import VN_TZ, Engine, ManualClock
from onestop.audit import Finding, verify
from onestop.cli import app
from onestop.store.schema import dossiers, events

from .conftest import TEST_AUDIT_KEY


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


def test_verify_command(busy: Engine, db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the command test uses the SQLite file")
    path = db_url.removeprefix("sqlite:///")
    ok = CliRunner().invoke(app, ["verify", "--db", path])
    assert ok.exit_code == 0, ok.output
    assert "event log intact" in ok.output
    with busy.store.begin() as conn:
        conn.execute(text("UPDATE events SET trigger = 'resolve' WHERE id = 3"))
    bad = CliRunner().invoke(app, ["verify", "--db", path])
    assert bad.exit_code == 1
    assert "edited" in bad.output and "1 problem(s) found" in bad.output


def test_keygen_anchor_and_verify_commands(
    busy: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the command test uses the SQLite file")
    path = db_url.removeprefix("sqlite:///")
    runner = CliRunner()
    key_file, anchors = tmp_path / "audit.key", tmp_path / "anchors.jsonl"
    # No key: anchoring is refused, saying how to make one.
    monkeypatch.delenv("ONESTOP_AUDIT_KEY", raising=False)
    monkeypatch.delenv("ONESTOP_AUDIT_KEY_FILE", raising=False)
    refused = runner.invoke(app, ["anchor", "--db", path, "--through", "2025-01-24"])
    assert refused.exit_code == 2 and "onestop keygen --out" in refused.output
    made = runner.invoke(app, ["keygen", "--out", str(key_file)])
    assert made.exit_code == 0 and oct(key_file.stat().st_mode & 0o777) == "0o600"
    again = runner.invoke(app, ["keygen", "--out", str(key_file)])
    assert again.exit_code == 2 and "never overwritten" in again.output
    # The busy fixture chained its events with the session's key (conftest): the operator's
    # key file holds that one.
    session_key = tmp_path / "session.key"
    session_key.write_text(TEST_AUDIT_KEY + "\n")
    monkeypatch.setenv("ONESTOP_AUDIT_KEY_FILE", str(session_key))
    # The busy fixture's events are on Friday 24 January 2025 (the clock's day).
    done = runner.invoke(
        app, ["anchor", "--db", path, "--through", "2025-01-24", "--file", str(anchors)]
    )
    assert done.exit_code == 0, done.output
    assert "anchored 2025-01-24 to 2025-01-24 (1 day(s)), sealed with key" in done.output
    twice = runner.invoke(app, ["anchor", "--db", path, "--through", "2025-01-24"])
    assert twice.exit_code == 2 and "2025-01-24 is already anchored" in twice.output
    ok = runner.invoke(app, ["verify", "--db", path, "--anchors", str(anchors)])
    assert ok.exit_code == 0, ok.output
    with busy.store.begin() as conn:
        conn.execute(text("DELETE FROM anchors"))
    gone = runner.invoke(app, ["verify", "--db", path, "--anchors", str(anchors)])
    assert gone.exit_code == 1
    assert "the anchor of 2025-01-24 is not in the database" in gone.output
