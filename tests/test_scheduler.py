"""The scheduler: one active instance per database, jobs recorded, alerts once across restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from onestop import VN_TZ, Calendar, Engine, ManualClock
from onestop.clock import Clock
from onestop.scheduler import Lease, Schedule, SchedulerService, previous_period
from onestop.store.schema import alerts, job_runs

from .conftest import FIXTURES


def dt(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


def runs(engine: Engine) -> list[dict[str, Any]]:
    with engine.store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(job_runs).order_by(job_runs.c.id)).mappings()]


def make_scheduler(
    engine: Engine, reports: Path, clock: Clock | None = None, **kwargs: Any
) -> SchedulerService:
    """A scheduler on the engine's database and calendar, on its clock unless given another."""
    return SchedulerService(
        engine.store, clock or engine.clock, engine.calendar, [], reports, **kwargs
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_lease_is_exclusive_and_expires(engine: Engine, clock: ManualClock) -> None:
    a = Lease(engine.store, clock, holder="a", ttl=60)
    b = Lease(engine.store, clock, holder="b", ttl=60)
    assert a.acquire() and not b.acquire()
    assert a.acquire()  # renewal
    assert b.current_holder() == "a"
    clock.advance(timedelta(seconds=61))
    assert b.acquire() and not a.acquire()
    b.release()
    assert a.acquire()


class TickingClock:
    """Real elapsed time from a fixed instant, so job_runs get true, distinct start/end times
    (a frozen ManualClock gives every run the same instant and no order to check)."""

    def __init__(self, start: datetime) -> None:
        self.start, self.t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


class Overlap:
    """Counts how many of the wrapped activities are in progress at once, and the peak."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def enter(self) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)

    def leave(self) -> None:
        with self.lock:
            self.running -= 1


def instrument(service: SchedulerService, jobs: Overlap, active: Overlap) -> None:
    """Count running sweeps (held open 50 ms, so an overlap would be seen) and running
    schedulers (from the moment one decides to start until its shutdown has finished)."""
    sweep, start, stop = service.jobs["sweep"], service._start_scheduler, service._stop_scheduler

    def counted_sweep(now: datetime) -> Any:
        jobs.enter()
        try:
            time.sleep(0.05)
            return sweep(now)
        finally:
            jobs.leave()

    def counted_start() -> None:
        active.enter()
        start()

    def counted_stop() -> None:
        was_running = service._scheduler is not None
        stop()
        if was_running:
            active.leave()

    service.jobs["sweep"] = counted_sweep
    service._start_scheduler = counted_start  # type: ignore[method-assign]
    service._stop_scheduler = counted_stop  # type: ignore[method-assign]


def test_two_schedulers_never_both_run_a_job(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    engine.receive("COPY", "W1")
    ticking = TickingClock(dt(2025, 3, 3, 9, 0))  # office hours, and time really passes
    schedule = Schedule(sweep_seconds=0.2, reports=False)
    services = [
        make_scheduler(engine, tmp_path, ticking, schedule=schedule, lease_ttl=30, holder=holder)
        for holder in ("first", "second")
    ]
    jobs, active = Overlap(), Overlap()
    for s in services:
        instrument(s, jobs, active)
    threads = {s.id: threading.Thread(target=s.run_forever, kwargs={"poll": 0.1}) for s in services}
    for t in threads.values():
        t.start()
    try:
        assert wait_for(lambda: sum(r["job"] == "sweep" for r in runs(engine)) >= 3)
        assert (active.peak, jobs.peak) == (1, 1), "two schedulers or jobs at once"
        # Whichever instance won the lease (not asserted: it is a race) is stopped; the other
        # must take over and run jobs of its own.
        winner = next(s for s in services if s.id == runs(engine)[0]["holder"])
        other = next(s for s in services if s is not winner)
        stop_asked = ticking.now()
        winner.stop()
        threads[winner.id].join(timeout=20)
        assert not threads[winner.id].is_alive()
        assert wait_for(lambda: sum(r["holder"] == other.id for r in runs(engine)) >= 3)
    finally:
        for s in services:
            s.stop()
        for t in threads.values():
            t.join(timeout=20)
    history = runs(engine)
    # At no moment were two schedulers active, nor two jobs running.
    assert active.peak == 1, f"{active.peak} schedulers active at once"
    assert jobs.peak == 1, f"{jobs.peak} jobs running at once"
    # The recorded runs agree: each starts after the previous one finished.
    ordered = sorted(history, key=lambda r: r["started_at"])
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert before["finished_at"] > before["started_at"]  # the 50 ms sweep
        assert after["started_at"] >= before["finished_at"], (before, after)
    # One holder at a time: the winner's runs, then (only after it was stopped) the other's.
    holders = [r["holder"] for r in ordered]
    switch = holders.index(other.id)
    assert holders == [winner.id] * switch + [other.id] * (len(holders) - switch)
    assert ordered[switch]["started_at"] > stop_asked
    assert all(r["error"] is None for r in history)


def run_until(scheduler: SchedulerService, done: Callable[[], bool]) -> None:
    """Run ``scheduler`` as ``onestop scheduler run`` does until ``done()``, then stop it."""
    thread = threading.Thread(target=scheduler.run_forever, kwargs={"poll": 0.05})
    thread.start()
    try:
        assert wait_for(done), f"{scheduler.id} never got there"
    finally:
        scheduler.stop()
        thread.join(timeout=20)
    assert not thread.is_alive()


def test_alerts_once_across_scheduler_restart(
    engine: Engine, clock: ManualClock, tmp_path: Path, db_url: str, calendar: Calendar
) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    d = engine.receive("COPY", "W1")
    clock.set(dt(2025, 3, 4, 9, 0))  # overdue now: the dossier and its only step
    schedule = Schedule(sweep_seconds=0.1, reports=False)
    first = make_scheduler(engine, tmp_path, schedule=schedule, holder="one")
    run_until(first, lambda: any(r["holder"] == "one" for r in runs(engine)))
    # The restart: a new process opens its own engine on the same database, 30 s later (inside
    # the first's 60 s lease, so taking over relies on the first releasing it when it stopped).
    clock.advance(timedelta(seconds=30))
    restarted = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar)
    second = make_scheduler(restarted, tmp_path, schedule=schedule, holder="two")
    run_until(second, lambda: sum(r["holder"] == "two" for r in runs(engine)) >= 2)
    restarted.store.dispose()

    history = [(r["holder"], r["job"], r["result"], r["error"]) for r in runs(engine)]
    by_one = [h for h in history if h[0] == "one"]
    by_two = [h for h in history if h[0] == "two"]
    assert history == by_one + by_two  # the second ran only once the first had stopped
    # The first sweep raised both alerts; every later sweep, before or after the restart,
    # raised none.
    assert by_one == [("one", "sweep", {"new_alerts": 2}, None)] + [
        ("one", "sweep", {"new_alerts": 0}, None)
    ] * (len(by_one) - 1)
    assert len(by_two) >= 2
    assert by_two == [("two", "sweep", {"new_alerts": 0}, None)] * len(by_two)
    with engine.store.engine.connect() as conn:
        rows = conn.execute(
            select(alerts.c.dossier_id, alerts.c.step_seq, alerts.c.kind).order_by(alerts.c.id)
        ).all()
    assert sorted(rows) == [(d.id, -1, "overdue"), (d.id, 0, "overdue")]


def test_sweep_skipped_when_office_closed(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(dt(2025, 3, 8, 10, 0))  # Saturday
    assert make_scheduler(engine, tmp_path).run_job("sweep") == {"skipped": "office closed"}


def test_nightly_rollup_and_report_files(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    d = engine.receive("COPY", "W1")
    engine.resolve(d.id)
    nightly = make_scheduler(engine, tmp_path / "reports")
    assert nightly.run_job("nightly") == {
        "days": ["2025-03-02", "2025-03-03"],
        "rows": 1,
        "anchored": [],  # the first event is today's: nothing before it to anchor
    }
    clock.set(dt(2025, 3, 5, 23, 30))  # a night was missed: both days are anchored now
    assert nightly.run_job("nightly")["anchored"] == ["2025-03-03", "2025-03-04"]
    clock.set(dt(2025, 4, 1, 6, 0))
    result = nightly.run_job("report-month")
    assert result["period"] == "2025-03"
    html = (tmp_path / "reports" / "on-time-2025-03.html").read_text()
    assert "Tháng 3/2025" in html and "<svg" in html
    assert (tmp_path / "reports" / "on-time-2025-03.json").exists()


def test_previous_period() -> None:
    assert previous_period(date(2025, 1, 1), "month").label == "2024-12"
    assert previous_period(date(2025, 1, 1), "quarter").label == "2024-Q4"
    assert previous_period(date(2025, 7, 1), "quarter").label == "2025-Q2"
    assert previous_period(date(2025, 1, 1), "year").label == "2024"


def test_the_nightly_rollup_covers_the_whole_previous_day(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    from onestop.periods import Period
    from onestop.rollups import rollup_report

    nightly = make_scheduler(engine, tmp_path / "reports")
    clock.set(dt(2025, 3, 3, 23, 30))
    nightly.run_job("nightly")
    clock.set(dt(2025, 3, 3, 23, 45))  # after the night's run, before midnight
    engine.resolve(engine.receive("COPY", "W1").id)
    clock.set(dt(2025, 3, 4, 23, 30))
    nightly.run_job("nightly")
    rows = rollup_report(engine.store, Period.parse("2025-03-03"), ["level"]).rows
    assert [(r.key["level"], r.resolved) for r in rows] == [("commune", 1)]
