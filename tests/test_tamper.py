"""The tamper suite: a forger with full write access to the database and onestop's source code,
but neither the audit key nor the external anchor file, edits the database directly; every case
must be found, naming what was touched. The engine chains events with the session's audit key
(conftest), which is KEY here.

The log: four dossiers over three days (Monday 3 to Wednesday 5 March 2025), anchored through
Tuesday into the database and the external file; Wednesday's events are not anchored yet.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, insert, select, text, update

from onestop import Engine, ManualClock
from onestop.anchors import anchor_through, day_digest
from onestop.audit import Finding, audit
from onestop.audit_key import AuditKey
from onestop.errors import AnchorError
from onestop.rollups import snapshot_range
from onestop.store.event_log import GENESIS, chain_hash, replay_rows, replay_steps
from onestop.store.schema import (
    anchors,
    daily_rollups,
    dossier_steps,
    dossiers,
    events,
    idempotency_keys,
)
from onestop.testing import fingerprint

from .conftest import TEST_AUDIT_KEY
from .helpers import dt

KEY = AuditKey.from_text(TEST_AUDIT_KEY)
#: A key the forger makes up: anchors sealed with it do not verify under KEY.
FORGED_KEY = AuditKey.from_text("a5" * 32)
MONDAY, TUESDAY = date(2025, 3, 3), date(2025, 3, 4)


class Log:
    """The engine, its anchor file, and the forger's tools."""

    def __init__(self, engine: Engine, clock: ManualClock, file: Path) -> None:
        self.engine, self.clock, self.file = engine, clock, file

    def found(self) -> list[tuple[int | None, int | None, str]]:
        """(dossier, event, problem) of every finding, checked against the file with the key."""
        return [(f.dossier_id, f.seq, f.problem) for f in self.findings()]

    def findings(self) -> list[Finding]:
        return audit(self.engine.store, KEY, self.file).findings

    def forge(self, change: Callable[[Connection], object]) -> None:
        with self.engine.store.begin() as conn:
            change(conn)


@pytest.fixture
def log(engine: Engine, clock: ManualClock, tmp_path: Path) -> Log:
    clock.set(dt(2025, 3, 3, 8, 0))
    ids = []
    for unit in ("D1", "D2"):
        d = engine.receive("LAND", unit, idempotency_key=f"receive-{unit}")
        ids.append(d.id)
        clock.advance(timedelta(hours=2))
        engine.complete_step(d.id)
    clock.set(dt(2025, 3, 4, 9, 0))
    for d_id in ids:
        engine.complete_step(d_id, idempotency_key=f"step-{d_id}")
    ids.append(engine.receive("BIRTH", "W1").id)
    clock.set(dt(2025, 3, 5, 9, 0))
    engine.receive("COPY", "W1")
    snapshot_range(engine.store, MONDAY, TUESDAY, dt(2025, 3, 5, 0, 5))
    file = tmp_path / "anchors.jsonl"
    anchor_through(engine.store, TUESDAY, clock.now(), KEY, file=file)
    return Log(engine, clock, file)


def test_intact_log_verifies_and_says_what_is_not_anchored(log: Log) -> None:
    report = audit(log.engine.store, KEY, log.file)
    assert report.findings == []
    assert report.notes == ["1 event(s) after 2025-03-04 are not anchored yet (`onestop anchor`)"]
    lines = log.file.read_text().splitlines()
    assert [json.loads(line)["day"] for line in lines] == ["2025-03-03", "2025-03-04"]
    assert json.loads(lines[1])["prev"] == json.loads(lines[0])["hash"]


# -- the eight cases found before keyed anchors -----------------------------------------------


def test_1_edited_event(log: Log) -> None:
    log.forge(lambda c: c.execute(
        update(events).where(events.c.dossier_id == 1, events.c.seq == 2).values(actor="mallory")
    ))  # fmt: skip
    # Its stored hash is untouched, so the anchors (over the hashes) still match: the chain finds it.
    assert log.found() == [(1, 2, "edited")]


def test_2_deleted_event_in_the_middle(log: Log) -> None:
    log.forge(
        lambda c: c.execute(delete(events).where(events.c.dossier_id == 2, events.c.seq == 2))
    )
    assert (2, 2, "deleted") in log.found()


def test_3_deleted_latest_event(log: Log) -> None:
    log.forge(lambda c: c.execute(delete(events).where(events.c.dossier_id == 4)))
    assert log.found() == [(4, 1, "deleted")]  # Wednesday's: not anchored, found by the row


