"""Integrity of writes: events keyed with the audit key (and refused without one), a refused
command inside a batch leaves nothing behind, ids are never handed out twice, the command's time
is read under the lock, and concurrent start-ups of one database are safe."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url

from onestop import VN_TZ, Calendar, Engine, ManualClock
from onestop.audit import audit
from onestop.errors import (
    AuditKeyError,
    InvalidTransition,
    OnestopError,
    StaleVersion,
    UnknownDossier,
    ValidationError,
)
from onestop.store import Store
from onestop.store.event_log import GENESIS, canonical, chain_hash
from onestop.store.schema import dossier_steps, dossiers, events, procedures
from onestop.testing import fingerprint, reset_postgres

from .conftest import FIXTURES, PG_URL, TEST_AUDIT_KEY

ROOT = Path(__file__).resolve().parent.parent
#: The procedures of tests/fixtures/workflows/procedures/tiny.yaml, sorted.
FIXTURE_PROCEDURES = ["BIRTH", "BUILD", "COPY", "JUDICIAL", "LAND"]


# -- the keyed chain ------------------------------------------------------------------------


def test_events_are_chained_with_hmac_under_the_audit_key(engine: Engine) -> None:
    d = engine.receive("LAND", "D1")
    engine.complete_step(d.id)
    with engine.store.begin() as conn:
        rows = conn.execute(select(events).order_by(events.c.seq)).mappings().all()
    secret = bytes.fromhex(TEST_AUDIT_KEY)
    assert [r["key_id"] for r in rows] == [hashlib.sha256(secret).hexdigest()[:16]] * 2
    # The second event's hash is HMAC-SHA-256 over the first's hash and its content: recomputed
    # here with the standard library, the plain SHA-256 of the same bytes does not match.
    message = rows[0]["hash"].encode() + canonical(dict(rows[1]))
    assert rows[1]["hash"] == hmac.new(secret, message, hashlib.sha256).hexdigest()
    assert rows[1]["hash"] != hashlib.sha256(message).hexdigest()


def test_commands_are_refused_without_an_audit_key(
    db_url: str, clock: ManualClock, calendar: Calendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONESTOP_AUDIT_KEY", raising=False)
    monkeypatch.delenv("ONESTOP_AUDIT_KEY_FILE", raising=False)
    engine = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar)
    before = fingerprint(engine)
    with pytest.raises(AuditKeyError, match="onestop keygen --out audit.key"):
        engine.receive("LAND", "D1")
    assert fingerprint(engine) == before
    # Development mode says so: the chain is plain SHA-256 and verify counts it.
    dev = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar, dev=True)
    dev.receive("LAND", "D1")
    with dev.store.begin() as conn:
        assert conn.execute(select(events.c.key_id)).scalars().all() == [None]
    report = audit(dev.store)
    assert report.findings == []
    assert report.notes[0].startswith("1 event(s) chained without an audit key")
    engine.store.dispose()
    dev.store.dispose()


# -- batches ----------------------------------------------------------------------------------


def test_refused_commands_in_a_batch_leave_nothing_and_the_batch_goes_on(
    engine: Engine, clock: ManualClock
) -> None:
    first = engine.receive("LAND", "D1")
    done = engine.receive("BIRTH", "W1")
    clock.advance(timedelta(hours=1))
    before = fingerprint(engine)
    refusals: list[tuple[type[OnestopError], Callable[[], object]]] = [
        (InvalidTransition, lambda: engine.return_result(first.id)),
        (StaleVersion, lambda: engine.complete_step(first.id, expected_version=7)),
        (ValidationError, lambda: engine.complete_step(2**63)),
        (UnknownDossier, lambda: engine.complete_step(2**62)),
        (ValidationError, lambda: engine.complete_step(-1)),
        (ValidationError, lambda: engine.request_payment(first.id, 2**70, reason="phí")),
        (ValidationError, lambda: engine.suspend(first.id, "lý do\x00")),
        (ValidationError, lambda: engine.receive("LAND", "D1", reference="R\u202e1")),
    ]
    with engine.batch():
        for error, command in refusals:
            with pytest.raises(error):
                command()
    # Refusals only: the batch committed nothing at all.
    assert fingerprint(engine) == before
    with engine.batch():
        moved = engine.complete_step(first.id)
        for error, command in refusals:
            with pytest.raises(error):
                command()
        later = engine.receive("COPY", "W1")
    # The commands around the refusals are there, whole: the dossier moved once, its steps
    # with it, and the dossier received after the refusals exists.
    assert engine.get(first.id).version == moved.version == 2
    assert [(s.seq, s.completed_at is not None) for s in engine.steps(first.id)] == [
        (0, True),
        (1, False),
    ]
    assert engine.get(later.id).procedure_code == "COPY"
    assert engine.get(done.id).version == 1
    assert audit(engine.store).findings == []


# -- ids --------------------------------------------------------------------------------------


def test_dossier_ids_are_never_handed_out_twice(engine: Engine) -> None:
    ids = [engine.receive("COPY", "W1").id for _ in range(3)]
    assert ids == [1, 2, 3]
    # The newest dossier is deleted (as an archive purge, or a forger, would): its id stays
    # used, and so do its events' ids.
    with engine.store.begin() as conn:
        last_event = conn.execute(select(func.max(events.c.id))).scalar_one()
        for table in (events, dossier_steps):
            conn.execute(delete(table).where(table.c.dossier_id == 3))
        conn.execute(delete(dossiers).where(dossiers.c.id == 3))
    new = engine.receive("COPY", "W1")
    assert new.id == 4
    with engine.store.begin() as conn:
        assert conn.execute(select(events.c.id).where(events.c.dossier_id == 4)).scalar() == (
            last_event + 1
        )


def test_upgrade_to_keyed_chains_keeps_the_log_and_says_what_is_unkeyed(
    tmp_path: Path, clock: ManualClock, calendar: Calendar
) -> None:
    """A database written at revision 0010 (plain chains) is migrated to 0011 (tables rebuilt
    with AUTOINCREMENT on SQLite): every row stays, verify is clean and counts the old events."""
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "onestop" / "store" / "migrations"))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010")
    old = sqlite3.connect(tmp_path / "old.db")
    # Two dossiers written by a 0010 engine: rows copied from a 0011 database, their events
    # re-chained as 0010 did (plain SHA-256, no key id, no step records).
    new = Engine.open(f"sqlite:///{tmp_path / 'new.db'}", FIXTURES, clock=clock, calendar=calendar)
    d = new.receive("LAND", "D1")
    new.complete_step(d.id)
    new.receive("COPY", "W1")
    _copy_as_0010(tmp_path / "new.db", old)
    old.close()
    migrated = Engine.open(url, FIXTURES, clock=clock, calendar=calendar)
    with migrated.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 3
        sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'dossiers'")).scalar()
    assert "AUTOINCREMENT" in str(sql)
    report = audit(migrated.store)
    assert report.findings == []
    assert report.notes[:2] == [
        "3 event(s) chained without an audit key (development mode, or written before keyed "
        "chains): anyone who can write to the database can recompute their chain; only the "
        "anchors protect them",
        "2 dossier(s) have events older than step records (migration 0011): their steps are "
        "not checked",
    ]
    # New events are keyed, after the old ones: the log verifies.
    migrated.complete_step(d.id)
    assert audit(migrated.store).findings == []


def _copy_as_0010(source: Path, target: sqlite3.Connection) -> None:
    """Copy a database's dossiers, steps and events into a revision-0010 database, the events
    as 0010 wrote them: no step records, no key id, a plain SHA-256 chain."""
    src = sqlite3.connect(source)
    src.row_factory = sqlite3.Row
    for name in ("dossiers", "dossier_steps", "events"):
        columns = [c[1] for c in target.execute(f"PRAGMA table_info({name})")]
        for row in src.execute(f"SELECT * FROM {name} ORDER BY 1"):
            # (0010's applicant columns left the dossier row for the vault in 0014.)
            present = set(row.keys())  # (a sqlite3.Row's "in" looks at its values)
            keep = {k: row[k] for k in columns if k in present}
            marks = ", ".join("?" for _ in keep)
            names = ", ".join(f'"{k}"' for k in keep)
            target.execute(f"INSERT INTO {name} ({names}) VALUES ({marks})", list(keep.values()))
    heads: dict[int, str] = {}
    for row in target.execute("SELECT * FROM events ORDER BY id").fetchall():
        ev = dict(
            zip([c[1] for c in target.execute("PRAGMA table_info(events)")], row, strict=True)
        )
        data = json.loads(ev["data"])
        del data["steps"]
        ev.update(data=data, at=datetime.fromisoformat(ev["at"]).replace(tzinfo=UTC))
        digest = chain_hash(heads.get(ev["dossier_id"], GENESIS), ev)
        heads[ev["dossier_id"]] = digest
        target.execute(
            "UPDATE events SET data = ?, hash = ? WHERE id = ?",
            [json.dumps(data, ensure_ascii=False), digest, ev["id"]],
        )
    for dossier_id, head in heads.items():
        target.execute("UPDATE dossiers SET event_hash = ? WHERE id = ?", [head, dossier_id])
    target.commit()
    src.close()


# -- the command's time ----------------------------------------------------------------------


class ProbeClock(ManualClock):
    """A manual clock that, when read, asks a probe whether the command holds its lock."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.probe: Callable[[], bool] | None = None
        self.locked: list[bool] = []

    def now(self) -> datetime:
        if self.probe is not None:
            self.locked.append(self.probe())
        return super().now()


