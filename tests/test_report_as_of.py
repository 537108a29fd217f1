"""A report for a period as of an instant is the same whenever it is run: further commands after
that instant change nothing in it (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from onestop import Calendar, Engine, ManualClock, OnestopError
from onestop.periods import Period
from onestop.reports import on_time_report
from onestop.testing import reset_postgres

from .conftest import FIXTURES
from .helpers import dt

OPS = ["receive", "step", "ask", "answer", "resolve", "withdraw", "apologise", "wait"]
RECEIPTS = [("BIRTH", "W1"), ("COPY", "W2"), ("LAND", "D1"), ("JUDICIAL", "C")]
Op = tuple[str, int, int]
COMMANDS = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 50), st.integers(1, 40)), max_size=30
)


def apply(engine: Engine, clock: ManualClock, ids: list[int], op: Op) -> None:
    name, pick, hours = op
    if name == "wait":
        clock.advance(timedelta(hours=hours))
        return
    if name == "receive":
        procedure, unit = RECEIPTS[pick % len(RECEIPTS)]
        ids.append(engine.receive(procedure, unit).id)
        return
    if not ids:
        return
    target = ids[pick % len(ids)]
    try:
        if name == "step":
            engine.complete_step(target)
        elif name == "ask":
            engine.request_supplement(target, "thiếu giấy tờ", extra_reason="bổ sung thêm")
        elif name == "answer":
            engine.supplement(target)
        elif name == "resolve":
            engine.resolve(target)
        elif name == "withdraw":
            engine.withdraw(target)
        else:
            d = engine.get(target)
            later = (d.due_at or clock.now()) + timedelta(days=hours)
            engine.apologise(target, max(later, clock.now() + timedelta(days=1)), "chậm")
    except OnestopError:
        pass  # refused commands change nothing; the sequence goes on


def report_dicts(engine: Engine, period: Period, as_of: datetime) -> list[object]:
    return [
        on_time_report(engine.store, period, by, as_of=as_of).as_dict()
        for by in (["level"], ["unit"], ["agency"], ["procedure", "channel"])
    ]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(before=COMMANDS, after=COMMANDS)
@example(  # open in time at T, then resolved and withdrawn after it
    before=[("receive", 0, 1), ("receive", 2, 1), ("wait", 0, 2)],
    after=[("resolve", 0, 1), ("withdraw", 1, 1)],
)
@example(  # overdue at T, then apologised (new date) and answered after it
    before=[("receive", 1, 1), ("wait", 0, 30)],
    after=[("apologise", 0, 5), ("step", 0, 1), ("resolve", 0, 1)],
)
@example(  # paused at T, then answered (the deadline shifts) after it
    before=[("receive", 2, 1), ("wait", 0, 3), ("ask", 0, 1), ("wait", 0, 40)],
    after=[("answer", 0, 1), ("step", 0, 1), ("wait", 0, 40)],
)
def test_report_as_of_an_instant_never_changes(
    db_url: str, tmp_path: Path, calendar: Calendar, before: list[Op], after: list[Op]
) -> None:
    url = db_url
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
    else:
        reset_postgres(url)
    clock = ManualClock(dt(2025, 3, 3, 9, 0))
    engine = Engine.open(url, FIXTURES, clock=clock, calendar=calendar)
    try:
        ids: list[int] = []
        for op in before:
            apply(engine, clock, ids, op)
        as_of = clock.now() + timedelta(minutes=30)
        period = Period(dt(2025, 3, 1).date(), as_of.date(), "as-of")
        first = report_dicts(engine, period, as_of)
        clock.set(as_of + timedelta(minutes=1))
        for op in after:
            apply(engine, clock, ids, op)
        assert report_dicts(engine, period, as_of) == first
    finally:
        engine.store.dispose()


def test_the_event_log_rebuilds_the_states(engine: Engine, clock: ManualClock) -> None:
    from sqlalchemy import select

    from onestop.store import event_log
    from onestop.store.schema import events

    ids: list[int] = []
    script = [("receive", 0, 1), ("receive", 2, 1), ("wait", 0, 3), ("ask", 1, 1),
              ("wait", 0, 20), ("answer", 1, 1), ("step", 0, 1), ("apologise", 0, 3),
              ("resolve", 0, 1)]  # fmt: skip
    for op in script:
        apply(engine, clock, ids, op)
    query = select(events).order_by(events.c.dossier_id, events.c.seq)
    with engine.store.read() as uow:
        rows = [dict(r) for r in uow.conn.execute(query).mappings()]
    keys = ("id", "to_status", "agency", "due_at", "paused_at", "apologies")
    # What the engine wrote on each event, and what the migration's fold backfills.
    live = [tuple(r[k] for k in keys) for r in rows]
    rebuilt = [
        (s["id"], s["status"], s["agency"], s["due_at"], s["paused_at"], s["apologies"])
        for s in event_log.states(rows)
    ]
    # One state per accepted event: two receipts, ask, answer, step, apology (6); the resolve
    # is refused (BIRTH is at its second of four steps).
    assert len(live) == 6
    assert rebuilt == live
    # The LAND dossier's supplement request stopped its clock, recorded on that event.
    assert [r["paused_at"] is not None for r in rows if r["dossier_id"] == ids[1]] == [
        False,
        True,
        False,
    ]
