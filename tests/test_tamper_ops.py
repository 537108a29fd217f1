"""The tamper suite for the operational records: the alerts table, checked against the event
log under the one overdue / due-soon rule, and the scheduler's job runs, checked for order,
overlap and each sweep's count of alerts. The forger writes anything in the database; every
forged, edited, moved or orphaned row must be found, naming the case, alert or run.

The log (the fixtures' calendar, no holidays in March 2025): birth registration B (W1, due Thursday
6 March 09:00, desk step due Monday 15:00) and land transfer L (D1) received Monday 3 March
09:00, and a feedback item F (W1, time limit Monday 10 March 09:00); the scheduler's sweep runs
six times. The alerts it raises, written out from the law (not read back from the code):

==  ====  ====  ========  ================  =======================================
id  case  step  kind      raised            why
==  ====  ====  ========  ================  =======================================
1   B     0     due_soon  Mon 3 09:00       desk step due 15:00 the same day
2   L     0     due_soon  Mon 3 09:00       desk step due within a working day
3   B     0     overdue   Mon 3 15:30       desk step due 15:00
4   L     0     overdue   Mon 3 15:30       same
5   B     1     overdue   Wed 5 10:00       B's justice step (from Mon 16:00) was due Tue
6   B     -1    due_soon  Wed 5 10:00       appointment Thu 09:00, within one working day
7   B     -1    overdue   Thu 6 09:30       appointment passed
8   -F    -1    due_soon  Fri 7 10:00       time limit Mon 10 09:00, one working day ahead
9   -F    -1    overdue   Mon 10 10:00      time limit passed
==  ====  ====  ========  ================  =======================================
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, insert, select, update
from typer.testing import CliRunner

from onestop import Calendar, Engine, ManualClock
from onestop.audit import Finding, audit
from onestop.audit_key import AuditKey
from onestop.cli import app
from onestop.feedback import FeedbackLaw
from onestop.feedback_commands import FeedbackDesk
from onestop.scheduler import Schedule, SchedulerService
from onestop.store.schema import alerts, job_runs

from .conftest import FIXTURES, TEST_AUDIT_KEY
from .helpers import dt

KEY = AuditKey.from_text(TEST_AUDIT_KEY)
LAW = FeedbackLaw.load(Path(__file__).parent.parent / "workflows")
B, L, F = 1, 2, -1
SWEEPS = [dt(2025, 3, 3, 9, 0), dt(2025, 3, 3, 15, 30), dt(2025, 3, 5, 10, 0),
          dt(2025, 3, 6, 9, 30), dt(2025, 3, 7, 10, 0), dt(2025, 3, 10, 10, 0)]  # fmt: skip
RAISED = [(B, 0, "due_soon"), (L, 0, "due_soon"), (B, 0, "overdue"), (L, 0, "overdue"),
          (B, 1, "overdue"), (B, -1, "due_soon"), (B, -1, "overdue"), (F, -1, "due_soon"),
          (F, -1, "overdue")]  # fmt: skip


class Ops:
    """The engine, its calendar, and the forger's tools."""

    def __init__(self, engine: Engine, calendar: Calendar, ids: list[int]) -> None:
        self.engine, self.calendar = engine, calendar
        #: The alerts' ids (numbered 1 to 9 in the module doc; PostgreSQL's sequence skips).
        self.ids = ids

    def found(self) -> list[tuple[int | None, str]]:
        """(case, problem) of every finding about alerts, with the key and the sweeps'
        calendar (the job runs' findings are in :meth:`runs_found`)."""
        return [(f.dossier_id, f.problem) for f in self.findings()]

    def all_findings(self) -> list[Finding]:
        return audit(self.engine.store, KEY, calendar=self.calendar).findings

    def findings(self) -> list[Finding]:
        return [f for f in self.all_findings() if f.problem.startswith("alert_")]

    def runs_found(self) -> list[tuple[str, str]]:
        """(problem, detail) of every finding about the job runs."""
        return [(f.problem, f.detail) for f in self.all_findings() if f.table == "job_runs"]

    def details(self) -> list[str]:
        return [f.detail for f in self.findings()]

    def forge(self, change: Callable[[Connection], object]) -> None:
        with self.engine.store.begin() as conn:
            change(conn)

    def alert(self, number: int) -> dict[str, object]:
        """Alert ``number`` of the module doc's table."""
        with self.engine.store.engine.connect() as conn:
            query = select(alerts).where(alerts.c.id == self.ids[number - 1])
            return dict(conn.execute(query).mappings().one())

    def add_alert(self, **values: object) -> int:
        """Insert an alert: alert 1's columns with ``values`` changed; its id."""
        row = {k: v for k, v in self.alert(1).items() if k != "id"}
        with self.engine.store.begin() as conn:
            stmt = insert(alerts).values(**{**row, **values}).returning(alerts.c.id)
            return int(conn.execute(stmt).scalar_one())

    def edit_alert(self, number: int, **values: object) -> None:
        """Change alert ``number`` of the module doc's table."""
        where = alerts.c.id == self.ids[number - 1]
        self.forge(lambda c: c.execute(update(alerts).where(where).values(**values)))


