"""The scheduler for operators: a settable lease and the takeover after a SIGKILL, one log line
when office hours pause the sweeps, and ``--once``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from structlog.testing import capture_logs

from onestop import VN_TZ, Engine, ManualClock
from onestop.errors import LeaseHeld
from onestop.log import configure
from onestop.scheduler import Lease, SchedulerService

ROOT = Path(__file__).parent.parent


def dt(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=VN_TZ)  # March 2025: 7th a Friday


def service(
    engine: Engine, clock: ManualClock, tmp_path: Path, holder: str | None = None
) -> SchedulerService:
    return SchedulerService(engine.store, clock, engine.calendar, [], tmp_path, holder=holder)


def test_a_two_second_lease_is_taken_over_only_after_it_expires(
    engine: Engine, clock: ManualClock
) -> None:
    clock.set(dt(10, 9))
    holder = Lease(engine.store, clock, holder="a", ttl=2)
    standby = Lease(engine.store, clock, holder="b", ttl=2)
    assert holder.acquire()
    # The holder dies now: it renews no more.
    for seconds in (0.5, 1.0, 1.999, 2.0):  # up to and including its expiry: still a's
        clock.set(dt(10, 9) + timedelta(seconds=seconds))
        assert not standby.acquire(), seconds
        assert standby.current_holder() == "a"
    clock.set(dt(10, 9) + timedelta(seconds=2.001))
    assert standby.acquire()
    assert holder.current_holder() == "b"


def test_office_hours_pausing_the_sweeps_is_logged_once_per_closed_stretch(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    sched = service(engine, clock, tmp_path)
    results = []
    configure(json=True, level="INFO")  # the level `scheduler run` logs at
    try:
        with capture_logs() as logs:
            # Friday evening, Saturday, Sunday night: one closed stretch until Monday 07:00;
            # then Monday 09:00 open; Monday's lunch break (11:00-13:00) another stretch.
            for moment in (
                dt(7, 17, 30), dt(8, 10), dt(9, 23), dt(10, 9), dt(10, 11, 30), dt(10, 12),
            ):  # fmt: skip
                clock.set(moment)
                results.append(sched.run_job("sweep"))
    finally:
        configure(json=False, level="WARNING")  # as tests/conftest.py leaves it
    paused = [e for e in logs if e["event"] == "scheduler.sweeps_paused"]
    assert [(e["until"], e["reason"], e["log_level"]) for e in paused] == [
        ("2025-03-10T07:00:00+07:00", "office closed", "info"),
        ("2025-03-10T13:00:00+07:00", "office closed", "info"),
    ]
    skipped = {"skipped": "office closed"}
    assert results[:3] == [skipped] * 3 and results[4:] == [skipped] * 2
    assert set(results[3]) == {"new_alerts"}


def test_run_once_runs_every_job_now_even_when_closed_and_gives_the_lease_back(
    engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(dt(8, 22))  # Saturday night: the periodic sweep would skip
    sched = service(engine, clock, tmp_path, holder="operator")
    results = sched.run_once()
    assert list(results) == ["sweep", "nightly", "report-month", "report-quarter", "report-year"]
    assert results["sweep"] == {"new_alerts": 0}
    assert results["nightly"]["days"] == ["2025-03-07", "2025-03-08"]
    assert results["report-month"]["period"] == "2025-02"
    assert (tmp_path / "on-time-2025-02.html").exists()
    assert sched.lease.current_holder() is None  # given back
    assert sched.schedule.office_hours_only  # the periodic rule is back too

    other = Lease(engine.store, clock, holder="running-instance", ttl=60)
    assert other.acquire()
    with pytest.raises(LeaseHeld, match="held by running-instance"):
        service(engine, clock, tmp_path, holder="operator-2").run_once()


def _wait_for(condition: Callable[[], bool], what: str, limit: float = 60) -> None:
    """Poll ``condition`` (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_after_a_sigkill_the_standby_takes_over_once_the_lease_expires(tmp_path: Path) -> None:
    """Two ``scheduler run --lease-seconds 2`` processes on one database; the active one is
    SIGKILLed; the standby takes over after the dead one's lease expired, never before."""
    db = tmp_path / "sched.db"
    db.touch()  # an empty SQLite file: --init creates onestop's tables in it
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "onestop", "scheduler", "run", "--db", str(db), "--init",
             "--dev", "--lease-seconds", "2", "--sweep-minutes", "600",
             "--reports-dir", str(tmp_path / "reports")],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def waiting_id(proc: subprocess.Popen[str]) -> str:
        assert proc.stderr is not None
        for line in proc.stderr:  # the line printed before it starts polling for the lease
            if " waiting for the lease on " in line:
                # Keep reading its logs, so a full pipe never blocks it.
                threading.Thread(target=proc.stderr.read, daemon=True).start()
                return line.split()[1]
        raise AssertionError(f"exited with {proc.wait()}")

    engine = create_engine(f"sqlite:///{db}")

    def lease() -> tuple[str, datetime] | None:
        with engine.connect() as conn:
            if not conn.execute(
                text("select count(*) from sqlite_master where name = 'scheduler_leases'")
            ).scalar():
                return None
            row = conn.execute(text("select holder, expires_at from scheduler_leases")).first()
        if row is None:
            return None
        return str(row[0]), datetime.fromisoformat(row[1]).replace(tzinfo=UTC)  # stored UTC

    active = start()
    standby: subprocess.Popen[str] | None = None
    try:
        first = waiting_id(active)
        _wait_for(lambda: (lease() or ("", None))[0] == first, "the first instance's lease")
        standby = start()
        second = waiting_id(standby)
        time.sleep(1.5)  # the standby polls (every 2/3 s) against a live, renewed lease
        assert (lease() or ("", None))[0] == first
        active.send_signal(signal.SIGKILL)
        active.wait(timeout=30)
        dead = lease()  # the dead instance's last renewal: nobody renews it any more
        assert dead is not None and dead[0] == first
        killed = datetime.now(UTC)
        assert dead[1] - killed <= timedelta(seconds=2)  # a lease outlives its holder by ≤ 2 s
        _wait_for(lambda: (lease() or ("", None))[0] == second, "the takeover")
        taken = lease()
        assert taken is not None
        acquired = taken[1] - timedelta(seconds=2)  # an acquisition sets expiry = now + lease
        assert acquired > dead[1]  # after the dead instance's lease expired, not before
    finally:
        for proc in (active, standby):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        engine.dispose()
