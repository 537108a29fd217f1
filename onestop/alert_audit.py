"""Verification of the alerts table against the event log (part of :func:`onestop.audit.audit`).

An alert row is what a sweep at its ``raised_at`` wrote about a dossier (or a feedback item,
under ``dossier_id`` = minus its id) that the one rule of :mod:`onestop.timeliness` judged overdue
or due soon, copying the case's holder, unit, level, procedure and deadline. The log records the
case's state after each event, so every row can be re-judged: the case existed at ``raised_at``
and, in a state in force then (or within :data:`GRACE` of it: the sweep read its clock before the
database), it was open and overdue, or due soon, at ``raised_at`` by the deadline the alert
carries, held by the agency it names. A forged row, an edited one (its time, deadline, holder,
kind or step) or one about a case that never existed is a finding.

The scheduler's recorded sweeps (``job_runs``) also say which alerts had to exist: a sweep that
ran while the log says a case was overdue (or due soon) had to raise that alert unless an
earlier one had, so a deleted alert, or one moved later, is found as missing, even when the
forger also lowers the sweep's count (:mod:`onestop.job_audit` checks the counts).

What cannot be checked: an alert deleted when no recorded sweep ran while its rule held (one
raised by ``onestop alerts`` alone, outside the scheduler, or whose state lasted less than
:data:`GRACE` around the sweeps), since alerts are neither chained nor anchored; the delivery
columns (``delivered_at``, ``attempts``, ``last_error``), which record a notifier's answer, not
the log. The due-soon horizon (working days ahead of the sweep) needs the working calendar the
sweeps used: without it only the rest of the rule is checked, and due-soon alerts are not
named as missing.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select

from onestop import feedback, timeliness
from onestop.alerts import DUE_SOON_DAYS, WHOLE_DOSSIER, AlertKind
from onestop.calendar import Calendar
from onestop.errors import CalendarRangeError
from onestop.finding import Finding, local_time
from onestop.store.codec import from_json
from onestop.store.schema import alerts, job_runs
from onestop.store.unit_of_work import UnitOfWork

#: How far from an alert's time the state its sweep judged may be in force: a sweep reads the
#: clock before it reads the database (on SQLite it may then wait up to 30 s for the write
#: lock; on PostgreSQL a command timed just before may commit just after its snapshot).
GRACE = timedelta(seconds=60)
#: The columns a sweep copies from the case into its alert (besides the kind and the time).
COPIED = ("step_seq", "agency", "unit", "level", "procedure_code", "due_at")


def alert_query() -> Select[Any]:
    """Every alert, in case order (then by time), to merge with the log."""
    return select(alerts).order_by(alerts.c.dossier_id, alerts.c.raised_at, alerts.c.id)


@dataclass(frozen=True)
class Sweeps:
    """The scheduler's recorded sweeps that ran to the end (the alerts they had to raise can be
    named), by time. Held in memory: one entry per sweep run, not per alert or event.

    Attributes:
        times: When each ran (its alerts' ``raised_at``), ascending.
        runs: Each one's ``job_runs`` id.
    """

    times: tuple[datetime, ...] = ()
    runs: tuple[int, ...] = ()

    @classmethod
    def load(cls, uow: UnitOfWork) -> Sweeps:
        """The finished sweeps without error that say how many alerts they raised.

        Args:
            uow: A unit of work reading the database.
        """
        r = job_runs.c
        query = (
            select(r.id, r.started_at, r.result)
            .where(r.job == "sweep", r.finished_at.is_not(None), r.error.is_(None))
            .order_by(r.started_at, r.id)
        )
        times: list[datetime] = []
        runs: list[int] = []
        for run in uow.conn.execute(query, execution_options={"yield_per": 1000}):
            if isinstance(run.result, dict) and isinstance(run.result.get("new_alerts"), int):
                times.append(run.started_at)
                runs.append(run.id)
        return cls(tuple(times), tuple(runs))


@dataclass
class AlertRules:
    """How the sweeps judged "due soon", and what verifying the alerts could not check.

    Attributes:
        calendar: The working calendar of the sweeps (``None``: the due-soon horizon is not
            checked).
        due_soon_days: The sweeps' horizon in working days (the scheduler's default).
        sweeps: The recorded sweeps, to name the alerts each had to raise.
        unchecked_horizons: Due-soon alerts whose horizon was not checked (no calendar).
    """

    calendar: Calendar | None = None
    due_soon_days: float = DUE_SOON_DAYS
    sweeps: Sweeps = field(default_factory=Sweeps)
    unchecked_horizons: int = field(default=0)

    def horizon(self, at: datetime) -> datetime | None:
        """The latest deadline a sweep at ``at`` calls due soon (``None``: not known)."""
        if self.calendar is None:
            return None
        try:
            return self.calendar.add_working_days(at, self.due_soon_days)
        except CalendarRangeError:  # a forged time beyond the calendar: no sweep ran then
            return None

    def notes(self) -> list[str]:
        """What could not be checked."""
        if not self.unchecked_horizons:
            return []
        return [
            f"{self.unchecked_horizons} due-soon alert(s): the horizon "
            f"({self.due_soon_days:g} working day(s)) is not checked without the working calendar"
        ]


def check_alerts(
    case: int,
    history: Sequence[dict[str, Any]],
    raised: Sequence[dict[str, Any]],
    rules: AlertRules,
) -> list[Finding]:
    """Each alert of one case against the case's states as its events record them.

    Args:
        case: The dossier id (minus the id of a feedback item).
        history: The case's events, oldest first (empty if it has none).
        raised: Its alert rows.
        rules: The sweeps' due-soon horizon.
    """
    findings: list[Finding] = []
    times = [event["at"] for event in history]
    states = list(_states(history))
    for alert in raised:
        at: datetime = alert["raised_at"]
        what = _describe(case, alert)
        if alert["kind"] == AlertKind.DUE_SOON and rules.calendar is None:
            rules.unchecked_horizons += 1
        # The states in force within GRACE of ``at``: the sweep judged one of them.
        last = bisect.bisect_right(times, at + GRACE)
        if last == 0:
            problem = "the dossier has no events" if not history else "before the dossier existed"
            findings.append(Finding(case, None, "alert_orphaned", f"{what}: {problem}"))
            continue
        first = max(bisect.bisect_right(times, at - GRACE) - 1, 0)
        expected = [_expected(case, states[i], alert, rules) for i in range(first, last)]
        if any(e is not None and _differences(e, alert) == [] for e in expected):
            continue
        justified = [e for e in expected if e is not None]
        if not justified:
            seq = history[max(bisect.bisect_right(times, at) - 1, 0)]["seq"]
            findings.append(
                Finding(case, None, "alert_unjustified",
                        f"{what}: not {alert['kind']} by the log (state after event {seq})")
            )  # fmt: skip
            continue
        diff = _differences(justified[-1], alert)
        findings.append(Finding(case, None, "alert_edited", f"{what}: {', '.join(diff)}"))
    return findings + _missing(case, history, states, raised, rules)


def _missing(
    case: int,
    history: Sequence[dict[str, Any]],
    states: Sequence[dict[str, Any]],
    raised: Sequence[dict[str, Any]],
    rules: AlertRules,
) -> list[Finding]:
    """The alerts a recorded sweep had to raise and that are not there (raised by then).

    For each state of the case, the sweeps run while it was in force (more than GRACE after it
    began and before it ended, so no race blurs what they read) are searched for the first at
    which the rule held; "overdue" (and "due soon" up to the horizon) only begins to hold as time
    passes within one state, so a binary search finds it.
    """
    times = rules.sweeps.times
    if not times or not history:
        return []
    first: dict[tuple[int, str], int] = {}  # (step, kind): the first sweep that had to raise it
    for i, state in enumerate(states):
        lo = bisect.bisect_left(times, history[i]["at"] + GRACE)
        hi = len(times)
        if i + 1 < len(history):
            hi = bisect.bisect_right(times, history[i + 1]["at"] - GRACE)
        if lo >= hi:
            continue
        scopes = [True] if case < 0 else [True, False]
        for whole in scopes:
            step = WHOLE_DOSSIER if whole else state.get("step_index")
            due = _due(case, state, whole)
            for kind in AlertKind:  # due soon: never found without the calendar's horizon
                if step is None or due is None or (step, kind.value) in first:
                    continue
                k = _first_sweep(case, state, due, kind, rules, lo, hi)
                if k is not None:
                    first[(step, kind.value)] = k
    have = {(a["step_seq"], a["kind"]): a["raised_at"] for a in raised}
    findings: list[Finding] = []
    for (step, named), k in sorted(first.items(), key=lambda item: item[1]):
        at = times[k]
        if (step, named) in have and have[(step, named)] <= at:
            continue
        scope = "dossier" if step == WHOLE_DOSSIER else f"step {step}"
        scope = "feedback item" if case < 0 else scope
        findings.append(
            Finding(case, None, "alert_missing",
                    f"{named}, {scope}: so by the log at the sweep of "
                    f"{local_time(at)} (job run {rules.sweeps.runs[k]}), "
                    "and no alert raised by then")
        )  # fmt: skip
    return findings


def _first_sweep(
    case: int,
    state: dict[str, Any],
    due: datetime,
    kind: AlertKind,
    rules: AlertRules,
    lo: int,
    hi: int,
) -> int | None:
    """The first of the sweeps ``lo`` to ``hi`` (exclusive) at which the rule held for
    ``state``, if any."""
    times = rules.sweeps.times

    def begun(k: int) -> bool:
        if kind is AlertKind.OVERDUE:
            return _holds(case, state, due, kind, times[k], rules)
        # Due soon from the first sweep whose horizon reaches the deadline, until it passes.
        horizon = rules.horizon(times[k])
        return horizon is not None and horizon >= due

    end = hi
    while lo < hi:  # the first sweep at which the rule has begun to hold
        mid = (lo + hi) // 2
        if begun(mid):
            hi = mid
        else:
            lo = mid + 1
    if lo < end and _holds(case, state, due, kind, times[lo], rules):
        return lo
    return None


def _states(history: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """The case's columns after each event (the replay, one event at a time)."""
    row: dict[str, Any] = {}
    out = []
    for event in history:
        row = {**row, **from_json(event["data"]["set"])}
        out.append(row)
    return out