@pytest.fixture
def ops(engine: Engine, clock: ManualClock, calendar: Calendar) -> Ops:
    clock.set(dt(2025, 3, 3, 9, 0))
    assert engine.receive("BIRTH", "W1").id == B
    assert engine.receive("LAND", "D1").id == L
    desk = FeedbackDesk(engine, LAW)
    item = desk.receive(channel="hotline", subject="procedure", unit="W1", topic="civil_status")
    assert -item.id == F and item.due_at == dt(2025, 3, 10, 9, 0)
    service = SchedulerService(engine.store, clock, calendar,
                               schedule=Schedule(office_hours_only=False, reports=False))  # fmt: skip
    for at in SWEEPS:
        if at == SWEEPS[2]:
            clock.set(dt(2025, 3, 3, 16, 0))
            engine.complete_step(B)
        clock.set(at)
        service.run_job("sweep")
    with engine.store.engine.connect() as conn:
        rows = conn.execute(select(alerts.c.dossier_id, alerts.c.step_seq, alerts.c.kind,
                                   alerts.c.id).order_by(alerts.c.id)).all()  # fmt: skip
    assert [tuple(r)[:3] for r in rows] == RAISED
    return Ops(engine, calendar, [r.id for r in rows])


def test_alerts_raised_by_the_sweeps_verify_clean(ops: Ops) -> None:
    report = audit(ops.engine.store, KEY, calendar=ops.calendar)
    assert report.findings == []
    # Without the calendar the four due-soon alerts' horizon cannot be checked.
    notes = audit(ops.engine.store, KEY).notes
    assert notes[0] == (
        "4 due-soon alert(s): the horizon (1 working day(s)) is not checked without the "
        "working calendar"
    )


def test_forged_overdue_alert_of_a_dossier_in_time(ops: Ops) -> None:
    # L's appointment is weeks away: it was never overdue as a whole.
    forged = ops.add_alert(dossier_id=L, step_seq=-1, kind="overdue",
                           due_at=dt(2025, 3, 3, 9, 0), raised_at=dt(2025, 3, 6, 9, 30))  # fmt: skip
    assert ops.found() == [(L, "alert_unjustified")]
    assert ops.details() == [
        f"alert {forged} (overdue, dossier, raised 2025-03-06 09:30): not overdue by the log "
        "(state after event 1)"
    ]


def test_forged_due_soon_alert_beyond_the_horizon(ops: Ops) -> None:
    """B's appointment (Thu 09:00) is two working days after Tue 09:00: not due soon then. Only
    the calendar tells (without it the rest of the rule holds)."""
    ops.edit_alert(6, dossier_id=99)  # out of the way of the unique key (and orphaned)
    agency = ops.engine.get(B).current_agency  # B's holder all of Tuesday
    ops.add_alert(dossier_id=B, step_seq=-1, kind="due_soon", due_at=dt(2025, 3, 6, 9, 0),
                  raised_at=dt(2025, 3, 4, 9, 0), agency=agency)  # fmt: skip
    found = ops.found()
    assert (B, "alert_unjustified") in found
    assert [p for c, p in found if c == B] == ["alert_unjustified"]
    assert [p for _, p in (
        (f.dossier_id, f.problem) for f in audit(ops.engine.store, KEY).findings
    )] == ["alert_orphaned"]  # fmt: skip


def test_edited_alert_holder(ops: Ops) -> None:
    ops.edit_alert(5, agency="W1-DESK")
    [found] = ops.findings()
    assert (found.dossier_id, found.problem) == (B, "alert_edited")
    expected = f"alert {ops.ids[4]} (overdue, step 1, raised 2025-03-05 10:00): agency"
    assert found.detail == expected


