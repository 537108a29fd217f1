"""Verification of the alerts table against the event log (part of :func:`onestop.audit.audit`).

An alert row is what a sweep at its ``raised_at`` wrote about a dossier (or a feedback item,
under ``dossier_id`` = minus its id) that the one rule of :mod:`onestop.timeliness` judged overdue
or due soon, copying the case's holder, unit, level, procedure and deadline. The log records the
case's state after each event, so every row can be re-judged: the case existed at ``raised_at``
and, in a state in force then (or within :data:`GRACE` of it: the sweep read its clock before the
database), it was open and overdue, or due soon, at ``raised_at`` by the deadline the alert
carries, held by the agency it names. A forged row, an edited one (its time,
deadline, holder, kind or step) or one about a case that never existed is a finding.

What cannot be checked here: a deleted alert (alerts are neither chained nor anchored; the
scheduler's job runs record how many each sweep raised, see :mod:`onestop.job_audit`), and the
delivery columns (``delivered_at``, ``attempts``, ``last_error``), which record a notifier's
answer, not the log. The due-soon horizon (working days ahead of the sweep) needs the working
calendar the sweeps used: without it only the rest of the rule is checked.
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
from onestop.clock import VN_TZ
from onestop.finding import Finding
from onestop.store.codec import from_json
from onestop.store.schema import alerts

#: How far from an alert's time the state its sweep judged may be in force: a sweep reads the
#: clock before it reads the database (on SQLite it may then wait up to 30 s for the write
#: lock; on PostgreSQL a command timed just before may commit just after its snapshot).
GRACE = timedelta(seconds=60)
#: The columns a sweep copies from the case into its alert (besides the kind and the time).
COPIED = ("step_seq", "agency", "unit", "level", "procedure_code", "due_at")


def alert_query() -> Select[Any]:
    """Every alert, in case order (then by time), to merge with the log."""
    return select(alerts).order_by(alerts.c.dossier_id, alerts.c.raised_at, alerts.c.id)


@dataclass
class AlertRules:
    """How the sweeps judged "due soon", and what verifying the alerts could not check.

    Attributes:
        calendar: The working calendar of the sweeps (``None``: the due-soon horizon is not
            checked).
        due_soon_days: The sweeps' horizon in working days (the scheduler's default).
        unchecked_horizons: Due-soon alerts whose horizon was not checked (no calendar).
    """

    calendar: Calendar | None = None
    due_soon_days: float = DUE_SOON_DAYS
    unchecked_horizons: int = field(default=0)

    def horizon(self, at: datetime) -> datetime | None:
        """The latest deadline a sweep at ``at`` calls due soon (``None``: not known)."""
        if self.calendar is None:
            return None
        return self.calendar.add_working_days(at, self.due_soon_days)

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
    return findings


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
    raised = alert["raised_at"].astimezone(VN_TZ)
    return f"alert {alert['id']} ({alert['kind']}, {scope}, raised {raised:%Y-%m-%d %H:%M})"


def _expected(
    case: int, state: dict[str, Any], alert: dict[str, Any], rules: AlertRules
) -> dict[str, Any] | None:
    """The columns a sweep at the alert's time would have written from ``state`` for the
    alert's kind (and, for a dossier, its scope: whole or current step); ``None`` if the rule
    says the case was not in that state."""
    at: datetime = alert["raised_at"]
    kind = alert["kind"]
    if kind not in {k.value for k in AlertKind}:
        return None
    due: datetime | None
    if case < 0:
        due = state.get("due_at")
        copied = {"step_seq": WHOLE_DOSSIER, "agency": state.get("agency"),
                  "unit": state.get("unit"), "procedure_code": "feedback"}  # fmt: skip
    else:
        whole = alert["step_seq"] == WHOLE_DOSSIER
        due = state.get("due_at") if whole else state.get("step_due_at")
        copied = {"step_seq": WHOLE_DOSSIER if whole else state.get("step_index"),
                  "agency": state.get("current_agency"), "unit": state.get("competent_unit"),
                  "procedure_code": state.get("procedure_code")}  # fmt: skip
    status = state.get("status")
    if status is None:
        return None
    if kind == AlertKind.OVERDUE:
        held = (
            feedback.is_overdue(status, due, at)
            if case < 0
            else timeliness.is_overdue(status, due, state.get("paused_at"), at)
        )
    else:
        horizon = rules.horizon(at)
        if horizon is None:
            horizon = due or at  # the rest of the rule still holds
        held = (
            feedback.is_due_soon(status, due, at, horizon)
            if case < 0
            else timeliness.is_due_soon(status, due, state.get("paused_at"), at, horizon)
        )
    if not held:
        return None
    return {**copied, "level": state.get("level"), "due_at": due}


def _differences(expected: dict[str, Any], alert: dict[str, Any]) -> list[str]:
    return [c for c in COPIED if expected[c] != alert[c]]