def _describe(case: int, alert: dict[str, Any]) -> str:
    step = alert["step_seq"]
    scope = "dossier" if step == WHOLE_DOSSIER else f"step {step}"
    scope = "feedback item" if case < 0 else scope
    raised = local_time(alert["raised_at"])
    return f"alert {alert['id']} ({alert['kind']}, {scope}, raised {raised})"


def _expected(
    case: int, state: dict[str, Any], alert: dict[str, Any], rules: AlertRules
) -> dict[str, Any] | None:
    """The columns a sweep at the alert's time would have written from ``state`` for the
    alert's kind (and, for a dossier, its scope: whole or current step); ``None`` if the rule
    says the case was not in that state."""
    kind = alert["kind"]
    if kind not in {k.value for k in AlertKind}:
        return None
    whole = case < 0 or alert["step_seq"] == WHOLE_DOSSIER
    due = _due(case, state, whole)
    if not _holds(case, state, due, AlertKind(kind), alert["raised_at"], rules):
        return None
    if case < 0:
        copied = {"step_seq": WHOLE_DOSSIER, "agency": state.get("agency"),
                  "unit": state.get("unit"), "procedure_code": "feedback"}  # fmt: skip
    else:
        copied = {"step_seq": WHOLE_DOSSIER if whole else state.get("step_index"),
                  "agency": state.get("current_agency"), "unit": state.get("competent_unit"),
                  "procedure_code": state.get("procedure_code")}  # fmt: skip
    return {**copied, "level": state.get("level"), "due_at": due}