def test_edited_alert_deadline_and_step(ops: Ops) -> None:
    ops.edit_alert(3, due_at=dt(2025, 3, 3, 15, 1))
    ops.edit_alert(5, step_seq=2)
    assert ops.details() == [
        f"alert {ops.ids[2]} (overdue, step 0, raised 2025-03-03 15:30): due_at",
        f"alert {ops.ids[4]} (overdue, step 2, raised 2025-03-05 10:00): step_seq",
        # ... so step 1's alert, which the third sweep had to raise, is missing.
        f"overdue, step 1: so by the log at the sweep of 2025-03-05 10:00 (job run "
        f"{_runs(ops)[2]['id']}), and no alert raised by then",
    ]


def test_alert_moved_to_before_it_was_due(ops: Ops) -> None:
    ops.edit_alert(7, raised_at=dt(2025, 3, 6, 8, 0))  # the appointment was 09:00
    assert ops.found() == [(B, "alert_unjustified")]


def test_alert_of_a_dossier_once_resolved(ops: Ops, clock: ManualClock) -> None:
    """After resolution the dossier is closed: an overdue alert raised later is unjustified."""
    clock.set(dt(2025, 3, 11, 9, 0))
    for _ in range(2):
        ops.engine.complete_step(B)
    ops.engine.resolve(B)
    ops.edit_alert(7, raised_at=dt(2025, 3, 11, 10, 0))
    # ... and the fourth sweep (Thursday 09:30) had to raise it.
    assert ops.found() == [(B, "alert_unjustified"), (B, "alert_missing")]


def test_alert_kind_swapped(ops: Ops) -> None:
    ops.edit_alert(3, kind="urgent")  # no such kind
    ops.edit_alert(1, kind="overdue")  # at 09:00 the desk step (due 15:00) was not overdue
    ops.edit_alert(2, step_seq=-2)  # out of the way of the unique key: no such step
    ops.edit_alert(4, kind="due_soon")  # at 15:30 L's desk step was no longer "due soon"
    # L's step 0 overdue alert, which the second sweep had to raise, is now missing (B's is
    # "there": alert 1, now an overdue alert raised before it).
    assert ops.found() == [(B, "alert_unjustified"), (B, "alert_unjustified"),
                           (L, "alert_edited"), (L, "alert_unjustified"),
                           (L, "alert_missing")]  # fmt: skip


def test_orphaned_alerts(ops: Ops) -> None:
    ops.add_alert(dossier_id=77)  # no such dossier
    ops.add_alert(dossier_id=-5)  # no such feedback item
    ops.add_alert(raised_at=dt(2025, 3, 3, 8, 0), step_seq=5)  # B was received at 09:00
    assert sorted(ops.found(), key=str) == sorted(
        [(-5, "alert_orphaned"), (B, "alert_orphaned"), (77, "alert_orphaned")], key=str
    )
    assert "before the dossier existed" in " ".join(ops.details())


def test_forged_and_edited_feedback_alerts(ops: Ops) -> None:
    ops.edit_alert(9, unit="W2")  # the item's unit is W1
    ops.edit_alert(8, raised_at=dt(2025, 3, 3, 10, 0))  # five working days before its limit
    found = ops.findings()
    assert [(f.dossier_id, f.problem) for f in found] == [
        (F, "alert_unjustified"),
        (F, "alert_edited"),
    ]
    assert found[1].detail.endswith(": unit")


def test_feedback_alert_moved_before_its_limit(ops: Ops) -> None:
    ops.edit_alert(9, raised_at=dt(2025, 3, 10, 8, 59))  # the limit is 09:00
    assert ops.found() == [(F, "alert_unjustified")]


def test_an_alert_raised_near_the_instant_of_a_command(ops: Ops, clock: ManualClock) -> None:
    """A sweep reads its clock before the database (and may wait for the lock): the state it
    judged may be one in force up to a minute (GRACE) before or after its time. L's land step
    moves at 10:00 on Monday 17 March; an alert of its first state raised at 10:00 or half a
    minute later checks out, one raised at 10:02 does not."""
    clock.set(dt(2025, 3, 17, 10, 0))
    ops.engine.complete_step(L)
    # (Moved from Monday's second sweep, which had to raise it: missing from there.)
    ops.edit_alert(4, raised_at=dt(2025, 3, 17, 10, 0))
    assert ops.found() == [(L, "alert_missing")]
    ops.edit_alert(4, raised_at=dt(2025, 3, 17, 10, 0) + timedelta(seconds=30))
    assert ops.found() == [(L, "alert_missing")]
    ops.edit_alert(4, raised_at=dt(2025, 3, 17, 10, 2))  # step 0 was no longer L's
    assert ops.found() == [(L, "alert_unjustified"), (L, "alert_missing")]


