"""The periodic jobs, on APScheduler 3 with its SQLAlchemy job store in the engine's database.

Jobs: the alert sweep every N minutes during office hours, the nightly rollup of the day,
monthly / quarterly / yearly report files, and (with a dispatcher) delivery of the outbox to the
national portal every few seconds. Exactly one scheduler is active per database: a
*lease* row names the holder and its expiry; other instances wait and take over when it lapses
or is released. Every job re-checks the lease before it works (fencing), and records a
``job_runs`` row, so two schedulers never both run a job. Misfires coalesce into one run.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import insert, select, update

from onestop.alerts import AlertSweeper, Notifier
from onestop.anchors import anchor_through
from onestop.audit_key import AuditKey
from onestop.calendar import Calendar
from onestop.clock import VN_TZ, Clock, local_date
from onestop.errors import LeaseHeld
from onestop.periods import Period
from onestop.reports import on_time_report
from onestop.rollups import snapshot_range
from onestop.store import Store
from onestop.store.schema import job_runs, scheduler_leases
from onestop.sync import Dispatcher

log = structlog.get_logger("onestop.scheduler")


class Lease:
    """A named lease row: whoever holds an unexpired lease is the active scheduler.

    Args:
        store: The database holding the lease row.
        clock: The source of time.
        name: Lease name (one per job set).
        holder: This instance's identity (default: a random id).
        ttl: Seconds a lease lasts unless renewed.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        name: str = "scheduler",
        holder: str | None = None,
        ttl: float = 60,
    ) -> None:
        self.store, self.clock, self.name, self.ttl = store, clock, name, ttl
        self.holder = holder or f"onestop-{uuid.uuid4().hex[:12]}"

    def acquire(self) -> bool:
        """Take or renew the lease if it is free, expired, or ours. Returns whether we hold it."""
        store = self.store
        now = self.clock.now()
        expires = now + timedelta(seconds=self.ttl)
        with store.begin() as conn:
            conn.execute(
                store.insert_or_skip(scheduler_leases, "name").values(
                    name=self.name, holder=self.holder, expires_at=expires
                )
            )
            result = conn.execute(
                update(scheduler_leases)
                .where(
                    scheduler_leases.c.name == self.name,
                    (scheduler_leases.c.holder == self.holder)
                    | (scheduler_leases.c.expires_at < now),
                )
                .values(holder=self.holder, expires_at=expires)
            )
            return result.rowcount == 1

    def release(self) -> None:
        """Give the lease up now (if we hold it), so another instance takes over at once."""
        past = self.clock.now() - timedelta(seconds=1)
        with self.store.begin() as conn:
            conn.execute(
                update(scheduler_leases)
                .where(
                    scheduler_leases.c.name == self.name, scheduler_leases.c.holder == self.holder
                )
                .values(expires_at=past)
            )

    def current_holder(self) -> str | None:
        """Who holds an unexpired lease, if anyone."""
        with self.store.engine.connect() as conn:
            row = (
                conn.execute(select(scheduler_leases).where(scheduler_leases.c.name == self.name))
                .mappings()
                .first()
            )
        if row is None or row["expires_at"] < self.clock.now():
            return None
        return str(row["holder"])


@dataclass(frozen=True)
class Schedule:
    """When jobs run.

    Attributes:
        sweep_seconds: Interval of the alert sweep (default 15 minutes).
        office_hours_only: Skip sweeps while the office is closed.
        nightly: ``HH:MM`` of the rollup job.
        reports: Whether to write monthly / quarterly / yearly report files.
        sync_seconds: Interval of the outbox delivery (with a dispatcher).
    """

    sweep_seconds: float = 15 * 60
    office_hours_only: bool = True
    nightly: str = "23:30"
    reports: bool = True
    sync_seconds: float = 10.0


# Jobs are stored by reference in the database; they find their live service here.
_SERVICES: dict[str, SchedulerService] = {}


def _job(service_id: str, job: str) -> None:
    service = _SERVICES.get(service_id)
    if service is not None:
        service.run_job(job)


