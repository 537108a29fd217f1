"""The scheduler: one active instance per database, jobs recorded, alerts once across restarts."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from onestop import VN_TZ, Engine, ManualClock
from onestop.scheduler import Lease, Schedule, SchedulerService, previous_period
from onestop.store.schema import alerts, job_runs


def dt(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


def runs(engine: Engine) -> list[dict]:
    with engine.store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(job_runs).order_by(job_runs.c.id)).mappings()]


def wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_lease_is_exclusive_and_expires(engine: Engine, clock: ManualClock) -> None:
    a = Lease(engine, holder="a", ttl=60)
    b = Lease(engine, holder="b", ttl=60)
    assert a.acquire() and not b.acquire()
    assert a.acquire()  # renewal
    assert b.current_holder() == "a"
    clock.advance(timedelta(seconds=61))
    assert b.acquire() and not a.acquire()
    b.release()
    assert a.acquire()


def test_two_schedulers_never_both_run_a_job(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))  # office hours
    engine.receive("COPY", "W1")
    schedule = Schedule(sweep_seconds=0.2, reports=False)
    first = SchedulerService(engine, [], tmp_path, schedule, lease_ttl=30, holder="first")
    second = SchedulerService(engine, [], tmp_path, schedule, lease_ttl=30, holder="second")
    threads = [
        threading.Thread(target=s.run_forever, kwargs={"poll": 0.1}) for s in (first, second)
    ]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: sum(r["job"] == "sweep" for r in runs(engine)) >= 3)
        assert {r["holder"] for r in runs(engine)} == {"first"}
        first.stop()
        threads[0].join(timeout=20)
        handover = len(runs(engine))
        assert wait_for(lambda: any(r["holder"] == "second" for r in runs(engine)))
    finally:
        first.stop()
        second.stop()
        for t in threads:
            t.join(timeout=20)
    history = runs(engine)
    assert {r["holder"] for r in history[:handover]} == {"first"}
    assert {r["holder"] for r in history[handover:]} == {"second"}
    # Runs never overlap: each starts after the previous one finished.
    for before, after in zip(history, history[1:], strict=False):
        assert before["finished_at"] is not None
        assert after["started_at"] >= before["started_at"]
    assert all(r["error"] is None for r in history)


def test_alerts_once_across_scheduler_restart(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    engine.receive("COPY", "W1")
    clock.set(dt(2025, 3, 4, 9, 0))  # overdue now
    for holder in ("one", "two"):
        service = SchedulerService(engine, [], tmp_path, holder=holder)
        assert (
            service.run_job("sweep") == {"new_alerts": 2} if holder == "one" else {"new_alerts": 0}
        )
    with engine.store.engine.connect() as conn:
        assert len(conn.execute(select(alerts)).all()) == 2


def test_sweep_skipped_when_office_closed(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(dt(2025, 3, 8, 10, 0))  # Saturday
    service = SchedulerService(engine, [], tmp_path)
    assert service.run_job("sweep") == {"skipped": "office closed"}


def test_nightly_rollup_and_report_files(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    d = engine.receive("COPY", "W1")
    engine.resolve(d.id)
    service = SchedulerService(engine, [], tmp_path / "reports")
    assert service.run_job("nightly") == {"day": "2025-03-03", "rows": 1, "anchored": "2025-03-02"}
    clock.set(dt(2025, 4, 1, 6, 0))
    result = service.run_job("report-month")
    assert result["period"] == "2025-03"
    html = (tmp_path / "reports" / "on-time-2025-03.html").read_text()
    assert "Tháng 3/2025" in html and "<svg" in html
    assert (tmp_path / "reports" / "on-time-2025-03.json").exists()


def test_previous_period() -> None:
    assert previous_period(date(2025, 1, 1), "month").label == "2024-12"
    assert previous_period(date(2025, 1, 1), "quarter").label == "2024-Q4"
    assert previous_period(date(2025, 7, 1), "quarter").label == "2025-Q2"
    assert previous_period(date(2025, 1, 1), "year").label == "2024"
