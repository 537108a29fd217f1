"""Early / on time / late classification of dossiers and of steps.

Judged when the result is ready (resolution), against the appointment date in force. A dossier
whose appointment date was reset by an apology letter counts as late whatever happens after.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


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


def classify_resolution(resolved_at: datetime, due_at: datetime, apologised: bool) -> Timeliness:
    """Classify a finished dossier or step.

    Args:
        resolved_at: When the result was ready (or the step handed over).
        due_at: The appointment date in force.
        apologised: Whether an apology letter reset the appointment date.

    Example:
        >>> from datetime import datetime
        >>> from onestop.clock import VN_TZ
        >>> due = datetime(2025, 2, 5, 9, 0, tzinfo=VN_TZ)
        >>> classify_resolution(datetime(2025, 2, 4, 16, 0, tzinfo=VN_TZ), due, False).value
        'early'
    """
    if apologised or resolved_at > due_at:
        return Timeliness.LATE
    if resolved_at.astimezone(due_at.tzinfo).date() < due_at.date():
        return Timeliness.EARLY
    return Timeliness.ON_TIME


def classify_open(now: datetime, due_at: datetime) -> Timeliness:
    """Classify an open dossier or step at ``now``: in time, or overdue."""
    return Timeliness.OVERDUE if now > due_at else Timeliness.IN_TIME


def on_time_rate(early: int, on_time: int, late: int) -> float | None:
    """(early + on time) / resolved, or ``None`` when nothing was resolved."""
    resolved = early + on_time + late
    return (early + on_time) / resolved if resolved else None