def test_4_inserted_event_with_renumbering(log: Log) -> None:
    def change(conn: Connection) -> None:
        rows = conn.execute(select(events).where(events.c.dossier_id == 1)
                            .order_by(events.c.seq)).mappings().all()  # fmt: skip
        for row in reversed(rows[1:]):
            conn.execute(update(events).where(events.c.id == row["id"]).values(seq=row["seq"] + 1))
        forged = {k: v for k, v in dict(rows[1]).items() if k != "id"}
        conn.execute(events.insert().values(**{**forged, "seq": 2, "hash": "0" * 64}))

    log.forge(change)
    assert (1, 2, "inserted") in log.found()


def test_5_edited_dossier_row(log: Log) -> None:
    log.forge(lambda c: c.execute(
        update(dossiers).where(dossiers.c.id == 2).values(due_at=dt(2030, 1, 1))
    ))  # fmt: skip
    [found] = log.findings()
    assert (found.dossier_id, found.problem) == (2, "row_edited") and "due_at" in found.detail


def _rewrite(
    conn: Connection, dossier_id: int, key: AuditKey | None = None, *, downgrade: bool = False
) -> None:
    """Re-chain a dossier consistently with one event changed, as the forger can: with a key of
    their own (or none), leaving the key id (or, ``downgrade``, marking the events unkeyed)."""
    rows = conn.execute(select(events).where(events.c.dossier_id == dossier_id)
                        .order_by(events.c.seq)).mappings().all()  # fmt: skip
    previous = GENESIS
    for row in rows:
        changed = {**dict(row), "actor": "mallory" if row["seq"] == 1 else row["actor"]}
        changed["hash"] = chain_hash(previous, changed, key)
        values = {"actor": changed["actor"], "hash": changed["hash"]}
        if downgrade:
            values["key_id"] = None
        conn.execute(update(events).where(events.c.id == row["id"]).values(**values))
        previous = changed["hash"]
    conn.execute(update(dossiers).where(dossiers.c.id == dossier_id).values(event_hash=previous))


def test_6_consistently_rewritten_dossier(log: Log) -> None:
    log.forge(lambda c: _rewrite(c, 1, FORGED_KEY))
    # The chain is keyed: re-chained without KEY, its first event no longer checks out. The
    # stored results of its two keyed commands carry the old chain head, and both days'
    # anchors (database and file) the old event hashes.
    assert (
        log.found()
        == [(1, 1, "edited"), (1, 1, "result_edited"), (1, 3, "result_edited")]
        + [(None, None, "anchor_mismatch")] * 4
    )
    assert log.findings()[0].detail == "content does not match its hash"


def test_6b_rewritten_dossier_downgraded_to_an_unkeyed_chain(log: Log) -> None:
    """The forger marks a dossier's events as unkeyed (as development mode writes them) and
    recomputes the plain SHA-256 chain, which needs no key."""
    log.forge(lambda c: _rewrite(c, 2, None, downgrade=True))
    found = log.findings()
    # Dossier 1's first event (id 1) was keyed before dossier 2's events were written.
    assert (found[0].dossier_id, found[0].seq, found[0].problem) == (2, 1, "unkeyed")
    assert found[0].detail == "chained without the audit key after keyed events began"


def test_6c_events_chained_with_another_key(log: Log) -> None:
    """The forger re-chains with a key of their own and writes its id on the events."""

    def change(conn: Connection) -> None:
        _rewrite(conn, 3, FORGED_KEY)
        conn.execute(update(events).where(events.c.dossier_id == 3)
                     .values(key_id=FORGED_KEY.key_id))  # fmt: skip

    log.forge(change)
    found = log.findings()
    assert (found[0].dossier_id, found[0].seq, found[0].problem) == (3, 1, "edited")
    assert found[0].detail == f"chained with audit key {FORGED_KEY.key_id}, not the key at hand"


def test_7_dossier_without_events(log: Log) -> None:
    log.forge(lambda c: c.execute(delete(events).where(events.c.dossier_id == 3)))
    assert (3, 1, "deleted") in log.found()


def test_8_events_of_a_dossier_that_does_not_exist(log: Log) -> None:
    """The dossier row goes, its events stay (foreign keys switched off, as a forger can)."""
    store = log.engine.store
    if store.engine.dialect.name == "sqlite":
        raw = sqlite3.connect(str(store.engine.url.database))
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute("DELETE FROM dossier_steps WHERE dossier_id = 4")
        raw.execute("DELETE FROM dossiers WHERE id = 4")
        raw.commit()
        raw.close()
    else:
        log.forge(lambda c: (c.execute(text("SET LOCAL session_replication_role = replica")),
                             c.execute(delete(dossier_steps).where(dossier_steps.c.dossier_id == 4)),
                             c.execute(delete(dossiers).where(dossiers.c.id == 4))))  # fmt: skip
    assert log.found() == [(4, None, "inserted")]


# -- the ten cases missed before keyed, chained, external anchors -----------------------------


