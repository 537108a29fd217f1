"""Verification of the scheduler's job runs (part of :func:`onestop.audit.audit`).

Every job a scheduler runs is recorded in ``job_runs`` before it starts and completed when it
ends (:meth:`onestop.scheduler.SchedulerService.run_job`). Only the holder of the lease runs jobs,
one at a time, and the clock does not go back, so the runs, in the order they were recorded,
start one after the other and never overlap; a run ends after it starts. A sweep records how
many alerts it raised, all stamped with the sweep's time: the alerts carrying that time must be
exactly that many. So a moved, edited or slipped-in run is found, and so is an alert deleted
from a recorded sweep (if the forger also lowers the run's count, :mod:`onestop.alert_audit`
still names the alert the log says that sweep had to raise; it also finds forged alerts
whatever the runs say).

What cannot be checked: a deleted run (ids are allocated in order, so gaps are noted, but a
PostgreSQL sequence also skips after a rolled-back insert or a crash); a run's ``result`` other
than a sweep's count (reports written, rows rolled up: other checks cover the rollups); runs
that never finished (the process died: their end is unknown, so they are not checked for
overlap); sweeps run outside the scheduler (``onestop alerts``), which record no run.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from onestop.finding import Finding, local_time
from onestop.store.schema import alerts, job_runs
from onestop.store.unit_of_work import UnitOfWork

#: The table the findings name.
TABLE = "job_runs"
_BATCH = 1000


def check_job_runs(uow: UnitOfWork) -> tuple[list[Finding], list[str]]:
    """The runs' order, times and overlaps, and each sweep's count against its alerts.

    Args:
        uow: A unit of work reading the database.

    Returns:
        The findings, and notes on what could not be checked.
    """
    findings, notes = _check_sequence(uow.conn)
    return findings + _check_sweeps(uow.conn), notes


def _rows(conn: Connection, query: Any) -> Iterator[dict[str, Any]]:
    for row in conn.execute(query, execution_options={"yield_per": _BATCH}).mappings():
        yield dict(row)


def _at(moment: datetime | None) -> str:
    return "never" if moment is None else local_time(moment, "%Y-%m-%d %H:%M:%S")


def _run(row: dict[str, Any]) -> str:
    return f"run {row['id']} ({row['job']} by {row['holder']}, started {_at(row['started_at'])})"


def _finding(problem: str, detail: str) -> Finding:
    return Finding(None, None, problem, detail, TABLE)


def _check_sequence(conn: Connection) -> tuple[list[Finding], list[str]]:
    """Runs in id order: each ends after it starts, starts no earlier than the one before, and
    not before the one before ended."""
    findings: list[Finding] = []
    gaps: list[str] = []
    previous: dict[str, Any] | None = None
    for run in _rows(conn, select(job_runs).order_by(job_runs.c.id)):
        if run["finished_at"] is not None and run["finished_at"] < run["started_at"]:
            findings.append(_finding("job_run_edited", f"{_run(run)}: finished before it started"))
        if previous is not None:
            if run["id"] != previous["id"] + 1:
                gaps.append(f"{previous['id'] + 1}–{run['id'] - 1}")
            if run["started_at"] < previous["started_at"]:
                findings.append(
                    _finding("job_run_edited", f"{_run(run)}: started before {_run(previous)}")
                )
            elif (ended := previous["finished_at"]) is not None and run["started_at"] < ended:
                findings.append(
                    _finding("job_run_overlap",
                             f"{_run(run)}: started before {_run(previous)} finished "
                             f"({_at(ended)}): two runs at once under one lease")
                )  # fmt: skip
        previous = run
    notes = []
    if gaps:
        notes.append(
            f"job_runs: {len(gaps)} gap(s) in the run ids (first {gaps[0]}): runs deleted, or "
            "inserts rolled back"
        )
    return findings, notes


def _sweep_count(result: Any) -> int | None:
    """The number of alerts a sweep run says it raised (``None``: the result is not a sweep's)."""
    if not isinstance(result, dict):
        return None
    if "skipped" in result:
        return 0
    count = result.get("new_alerts")
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _check_sweeps(conn: Connection) -> list[Finding]:
    """Each finished sweep's count equals the alerts stamped with its time (merged in time
    order with the alerts counted per instant)."""
    findings: list[Finding] = []
    sweeps = _rows(conn, select(job_runs).where(job_runs.c.job == "sweep",
                                                job_runs.c.finished_at.is_not(None),
                                                job_runs.c.error.is_(None))
                   .order_by(job_runs.c.started_at, job_runs.c.id))  # fmt: skip
    per_instant = _rows(conn, select(alerts.c.raised_at, func.count().label("n"))
                        .group_by(alerts.c.raised_at).order_by(alerts.c.raised_at))  # fmt: skip
    counted = next(per_instant, None)
    for at, group in itertools.groupby(sweeps, key=lambda run: run["started_at"]):
        runs = list(group)
        while counted is not None and counted["raised_at"] < at:
            counted = next(per_instant, None)
        found = counted["n"] if counted is not None and counted["raised_at"] == at else 0
        said = [_sweep_count(run["result"]) for run in runs]
        if any(n is None for n in said):
            bad = runs[said.index(None)]
            findings.append(
                _finding("job_run_edited", f"{_run(bad)}: not a sweep's result: {bad['result']!r}")
            )
            continue
        raised = sum(n for n in said if n is not None)
        if raised != found:
            findings.append(
                _finding("job_run_alerts",
                         f"{_run(runs[0])}: raised {raised} alert(s), {found} carry its time")
            )  # fmt: skip
    return findings
