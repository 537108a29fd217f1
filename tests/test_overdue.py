"""One overdue predicate: the Python form, the worklist, the report and the alert sweep agree,
and the SQL clause matches the predicate on random rows (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from onestop import Engine, ManualClock
from onestop.alerts import AlertSweeper
from onestop.periods import Period
from onestop.reports import on_time_report
from onestop.status import Status
from onestop.store import EMPTY_ROW, clauses
from onestop.store.schema import dossiers
from onestop.timeliness import is_due_soon, is_overdue

from .helpers import dt


def test_paused_before_and_after_the_appointment(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))  # Monday; BIRTH: 3 working days, due Thursday 09:00
    early = engine.receive("BIRTH", "W1")
    late = engine.receive("BIRTH", "W2")
    running = engine.receive("BIRTH", "W3")
    assert early.due_at == late.due_at == dt(2025, 3, 6, 9, 0)
    clock.set(dt(2025, 3, 3, 10, 0))  # the desk hands over; justice's step is due 4 March 10:00
    for d in (early, late, running):
        assert engine.complete_step(d.id).step_due_at == dt(2025, 3, 4, 10, 0)
    clock.set(dt(2025, 3, 4, 9, 0))  # before both due times
    engine.request_supplement(early.id, "thiếu giấy chứng sinh")
    clock.set(dt(2025, 3, 7, 9, 0))  # a day after it
    engine.request_supplement(late.id, "thiếu giấy chứng sinh")
    engine.request_supplement(running.id, "thiếu giấy chứng sinh")
    engine.supplement(running.id)
    # A second request does not stop the clock (reason recorded).
    engine.request_supplement(running.id, "thiếu tờ khai", extra_reason="giấy mới phát sinh")
    now = dt(2025, 4, 15, 9, 0)  # 30 days past the appointment
    clock.set(now)

    by_hand = {early.id: False, late.id: True, running.id: True}
    rows = {d.id: d for d in (engine.get(i) for i in by_hand)}
    assert rows[running.id].status is Status.SUPPLEMENT_REQUESTED
    assert rows[running.id].paused_at is None
    assert {i: is_overdue(d.status, d.due_at, d.paused_at, now) for i, d in rows.items()} == by_hand
    worklist = {d.id for d in engine.open_dossiers(overdue_at=now)}
    assert worklist == {late.id, running.id}
    report = on_time_report(engine.store, Period.parse("2025"), ["unit"], as_of=now)
    overdue_by_unit = {r.key["unit"]: (r.open_in_time, r.open_overdue) for r in report.rows}
    assert overdue_by_unit == {"W1": (1, 0), "W2": (0, 1), "W3": (0, 1)}
    alerts = AlertSweeper(engine.store, engine.clock, engine.calendar).sweep(now)
    overdue_alerts = {(a.dossier_id, a.scope) for a in alerts if a.kind == "overdue"}
    assert overdue_alerts == {
        (late.id, "dossier"),
        (late.id, "step"),
        (running.id, "dossier"),
        (running.id, "step"),
    }


OPEN_OR_NOT = st.sampled_from([s.value for s in Status if s is not Status.NEW])
BASE = dt(2025, 3, 3, 7, 0)
MINUTES = st.integers(min_value=0, max_value=60 * 24 * 20)


def _at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


@given(rows=st.lists(
    st.tuples(OPEN_OR_NOT, st.none() | MINUTES, st.none() | MINUTES), min_size=1, max_size=12
), at=MINUTES)  # fmt: skip
@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(rows=[("received", 100, None)], at=100)  # due exactly now: not yet overdue
@example(rows=[("received", 99, None)], at=100)
@example(rows=[("suspended", 100, 100)], at=200)  # stopped at the due instant: not overdue
@example(rows=[("suspended", 100, 101)], at=200)
@example(rows=[("supplement_requested", 100, 300)], at=200)  # stop after the judgement instant
@example(rows=[("processing", None, None)], at=200)
@example(rows=[("processing", 200 + 8 * 60, None)], at=200)  # due at the due-soon horizon
@example(rows=[("resolved", 1, None)], at=200)
def test_sql_clause_matches_the_predicate(
    engine: Engine, rows: list[tuple[str, int | None, int | None]], at: int
) -> None:
    with engine.store.write() as uow:
        uow.conn.execute(dossiers.delete())
        ids = []
        for status, due, paused in rows:
            values = {
                **EMPTY_ROW, "unit_set": "tiny", "rule_set": "r", "procedure_code": "P",
                "procedure_version": 1, "field": "f", "level": "commune", "competent_unit": "W1",
                "intake_unit": "W1", "intake_mode": "normal", "channel": "counter",
                "return_method": "counter", "status": status, "status_code": 0, "step_index": 0,
                "step_count": 1, "apologies": 0, "supplements_requested": 0,
                "created_at": BASE, "updated_at": BASE,
                "due_at": None if due is None else _at(due),
                "step_due_at": None if due is None else _at(due),
                "paused_at": None if paused is None else _at(paused),
            }  # fmt: skip
            del values["id"], values["version"]
            ids.append(uow.insert_dossier(values))
    moment, horizon = _at(at), _at(at + 8 * 60)

    def parsed(
        row: tuple[str, int | None, int | None],
    ) -> tuple[str, datetime | None, datetime | None]:
        status, due, paused = row
        return status, None if due is None else _at(due), None if paused is None else _at(paused)

    overdue = {i for i, row in zip(ids, rows, strict=True) if is_overdue(*parsed(row), moment)}
    soon = {
        i for i, row in zip(ids, rows, strict=True) if is_due_soon(*parsed(row), moment, horizon)
    }
    with engine.store.read() as uow:
        for column in (dossiers.c.due_at, dossiers.c.step_due_at):
            query = select(dossiers.c.id).where(clauses.overdue(column, moment))
            assert {r[0] for r in uow.conn.execute(query)} == overdue
            query = select(dossiers.c.id).where(clauses.due_soon(column, moment, horizon))
            assert {r[0] for r in uow.conn.execute(query)} == soon
