"""Timeliness: the one overdue predicate and the one classification of results.

An open dossier (or step) is **overdue** when its due time is before the instant its deadline
clock reads. The clock runs while the dossier is being processed and stops while the law stops it
(a supplement or payment request within the rules, a suspension): the engine records that instant
as ``paused_at``. So a dossier paused *before* its appointment is not overdue however long the
applicant takes, and one paused *after* it stays overdue. Reports, alerts and worklists use the SQL
form of this predicate (:mod:`onestop.store.clauses`), tested to agree with it on both backends.

A finished dossier or step is classified once, at resolution, against the due time in force:
early (an earlier day), on time (the due day, by the due time) or late. A dossier whose
appointment an apology letter reset counts as late whatever happens after.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from onestop.status import OPEN_STATUSES, Status


class Timeliness(StrEnum):
    """Timeliness classes of the national reporting rules."""

    EARLY = "early"  # trước hạn: resolved on a day before the appointment date
    ON_TIME = "on_time"  # đúng hạn: resolved on the appointment date, by the appointed time
    LATE = "late"  # quá hạn: resolved after the appointment, or after an apology letter
    IN_TIME = "in_time"  # open, appointment not passed
    OVERDUE = "overdue"  # open, appointment passed

    @property
    def counts_on_time(self) -> bool:
        """Whether the class counts towards the on-time rate (early or on time)."""
        return self in (Timeliness.EARLY, Timeliness.ON_TIME)


def clock_reading(paused_at: datetime | None, at: datetime) -> datetime:
    """The instant a dossier's deadline clock shows at ``at``: ``at`` itself while it runs, the
    instant it stopped while it is stopped.

    Example:
        >>> from onestop.clock import VN_TZ
        >>> stop, now = datetime(2025, 3, 3, 9, tzinfo=VN_TZ), datetime(2025, 4, 1, tzinfo=VN_TZ)
        >>> clock_reading(stop, now) == stop, clock_reading(None, now) == now
        (True, True)
    """
    return paused_at if paused_at is not None and paused_at < at else at


def is_overdue(
    status: Status | str, due_at: datetime | None, paused_at: datetime | None, at: datetime
) -> bool:
    """Whether an open dossier (or its current step) is overdue at ``at``.

    Args:
        status: The dossier's status; only open dossiers can be overdue.
        due_at: The due time in force (the appointment date, or the step's due time).
        paused_at: When the deadline clock stopped, ``None`` while it runs.
        at: The instant of judgement.

    Example:
        >>> from onestop.clock import VN_TZ
        >>> due = datetime(2025, 3, 5, 17, tzinfo=VN_TZ)
        >>> later = datetime(2025, 4, 30, 9, tzinfo=VN_TZ)
        >>> is_overdue("supplement_requested", due, datetime(2025, 3, 4, 9, tzinfo=VN_TZ), later)
        False
        >>> is_overdue("supplement_requested", due, datetime(2025, 3, 6, 9, tzinfo=VN_TZ), later)
        True
        >>> is_overdue("resolved", due, None, later)
        False
    """
    return (
        Status(status) in OPEN_STATUSES
        and due_at is not None
        and due_at < clock_reading(paused_at, at)
    )


def is_due_soon(
    status: Status | str,
    due_at: datetime | None,
    paused_at: datetime | None,
    at: datetime,
    horizon: datetime,
) -> bool:
    """Whether an open dossier's running clock reaches ``due_at`` between ``at`` and ``horizon``.

    A stopped clock is never due soon: nothing moves until processing resumes.
    """
    return (
        Status(status) in OPEN_STATUSES
        and paused_at is None
        and due_at is not None
        and at <= due_at <= horizon
    )


def classify_resolution(resolved_at: datetime, due_at: datetime, apologised: bool) -> Timeliness:
    """Classify a finished dossier or step.

    Args:
        resolved_at: When the result was ready (or the step handed over).
        due_at: The due time in force.
        apologised: Whether an apology letter reset the appointment date.

    Example:
        >>> from onestop.clock import VN_TZ
        >>> due = datetime(2025, 2, 5, 9, 0, tzinfo=VN_TZ)
        >>> classify_resolution(datetime(2025, 2, 4, 16, 0, tzinfo=VN_TZ), due, False).value
        'early'
        >>> classify_resolution(datetime(2025, 2, 5, 8, 0, tzinfo=VN_TZ), due, False).value
        'on_time'
        >>> classify_resolution(datetime(2025, 2, 4, 16, 0, tzinfo=VN_TZ), due, True).value
        'late'
    """
    if apologised or resolved_at > due_at:
        return Timeliness.LATE
    if resolved_at.astimezone(due_at.tzinfo).date() < due_at.date():
        return Timeliness.EARLY
    return Timeliness.ON_TIME


def on_time_rate(early: int, on_time: int, late: int) -> float | None:
    """(early + on time) / resolved, or ``None`` when nothing was resolved.

    Example:
        >>> on_time_rate(3, 1, 1)
        0.8
    """
    resolved = early + on_time + late
    return (early + on_time) / resolved if resolved else None