def _due(case: int, state: dict[str, Any], whole: bool) -> datetime | None:
    """The deadline a sweep reads: the appointment (a feedback item's time limit), or the
    current step's."""
    due: datetime | None = state.get("due_at") if whole or case < 0 else state.get("step_due_at")
    return due


def _holds(
    case: int,
    state: dict[str, Any],
    due: datetime | None,
    kind: AlertKind,
    at: datetime,
    rules: AlertRules,
) -> bool:
    """Whether the one rule calls the case in ``state`` overdue (due soon) at ``at`` by
    ``due`` (a feedback item by :mod:`onestop.feedback`'s form of it)."""
    status = state.get("status")
    if status is None:
        return False
    if kind is AlertKind.OVERDUE:
        if case < 0:
            return feedback.is_overdue(status, due, at)
        return timeliness.is_overdue(status, due, state.get("paused_at"), at)
    horizon = rules.horizon(at)
    if horizon is None:
        horizon = due or at  # the rest of the rule still holds
    if case < 0:
        return feedback.is_due_soon(status, due, at, horizon)
    return timeliness.is_due_soon(status, due, state.get("paused_at"), at, horizon)


def _differences(expected: dict[str, Any], alert: dict[str, Any]) -> list[str]:
    return [c for c in COPIED if expected[c] != alert[c]]