def test_the_command_time_is_read_once_the_dossier_is_locked(
    db_url: str, calendar: Calendar
) -> None:
    """Read before the lock, a command waiting for another writer would stamp its event earlier
    than the event written meanwhile: the log's times would go backwards."""
    clock = ProbeClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))
    engine = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar)
    d = engine.receive("LAND", "D1")
    url = make_url(db_url)

    def sqlite_locked() -> bool:
        other = sqlite3.connect(str(url.database), timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            other.close()

    def row_locked() -> bool:
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=False) as other:
            try:
                other.execute("SELECT id FROM dossiers WHERE id = %s FOR UPDATE NOWAIT", [d.id])
                return False
            except psycopg.errors.LockNotAvailable:
                return True

    clock.probe = sqlite_locked if url.get_backend_name() == "sqlite" else row_locked
    engine.complete_step(d.id)
    engine.suspend(d.id, "chờ ý kiến")
    assert clock.locked == [True, True]
    engine.store.dispose()


# -- start-up -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_start_ups_of_a_new_database(backend: str, tmp_path: Path) -> None:
    """Four processes open (migrate and sync definitions into) one new database at once."""
    if backend == "postgresql":
        if not PG_URL:
            pytest.skip("PostgreSQL not configured: set ONESTOP_PG_URL (.ci/run does)")
        reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path / 'new.db'}"
    script = (
        "import sys\nfrom onestop import Engine\n"
        "Engine.open(sys.argv[1], sys.argv[2]).store.dispose()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, str(FIXTURES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )  # fmt: skip
        for _ in range(4)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
    store = Store(url)
    assert store.revisions()[0] == store.revisions()[1]
    with store.begin() as conn:
        # The fixture catalog's procedures (one version each), stored once whatever the
        # interleaving of the four syncs.
        codes = conn.execute(select(procedures.c.code).order_by(procedures.c.code)).scalars()
        assert list(codes) == FIXTURE_PROCEDURES
    store.dispose()
