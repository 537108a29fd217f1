"""Deadline law: when a dossier's clock starts, when it and each step are due, how pauses,
supplements and apology letters move them.

Pure functions of the calendar, the rule set in force and the procedure. The engine, the
simulator and the tests call these and nothing else for a due time. Working-time arithmetic
itself lives in :mod:`onestop.calendar`.

Sources: Decree 61/2018/NĐ-CP (amended by Decree 107/2021/NĐ-CP) and Decree 118/2025/NĐ-CP
(receipt, transfer after 15:00, supplements, apology letters); Decree 23/2015/NĐ-CP Art. 7,
Decree 123/2015/NĐ-CP (same-day procedures); Civil Code Art. 147–148 (calendar-day limits).

Example:
    >>> from datetime import datetime
    >>> from onestop.calendar import Calendar
    >>> from onestop.clock import VN_TZ
    >>> from onestop.rules import RuleSet
    >>> cal, rules = Calendar.vietnam(years=[2025]), RuleSet(name="example")
    >>> same_day_due(cal, rules, datetime(2025, 3, 4, 15, 0, tzinfo=VN_TZ)).isoformat()
    '2025-03-04T17:00:00+07:00'
    >>> same_day_due(cal, rules, datetime(2025, 3, 4, 15, 30, tzinfo=VN_TZ)).isoformat()
    '2025-03-05T17:00:00+07:00'
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from onestop.calendar import Calendar
from onestop.catalog import Procedure, RouteStep
from onestop.clock import VN_TZ
from onestop.rules import RuleSet

#: How a pause request treats the deadline clock.
ClockEffect = Literal["stop", "run"]


def after_cutoff(calendar: Calendar, rules: RuleSet, moment: datetime) -> bool:
    """Whether ``moment`` is after the daily cut-off (15:00) of a working day.

    "After 15:00" is strict: 15:00:00 itself is before the cut-off.

    Example:
        >>> from onestop.calendar import Calendar
        >>> from onestop.clock import VN_TZ
        >>> from onestop.rules import RuleSet
        >>> cal, rules = Calendar.vietnam(years=[2025]), RuleSet(name="example")
        >>> after_cutoff(cal, rules, datetime(2025, 3, 4, 15, 0, tzinfo=VN_TZ))
        False
        >>> after_cutoff(cal, rules, datetime(2025, 3, 4, 15, 0, 1, tzinfo=VN_TZ))
        True
    """
    local = moment.astimezone(VN_TZ)
    return calendar.is_working_day(local.date()) and local.time() > rules.cutoff


def _next_working_day_opening(calendar: Calendar, moment: datetime) -> datetime:
    """The opening of the first working day after ``moment``'s own day."""
    day = calendar.shift_working_day(moment.astimezone(VN_TZ).date(), 1)
    return calendar.next_opening(datetime.combine(day, datetime.min.time(), VN_TZ))


def clock_start(
    calendar: Calendar, rules: RuleSet, proc: Procedure, received_at: datetime
) -> datetime:
    """When the statutory time starts counting for a dossier received at ``received_at``.

    At the next opening of the office; for same-day procedures and short ones (statutory time
    up to the rule set's ``next_day_threshold_days``) received after the cut-off, at the next
    working day's opening.

    Example:
        >>> cal, rules = Calendar.vietnam(years=[2025]), RuleSet(name="example")
        >>> ten = Procedure.model_validate({"code": "P", "name_vi": "P", "name_en": "P",
        ...     "field": "f", "level": "commune", "statutory_days": 1,
        ...     "route": {"steps": [{"code": "s", "role": "desk", "budget": 1}]}})
        >>> clock_start(cal, rules, ten, datetime(2025, 3, 4, 16, tzinfo=VN_TZ)).isoformat()
        '2025-03-05T07:00:00+07:00'
    """
    short = proc.time_unit == "same_day" or proc.statutory_days <= rules.next_day_threshold_days
    if short and after_cutoff(calendar, rules, received_at):
        return _next_working_day_opening(calendar, received_at)
    return calendar.next_opening(received_at)


def same_day_due(calendar: Calendar, rules: RuleSet, received_at: datetime) -> datetime:
    """The appointment of a same-day procedure: the close of the receipt working day, or of the
    next working day when received after the cut-off (Decree 23/2015 Art. 7).

    A receipt on a day off, or before opening, is due at the close of the next working day that
    opens.
    """
    if after_cutoff(calendar, rules, received_at):
        return calendar.close_of(
            calendar.shift_working_day(received_at.astimezone(VN_TZ).date(), 1)
        )
    return calendar.close_of(calendar.next_opening(received_at).date())


