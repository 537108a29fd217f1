"""Clocks: the only source of time for the engine.

The engine never calls ``datetime.now()``; it asks the injected :class:`Clock`. Production code
uses :class:`SystemClock`; tests and the simulator use :class:`ManualClock` and move it forward.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from onestop.errors import ValidationError

#: The time zone every onestop datetime is expressed in.
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time as an aware datetime."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in Asia/Ho_Chi_Minh."""
        ...


class SystemClock:
    """The wall clock, in Vietnam's time zone."""

    def now(self) -> datetime:
        """Return the current wall-clock time in Asia/Ho_Chi_Minh."""
        return datetime.now(VN_TZ)


def ensure_aware(value: datetime, field: str = "datetime") -> datetime:
    """Return ``value`` converted to Asia/Ho_Chi_Minh, refusing naive datetimes.

    Args:
        value: The datetime to check.
        field: The argument name used in the error message.

    Raises:
        ValidationError: If ``value`` is naive (has no time zone).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "naive datetime: give a time zone (Asia/Ho_Chi_Minh)")
    return value.astimezone(VN_TZ)


def local_date(moment: datetime) -> date:
    """The date of an aware ``moment`` in Vietnam (where receipts and resolutions are counted).

    Example:
        >>> from datetime import UTC
        >>> local_date(datetime(2025, 1, 1, 18, 0, tzinfo=UTC)).isoformat()
        '2025-01-02'
    """
    return moment.astimezone(VN_TZ).date()


class ManualClock:
    """A clock that only moves when told to; for tests and the simulator.

    Example:
        >>> from datetime import datetime, timedelta
        >>> clock = ManualClock(datetime(2025, 1, 2, 8, 0, tzinfo=VN_TZ))
        >>> clock.advance(timedelta(hours=2)).hour
        10
    """

    __slots__ = ("_now",)

    def __init__(self, start: datetime) -> None:
        self._now = ensure_aware(start, "start")

    def now(self) -> datetime:
        """Return the clock's current time."""
        return self._now

    def set(self, value: datetime) -> datetime:
        """Move the clock to ``value``; it may not go backwards.

        Raises:
            ValidationError: If ``value`` is naive or earlier than the current time.
        """
        value = ensure_aware(value, "value")
        if value < self._now:
            raise ValidationError("value", f"{value.isoformat()} is before {self._now.isoformat()}")
        self._now = value
        return value

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new time."""
        return self.set(self._now + delta)