# -- the scheduler's job runs ------------------------------------------------------------------
# The six sweeps are runs 1 to 6, each finished at its start (the clock stood still), raising
# 2, 2, 2, 1, 1 and 1 alerts (the table above).


def _runs(ops: Ops) -> list[dict[str, object]]:
    with ops.engine.store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(job_runs).order_by(job_runs.c.id)).mappings()]


def _edit_run(ops: Ops, number: int, **values: object) -> dict[str, object]:
    """Change run ``number`` (1 to 6); the run as it was."""
    run = _runs(ops)[number - 1]
    ops.forge(lambda c: c.execute(update(job_runs).where(job_runs.c.id == run["id"])
                                  .values(**values)))  # fmt: skip
    return run


def _name(run: dict[str, object], started: str) -> str:
    return f"run {run['id']} (sweep by {run['holder']}, started {started})"


def test_job_runs_record_what_the_sweeps_raised(ops: Ops) -> None:
    runs = _runs(ops)
    assert [(r["job"], r["result"]) for r in runs] == [
        ("sweep", {"new_alerts": n}) for n in (2, 2, 2, 1, 1, 1)
    ]
    assert [r["started_at"] for r in runs] == SWEEPS
    assert ops.runs_found() == []
    assert not [n for n in audit(ops.engine.store, KEY).notes if "job_runs" in n]


def test_moved_job_run(ops: Ops) -> None:
    run = _edit_run(ops, 3, started_at=dt(2025, 3, 5, 11, 0), finished_at=dt(2025, 3, 5, 11, 0))
    assert ops.runs_found() == [
        ("job_run_alerts", f"{_name(run, '2025-03-05 11:00:00')}: raised 2 alert(s), 0 carry "
                           "its time"),
    ]  # fmt: skip


def test_job_run_moved_before_the_run_before(ops: Ops) -> None:
    before = _runs(ops)[3]
    run = _edit_run(ops, 5, started_at=dt(2025, 3, 3, 12, 0), finished_at=dt(2025, 3, 3, 12, 0))
    assert ops.runs_found() == [
        ("job_run_edited", f"{_name(run, '2025-03-03 12:00:00')}: started before "
                           f"{_name(before, '2025-03-06 09:30:00')}"),
        ("job_run_alerts", f"{_name(run, '2025-03-03 12:00:00')}: raised 1 alert(s), 0 carry "
                           "its time"),
    ]  # fmt: skip


def test_deleted_alert_of_a_recorded_sweep(ops: Ops) -> None:
    """Alerts are not chained, but the sweep that raised one recorded how many it raised."""
    ops.forge(lambda c: c.execute(delete(alerts).where(alerts.c.id == ops.ids[6])))
    run = _runs(ops)[3]
    assert ops.runs_found() == [
        ("job_run_alerts", f"{_name(run, '2025-03-06 09:30:00')}: raised 1 alert(s), 0 carry "
                           "its time"),
    ]  # fmt: skip
    # The log says B was overdue at that sweep (and the sweeps after it).
    assert ops.details() == [
        f"overdue, dossier: so by the log at the sweep of 2025-03-06 09:30 (job run {run['id']}), "
        "and no alert raised by then"
    ]


def test_deleted_alerts_with_the_runs_counts_lowered(ops: Ops) -> None:
    """The forger deletes B's overdue and due-soon alerts and lowers the counts of the sweeps
    that raised them: the log still says those sweeps had to raise them. Without the calendar
    the due-soon horizon is unknown, so only the overdue alert is named."""
    doomed = [ops.ids[5], ops.ids[6]]  # alerts 6 and 7
    ops.forge(lambda c: c.execute(delete(alerts).where(alerts.c.id.in_(doomed))))
    _edit_run(ops, 3, result={"new_alerts": 1})
    _edit_run(ops, 4, result={"new_alerts": 0})
    assert ops.runs_found() == []
    assert ops.found() == [(B, "alert_missing"), (B, "alert_missing")]
    assert [d.split(":")[0] for d in ops.details()] == ["due_soon, dossier", "overdue, dossier"]
    without = [f.detail.split(":")[0] for f in audit(ops.engine.store, KEY).findings]
    assert without == ["overdue, dossier"]