def appointment(
    calendar: Calendar, rules: RuleSet, proc: Procedure, received_at: datetime
) -> datetime:
    """The appointment date (ngày hẹn trả) of a dossier received at ``received_at``.

    Working days from :func:`clock_start`; same-day procedures by :func:`same_day_due`; calendar
    days (the receipt day not counted) to the close of the last day, or of the next working day
    when that one is off.

    Example:
        >>> from onestop.calendar import Calendar
        >>> from onestop.clock import VN_TZ
        >>> from onestop.rules import RuleSet
        >>> from onestop.catalog import Procedure
        >>> proc = Procedure.model_validate({"code": "P", "name_vi": "P", "name_en": "P",
        ...     "field": "f", "level": "commune", "statutory_days": 3,
        ...     "route": {"steps": [{"code": "s", "role": "desk", "budget": 3}]}})
        >>> cal, rules = Calendar.vietnam(years=[2025]), RuleSet(name="example")
        >>> appointment(cal, rules, proc, datetime(2025, 1, 24, 9, tzinfo=VN_TZ)).isoformat()
        '2025-02-05T09:00:00+07:00'
    """
    if proc.time_unit == "same_day":
        return same_day_due(calendar, rules, received_at)
    start = clock_start(calendar, rules, proc, received_at)
    if proc.time_unit == "calendar_days":
        return calendar.add_calendar_days(start, int(proc.statutory_days))
    return calendar.add_working_days(start, proc.statutory_days)


def step_due(
    calendar: Calendar, proc: Procedure, step: RouteStep, start: datetime, due_at: datetime
) -> datetime:
    """When a step started at ``start`` is due: its budget in working days, and never after the
    appointment of a same-day procedure (the whole dossier is due that day).

    Example:
        >>> cal = Calendar.vietnam(years=[2025])
        >>> copy = Procedure.model_validate({"code": "C", "name_vi": "C", "name_en": "C",
        ...     "field": "f", "level": "commune", "statutory_days": 0.5, "time_unit": "same_day",
        ...     "route": {"steps": [{"code": "s", "role": "desk", "budget": 0.5}]}})
        >>> start = datetime(2025, 3, 4, 14, tzinfo=VN_TZ)
        >>> due = datetime(2025, 3, 4, 17, tzinfo=VN_TZ)
        >>> step_due(cal, copy, copy.route.steps[0], start, due).isoformat()
        '2025-03-04T17:00:00+07:00'
    """
    due = calendar.add_working_days(start, step.budget)
    if proc.time_unit == "same_day":
        return min(due, due_at)
    return due


def handover_start(
    calendar: Calendar, rules: RuleSet, from_step: RouteStep, at: datetime
) -> datetime:
    """When the next step starts after ``from_step`` hands over at ``at``: at once, except that
    the desk transfers dossiers received after the cut-off at the next working day's opening.

    Example:
        >>> cal, rules = Calendar.vietnam(years=[2025]), RuleSet(name="example")
        >>> desk = RouteStep(code="receive", role="desk", budget=0.5)
        >>> handover_start(cal, rules, desk, datetime(2025, 3, 4, 15, 30, tzinfo=VN_TZ)).isoformat()
        '2025-03-05T07:00:00+07:00'
    """
    if from_step.role == "desk" and after_cutoff(calendar, rules, at):
        return _next_working_day_opening(calendar, at)
    return at


def shifted(
    calendar: Calendar, due: datetime, stopped_at: datetime, resumed_at: datetime
) -> datetime:
    """``due`` moved later by the working time between ``stopped_at`` and ``resumed_at`` (the
    time the clock stood still).

    Example:
        >>> cal = Calendar.vietnam(years=[2025])
        >>> due = datetime(2025, 3, 6, 9, tzinfo=VN_TZ)
        >>> stop = datetime(2025, 3, 3, 10, tzinfo=VN_TZ)
        >>> go = datetime(2025, 3, 5, 10, tzinfo=VN_TZ)
        >>> shifted(cal, due, stop, go).isoformat()
        '2025-03-10T09:00:00+07:00'
    """
    paused = calendar.working_days_between(stopped_at, resumed_at)
    return calendar.add_working_days(due, paused) if paused > 0 else due