class SchedulerService:
    """Runs the periodic jobs while holding the database's scheduler lease.

    Args:
        store: The database to work on.
        clock: The source of time.
        calendar: The working calendar (sweeps run during office hours).
        notifiers: Who hears about alerts.
        reports_dir: Where report files are written.
        schedule: When jobs run.
        lease_ttl: Seconds a lease lasts; it is renewed every third of that.
        holder: Identity of this instance.
        audit_key: Seals the nightly anchors (``None`` only in development).
        anchor_file: The external anchor file the nightly anchors are appended to.
        dispatcher: Delivers the outbox to the national portal (job ``sync``); none: no job.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        calendar: Calendar,
        notifiers: Sequence[Notifier] = (),
        reports_dir: str | Path = "reports",
        schedule: Schedule = Schedule(),
        lease_ttl: float = 60,
        holder: str | None = None,
        audit_key: AuditKey | None = None,
        anchor_file: Path | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.store, self.clock, self.calendar = store, clock, calendar
        self.dispatcher = dispatcher
        self.audit_key, self.anchor_file = audit_key, anchor_file
        self.sweeper = AlertSweeper(store, clock, calendar, notifiers)
        self.reports_dir = Path(reports_dir)
        self.schedule = schedule
        self.lease = Lease(store, clock, ttl=lease_ttl, holder=holder)
        self.id = self.lease.holder
        self.stop_event = threading.Event()
        self._scheduler: BackgroundScheduler | None = None
        #: The opening the sweeps wait for while the office is closed (logged once).
        self._paused_until: datetime | None = None
        self.jobs: dict[str, Callable[[datetime], Any]] = {
            "sweep": self._sweep,
            "nightly": self._nightly,
            "report-month": lambda now: self._report(now, "month"),
            "report-quarter": lambda now: self._report(now, "quarter"),
            "report-year": lambda now: self._report(now, "year"),
        }
        if dispatcher is not None:
            self.jobs["sync"] = self._sync

    # -- jobs ---------------------------------------------------------------------------------

    def run_job(self, job: str) -> Any:
        """Run one job now if this instance holds the lease; record it in ``job_runs``."""
        if not self.lease.acquire():
            log.warning("scheduler.lease_lost", holder=self.id, job=job)
            return None
        now = self.clock.now()
        with self.store.begin() as conn:
            run_id = conn.execute(
                insert(job_runs).values(job=job, holder=self.id, started_at=now)
            ).inserted_primary_key[0]  # type: ignore[index]
        result: Any = None
        error = None
        try:
            result = self.jobs[job](now)
        except Exception as exc:  # noqa: BLE001 - recorded; the scheduler keeps running
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.error("scheduler.job_failed", job=job, error=error)
        with self.store.begin() as conn:
            conn.execute(
                update(job_runs)
                .where(job_runs.c.id == run_id)
                .values(finished_at=self.clock.now(), result=result, error=error)
            )
        return result

    def _sweep(self, now: datetime) -> dict[str, Any]:
        if self.schedule.office_hours_only:
            opening = self.calendar.next_opening(now)
            if opening != now:
                if opening != self._paused_until:  # one line per closed stretch, not per sweep
                    self._paused_until = opening
                    log.info(
                        "scheduler.sweeps_paused",
                        reason="office closed",
                        until=opening.isoformat(),
                        holder=self.id,
                    )
                return {"skipped": "office closed"}
        self._paused_until = None
        return {"new_alerts": len(self.sweeper.sweep(now))}

    def _nightly(self, now: datetime) -> dict[str, Any]:
        """Roll up yesterday (now complete: what happened after last night's run is included)
        and today so far, and anchor every day through yesterday not anchored yet."""
        today = local_date(now)
        yesterday = today - timedelta(days=1)
        rows = snapshot_range(self.store, yesterday, today, now)
        new = anchor_through(
            self.store, yesterday, now, self.audit_key, file=self.anchor_file, strict=False
        )
        days = [yesterday.isoformat(), today.isoformat()]
        return {"days": days, "rows": rows, "anchored": [a.day.isoformat() for a in new]}

    def _sync(self, now: datetime) -> dict[str, Any]:
        """Deliver what is due; bounded, so the lease is re-checked at the next run."""
        assert self.dispatcher is not None  # the job exists only with a dispatcher
        return self.dispatcher.drain(max_rounds=50).as_dict()

    def _report(self, now: datetime, span: str) -> dict[str, Any]:
        period = previous_period(now.date(), span)
        report = on_time_report(self.store, period, ["level"], as_of=now)
        from onestop.report_html import render_html

        self.reports_dir.mkdir(parents=True, exist_ok=True)
        stem = self.reports_dir / f"on-time-{period.label}"
        Path(f"{stem}.json").write_text(report.to_json(), encoding="utf-8")
        Path(f"{stem}.html").write_text(render_html(report), encoding="utf-8")
        return {"period": period.label, "files": [f"{stem}.json", f"{stem}.html"]}

    # -- running ------------------------------------------------------------------------------

    def _start_scheduler(self) -> None:
        hour, minute = (int(x) for x in self.schedule.nightly.split(":"))
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine)},
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=VN_TZ,
        )
        triggers: dict[str, Any] = {
            "sweep": IntervalTrigger(seconds=self.schedule.sweep_seconds, timezone=VN_TZ),
            "nightly": CronTrigger(hour=hour, minute=minute, timezone=VN_TZ),
        }
        if self.schedule.reports:
            triggers["report-month"] = CronTrigger(day=1, hour=6, timezone=VN_TZ)
            triggers["report-quarter"] = CronTrigger(
                month="1,4,7,10", day=1, hour=6, minute=15, timezone=VN_TZ
            )
            triggers["report-year"] = CronTrigger(month=1, day=1, hour=6, minute=30, timezone=VN_TZ)
        if self.dispatcher is not None:
            triggers["sync"] = IntervalTrigger(seconds=self.schedule.sync_seconds, timezone=VN_TZ)
        for name, trigger in triggers.items():
            # Stored by reference: a restarted instance replaces the rows, it does not add more.
            scheduler.add_job(
                _job, trigger, args=[self.id, name], id=name, name=name, replace_existing=True
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler.started", holder=self.id, jobs=sorted(triggers))

    def _stop_scheduler(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None

    def run_forever(self, poll: float | None = None) -> None:
        """Wait for the lease, run the jobs while holding it, until :meth:`stop` is called."""
        poll = poll if poll is not None else max(self.lease.ttl / 3, 0.05)
        _SERVICES[self.id] = self
        try:
            while not self.stop_event.is_set():
                if self.lease.acquire():
                    if self._scheduler is None:
                        self._start_scheduler()
                elif self._scheduler is not None:
                    log.warning("scheduler.lease_lost", holder=self.id)
                    self._stop_scheduler()
                self.stop_event.wait(poll)
        finally:
            self._stop_scheduler()
            self.lease.release()
            _SERVICES.pop(self.id, None)
            log.info("scheduler.stopped", holder=self.id)

    def stop(self) -> None:
        """Ask :meth:`run_forever` to shut down cleanly."""
        self.stop_event.set()

    def run_once(self) -> dict[str, Any]:
        """Run every job now, once, for an operator: the sweep even while the office is closed,
        the nightly rollup and anchors, the report files. Takes the lease for the time it runs
        (fencing as usual) and gives it back.

        Returns:
            Each job's result (``None`` for a job that failed: see ``job_runs.error``).

        Raises:
            LeaseHeld: If another instance holds the lease.
        """
        if not self.lease.acquire():
            holder = self.lease.current_holder()
            raise LeaseHeld(
                f"scheduler lease held by {holder}: stop it, or wait up to "
                f"{self.lease.ttl:g} s after it dies"
            )
        office_hours_only = self.schedule.office_hours_only
        try:
            self.schedule = replace(self.schedule, office_hours_only=False)
            return {job: self.run_job(job) for job in self.jobs}
        finally:
            self.schedule = replace(self.schedule, office_hours_only=office_hours_only)
            self.lease.release()


def previous_period(today: date, span: str) -> Period:
    """The last complete month, quarter or year before ``today``."""
    if span == "year":
        return Period.parse(str(today.year - 1))
    if span == "quarter":
        q = (today.month - 1) // 3
        year, q = (today.year, q) if q > 0 else (today.year - 1, 4)
        return Period.parse(f"{year}-Q{q}")
    last = today.replace(day=1) - timedelta(days=1)
    return Period.parse(f"{last.year}-{last.month:02d}")