def test_forged_alert_at_a_sweep_time(ops: Ops) -> None:
    ops.add_alert(dossier_id=L, step_seq=-1, kind="overdue", raised_at=SWEEPS[1])
    assert ops.found() == [(L, "alert_unjustified")]
    assert [p for p, _ in ops.runs_found()] == ["job_run_alerts"]
    assert ops.runs_found()[0][1].endswith("raised 2 alert(s), 3 carry its time")


def test_overlapping_job_runs(ops: Ops) -> None:
    run = _edit_run(ops, 2, finished_at=dt(2025, 3, 5, 11, 0))  # past run 3's start
    after = _runs(ops)[2]
    assert ops.runs_found() == [
        ("job_run_overlap", f"{_name(after, '2025-03-05 10:00:00')}: started before "
                            f"{_name(run, '2025-03-03 15:30:00')} finished (2025-03-05 "
                            "11:00:00): two runs at once under one lease"),
    ]  # fmt: skip


def test_job_run_finished_before_it_started(ops: Ops) -> None:
    run = _edit_run(ops, 1, finished_at=dt(2025, 3, 3, 8, 0))
    assert ops.runs_found() == [
        ("job_run_edited", f"{_name(run, '2025-03-03 09:00:00')}: finished before it started"),
    ]


def test_edited_sweep_results(ops: Ops) -> None:
    _edit_run(ops, 6, result={"new_alerts": 5})
    _edit_run(ops, 4, result={"rows": 1})
    assert [(p, d.split(": ", 1)[1]) for p, d in ops.runs_found()] == [
        ("job_run_edited", "not a sweep's result: {'rows': 1}"),
        ("job_run_alerts", "raised 5 alert(s), 1 carry its time"),
    ]


def test_deleted_job_run_is_noted(ops: Ops) -> None:
    """A deleted run leaves a gap in the ids, which a rolled-back insert also leaves: a note."""
    run = _runs(ops)[2]
    ops.forge(lambda c: c.execute(delete(job_runs).where(job_runs.c.id == run["id"])))
    assert ops.runs_found() == []
    gap = f"{run['id']}–{run['id']}"
    assert (
        f"job_runs: 1 gap(s) in the run ids (first {gap}): runs deleted, or inserts rolled back"
        in audit(ops.engine.store, KEY).notes
    )


def test_forged_times_beyond_the_calendar_are_findings_not_crashes(ops: Ops) -> None:
    """The calendar covers 2015–2040: a due-soon alert moved to 2050 has no horizon to judge
    by, and is still found (and missing from the sweep that raised it)."""
    ops.edit_alert(6, raised_at=dt(2050, 1, 3, 10, 0))
    assert ops.details() == [
        f"alert {ops.ids[5]} (due_soon, dossier, raised 2050-01-03 10:00): not due_soon "
        "by the log (state after event 2)",
        f"due_soon, dossier: so by the log at the sweep of 2025-03-05 10:00 (job run "
        f"{_runs(ops)[2]['id']}), and no alert raised by then",
    ]


def test_the_verify_command_judges_alerts_with_the_definitions_calendar(
    ops: Ops, db_url: str
) -> None:
    """`onestop verify --workflows DIR` reads the sweeps' working calendar from the
    definitions: B's appointment (Thursday 09:00) is not due soon on Tuesday at 09:00."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the command test uses the SQLite file")
    path = db_url.removeprefix("sqlite:///")
    ok = CliRunner().invoke(app, ["verify", "--db", path, "--workflows", str(FIXTURES)])
    assert ok.exit_code == 0, ok.output
    assert "every chain, row, result, alert, job run, rollup and anchor checks out" in ok.stdout
    ops.edit_alert(6, raised_at=dt(2025, 3, 4, 9, 0))  # B's due-soon alert, a day early
    bad = CliRunner().invoke(app, ["verify", "--db", path, "--workflows", str(FIXTURES)])
    assert bad.exit_code == 1
    text = " ".join(bad.stderr.split())  # the console wraps long lines
    run = _runs(ops)[2]
    found = [
        f"dossier 1: alert_unjustified (alert {ops.ids[5]} (due_soon, dossier, raised 2025-03-04 "
        "09:00): not due_soon by the log (state after event 2))",
        f"job_runs: job_run_alerts ({_name(run, '2025-03-05 10:00:00')}: raised 2 alert(s), 1 "
        "carry its time)",
        "2 problem(s) found",
    ]
    assert text.index(found[0]) < text.index(found[1]) < text.index(found[2])