def transfer_due(calendar: Calendar, rules: RuleSet, due: datetime | None) -> datetime | None:
    """The appointment of a dossier a reorganisation transfers to a successor unit: kept, or
    moved later by the rule set's ``transfer_extension_days`` working days.

    Example:
        >>> cal = Calendar.vietnam(years=[2025])
        >>> due = datetime(2025, 7, 4, 9, tzinfo=VN_TZ)
        >>> transfer_due(cal, RuleSet(name="kept"), due) == due
        True
        >>> extended = RuleSet(name="ext", transfer_extension_days=2)
        >>> transfer_due(cal, extended, due).isoformat()
        '2025-07-08T09:00:00+07:00'
    """
    if due is None or rules.transfer_extension_days <= 0:
        return due
    return calendar.add_working_days(due, rules.transfer_extension_days)


def pause_effect(trigger: str, rules: RuleSet, supplements_requested: int) -> ClockEffect:
    """Whether a request stops the deadline clock.

    A supplement request stops it only within the rule set's limit (one written request
    listing everything missing); a further request is recorded but the clock runs on. A payment
    request stops it when the rule set says so; a suspension always does.

    Args:
        trigger: ``request_supplement``, ``request_payment`` or ``suspend``.
        rules: The dossier's rule set.
        supplements_requested: Supplement requests already made on the dossier.


    Example:
        >>> rules = RuleSet(name="example")
        >>> [pause_effect("request_supplement", rules, asked) for asked in (0, 1)]
        ['stop', 'run']
    """
    if trigger == "request_supplement":
        return "stop" if supplements_requested < rules.max_supplement_requests else "run"
    if trigger == "request_payment":
        return "stop" if rules.payment_pauses_clock else "run"
    return "stop"


def restart_window_end(calendar: Calendar, proc: Procedure, received_at: datetime) -> datetime:
    """The end of the procedure's intake-check window: the last moment at which an
    incompleteness notice may restart the clock from zero.

    Example:
        >>> cal = Calendar.vietnam(years=[2025])
        >>> land = Procedure.model_validate({"code": "L", "name_vi": "L", "name_en": "L",
        ...     "field": "land", "level": "district", "statutory_days": 10,
        ...     "supplement_rule": "restart",
        ...     "route": {"steps": [{"code": "s", "role": "land", "budget": 10}]}})
        >>> restart_window_end(cal, land, datetime(2025, 3, 3, 9, tzinfo=VN_TZ)).isoformat()
        '2025-03-06T09:00:00+07:00'
        >>> supplement_restarts(cal, land, datetime(2025, 3, 3, 9, tzinfo=VN_TZ),
        ...     datetime(2025, 3, 7, 9, tzinfo=VN_TZ), datetime(2025, 3, 17, 9, tzinfo=VN_TZ))
        False
    """
    return calendar.add_working_days(received_at, proc.intake_check_days)


def supplement_restarts(
    calendar: Calendar,
    proc: Procedure,
    received_at: datetime,
    requested_at: datetime | None,
    due_at: datetime,
) -> bool:
    """Whether answering a supplement request restarts the full statutory time.

    Only for ``restart`` procedures, when the request stopped the clock (``requested_at``), was
    notified within the intake-check window, and the dossier was not already overdue then; any
    other supplement only shifts the deadline by the waiting time.
    """
    return (
        proc.supplement_rule == "restart"
        and requested_at is not None
        and requested_at <= restart_window_end(calendar, proc, received_at)
        and requested_at <= due_at
    )


def apology_deadline(calendar: Calendar, rules: RuleSet, due_at: datetime) -> date:
    """The last day on which an apology letter (Form 04) is in time: ``apology_lead_days``
    working days before the appointment date. Day-granular: any time that day counts.

    Example:
        >>> from onestop.calendar import Calendar
        >>> from onestop.clock import VN_TZ
        >>> from onestop.rules import RuleSet
        >>> cal, rules = Calendar.vietnam(years=[2025]), RuleSet(name="example")
        >>> apology_deadline(cal, rules, datetime(2025, 2, 3, 9, tzinfo=VN_TZ)).isoformat()
        '2025-01-24'
    """
    return calendar.shift_working_day(due_at.astimezone(VN_TZ).date(), -rules.apology_lead_days)


def apology_in_time(
    calendar: Calendar, rules: RuleSet, issued_at: datetime, due_at: datetime
) -> bool:
    """Whether an apology letter issued at ``issued_at`` met :func:`apology_deadline`.

    Example:
        >>> cal, rules = Calendar.vietnam(years=[2025]), RuleSet(name="example")
        >>> apology_in_time(cal, rules, datetime(2025, 3, 7, 16, tzinfo=VN_TZ),
        ...     datetime(2025, 3, 10, 9, tzinfo=VN_TZ))
        True
    """
    return issued_at.astimezone(VN_TZ).date() <= apology_deadline(calendar, rules, due_at)