def test_9_rewritten_dossier_with_recomputed_anchors(log: Log) -> None:
    """The forger re-chains a dossier and re-seals the anchors with a key of their own."""

    def change(conn: Connection) -> None:
        _rewrite(conn, 1)
        conn.execute(delete(anchors))

    log.forge(change)
    anchor_through(log.engine.store, TUESDAY, log.clock.now(), FORGED_KEY)
    found = log.findings()
    # The re-sealed anchors cannot be checked without their key; the file (sealed with KEY,
    # intact) says both days' anchors and events changed.
    assert {f.problem for f in found} == {"edited", "result_edited", "anchor_mismatch"}
    assert sum("differs from the file" in f.detail for f in found) == 2
    assert sum("changed since they were anchored" in f.detail for f in found) == 2
    notes = audit(log.engine.store, KEY, log.file).notes
    assert notes[0] == (
        f"2 anchor seal(s) not checked: made with audit key(s) {FORGED_KEY.key_id}, not at hand"
    )


def test_10_anchoring_an_anchored_day_again_is_refused(log: Log) -> None:
    before = fingerprint(log.engine)
    with pytest.raises(AnchorError, match="2025-03-04 is already anchored"):
        anchor_through(log.engine.store, TUESDAY, log.clock.now(), KEY)
    assert fingerprint(log.engine) == before
    # Overwriting an anchor row by hand does not help either: its seal no longer checks out.
    log.forge(lambda c: c.execute(update(anchors).where(anchors.c.day == MONDAY).values(events=9)))
    assert "anchor_mismatch" in {p for _, _, p in log.found()}


def test_11_deleted_whole_dossier(log: Log) -> None:
    def change(conn: Connection) -> None:
        for table in (events, dossier_steps, idempotency_keys):
            conn.execute(delete(table).where(table.c.dossier_id == 2))
        conn.execute(delete(dossiers).where(dossiers.c.id == 2))

    log.forge(change)
    found = log.findings()
    # Both days' rollups counted it (received Monday, open at the end of Tuesday), and both
    # days' anchors (database and file) its events.
    assert [f.problem for f in found] == ["rollup_edited"] * 2 + ["anchor_mismatch"] * 4
    # Monday had 4 events (two receipts, two hand-overs); dossier 2's two are gone.
    assert (
        found[2].detail == "events of 2025-03-03 changed since they were anchored (4 then, 2 now)"
    )


def test_12_truncated_newest_events(log: Log) -> None:
    """Tuesday's last event of dossier 2 is removed and its row set back to the replay."""

    def change(conn: Connection) -> None:
        conn.execute(delete(events).where(events.c.dossier_id == 2, events.c.seq == 3))
        history = conn.execute(select(events).where(events.c.dossier_id == 2)
                               .order_by(events.c.seq)).mappings().all()  # fmt: skip
        row = replay_rows([dict(h) for h in history])
        conn.execute(update(dossiers).where(dossiers.c.id == 2).values(**row))
        # The steps set back to what the remaining events recorded.
        conn.execute(delete(dossier_steps).where(dossier_steps.c.dossier_id == 2))
        steps = replay_steps([dict(h) for h in history]) or {}
        conn.execute(insert(dossier_steps), [{**v, "dossier_id": 2} for v in steps.values()])
        conn.execute(delete(idempotency_keys).where(idempotency_keys.c.dossier_id == 2))

    log.forge(change)
    found = log.findings()
    assert [f.problem for f in found] == ["anchor_mismatch"] * 2
    assert all("2025-03-04" in f.detail for f in found)


def test_13_deleted_anchor_rows(log: Log) -> None:
    log.forge(lambda c: c.execute(delete(anchors).where(anchors.c.day == TUESDAY)))
    # The newest anchor gone: the database alone cannot tell, the external file can.
    assert log.found() == [(None, None, "anchor_missing")]
    assert "the anchor of 2025-03-04 is not in the database" in log.findings()[0].detail
    log.forge(lambda c: c.execute(delete(anchors)))
    assert log.found() == [(None, None, "anchor_missing")] * 2


def test_13b_deleted_anchor_in_the_middle_breaks_the_chain(log: Log) -> None:
    log.clock.set(dt(2025, 3, 7, 9, 0))
    anchor_through(log.engine.store, date(2025, 3, 6), log.clock.now(), KEY, file=log.file)
    log.forge(lambda c: c.execute(delete(anchors).where(anchors.c.day == TUESDAY)))
    report = audit(log.engine.store, KEY)  # without the file
    assert [f.detail for f in report.findings] == [
        "no anchor from 2025-03-04 to 2025-03-04",
        "the anchor of 2025-03-05 does not follow the anchor of 2025-03-03",
    ]


def test_14_emptied_database(log: Log) -> None:
    def change(conn: Connection) -> None:
        for table in (daily_rollups, anchors, idempotency_keys, dossier_steps, events, dossiers):
            conn.execute(delete(table))

    log.forge(change)
    found = log.findings()
    assert {f.problem for f in found} == {"anchor_missing", "anchor_mismatch"}
    assert len(found) == 4  # two days: each missing, and its events gone


def test_15_edited_steps(log: Log) -> None:
    """A step's completion time moved (steps feed "late steps by agency"), one deleted, one
    added: the steps the events recorded say otherwise."""
    log.forge(lambda c: c.execute(
        update(dossier_steps).where(dossier_steps.c.dossier_id == 1, dossier_steps.c.seq == 0)
        .values(completed_at=dt(2025, 3, 3, 9, 0), timeliness="early")
    ))  # fmt: skip
    [found] = log.findings()
    assert (found.dossier_id, found.seq, found.problem) == (1, None, "steps_edited")
    assert found.detail == "step 0: completed_at, timeliness"
    log.forge(lambda c: c.execute(
        delete(dossier_steps).where(dossier_steps.c.dossier_id == 2, dossier_steps.c.seq == 2)
    ))  # fmt: skip
    assert log.found()[1] == (2, None, "steps_edited")
    assert log.findings()[1].detail == "step 2 is missing"


def test_15b_edited_deadline_columns_of_an_event(log: Log) -> None:
    """Events carry the deadline after them outside the hash (for as-of reports): editing it
    is found against the hashed data."""
    log.forge(lambda c: c.execute(
        update(events).where(events.c.dossier_id == 2, events.c.seq == 2)
        .values(due_at=dt(2030, 1, 1, 17, 0))
    ))  # fmt: skip
    assert log.found() == [(2, 2, "derived_edited")]


def test_16_swapped_event_ids(log: Log) -> None:
    """Two events of Monday trade ids (the log's order), content untouched."""

    def change(conn: Connection) -> None:
        a, b = conn.execute(select(events.c.id).where(events.c.dossier_id == 1)
                            .order_by(events.c.seq).limit(2)).scalars().all()  # fmt: skip
        conn.execute(update(events).where(events.c.id == a).values(id=-1))
        conn.execute(update(events).where(events.c.id == b).values(id=a))
        conn.execute(update(events).where(events.c.id == -1).values(id=b))

    log.forge(change)
    found = log.found()
    assert (1, 2, "reordered") in found and (None, None, "anchor_mismatch") in found


def test_17_edited_idempotency_result(log: Log) -> None:
    def change(conn: Connection) -> None:
        # Keys are stored scoped (a digest of user, command, dossier and key): "step-1" is the
        # one complete_step of dossier 1.
        k = idempotency_keys.c
        mine = (k.dossier_id == 1, k.command == "complete_step")
        stored = conn.execute(select(k.result).where(*mine)).scalar_one()
        conn.execute(update(idempotency_keys).where(*mine)
                     .values(result={**stored, "current_agency": "D1-LAND"}))  # fmt: skip

    log.forge(change)
    [found] = log.findings()
    assert (found.dossier_id, found.seq, found.problem) == (1, 3, "result_edited")
    assert found.detail.startswith("idempotency key '")
    assert found.detail.endswith("': current_agency")


def test_18_edited_rollup(log: Log) -> None:
    log.forge(lambda c: c.execute(
        update(daily_rollups).where(daily_rollups.c.day == MONDAY).values(received=7)
    ))  # fmt: skip
    [found] = log.findings()
    assert found.problem == "rollup_edited" and "daily_rollups of 2025-03-03" in found.detail


def test_edited_anchor_file_line(log: Log) -> None:
    lines = log.file.read_text().splitlines()
    line = json.loads(lines[0])
    log.file.write_text(json.dumps({**line, "events": 99}) + "\n" + lines[1] + "\n")
    # The line's hash and chain are untouched, so it still matches the database's row.
    assert [f.detail.split(": ", 1)[1] for f in log.findings()] == [
        "the line's seal is not valid",
        "events of 2025-03-03 changed since they were anchored (99 then, 4 now)",
    ]


def test_anchors_need_the_day_to_be_over(log: Log) -> None:
    with pytest.raises(AnchorError, match="2025-03-05 is not over yet"):
        anchor_through(log.engine.store, date(2025, 3, 5), log.clock.now(), KEY)


def test_anchors_cover_days_without_events(log: Log) -> None:
    log.clock.set(dt(2025, 3, 10, 9, 0))
    new = anchor_through(log.engine.store, date(2025, 3, 9), log.clock.now(), KEY, file=log.file)
    assert [(a.day.day, a.events) for a in new] == [(5, 1), (6, 0), (7, 0), (8, 0), (9, 0)]
    with log.engine.store.read() as uow:
        assert day_digest(uow, date(2025, 3, 6))[0] == 0
    assert log.found() == []
