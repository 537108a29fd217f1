"""The working-day calendar: Vietnamese public holidays, government day swaps, office hours.

All working-time arithmetic in onestop lives here. Internally every instant maps to a
*working-time position*: the number of office seconds between the calendar's first day and that
instant. Adding working days is then an addition, and mapping a position back to a datetime is a
table look-up, so :meth:`Calendar.add_working_days` and :meth:`Calendar.working_days_between`
cost O(1) whatever the distance (the index is a prefix count of working days, built once).

Example:
    >>> from datetime import datetime
    >>> from onestop.clock import VN_TZ
    >>> cal = Calendar.vietnam(years=range(2024, 2027))
    >>> cal.add_working_days(datetime(2025, 1, 24, 9, 0, tzinfo=VN_TZ), 3).isoformat()
    '2025-02-05T09:00:00+07:00'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import holidays as _holidays
from pydantic import BaseModel, ConfigDict, field_validator

from onestop.clock import VN_TZ, ensure_aware
from onestop.errors import CalendarRangeError

# The `holidays` package labels a government day swap as
# "Day off (substituted from MM/DD/YYYY)": the named date is the Saturday worked instead.
_SWAP_LABEL = re.compile(r"substituted from (\d{2})/(\d{2})/(\d{4})")


def _parse_hhmm(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    value = int(hours) * 3600 + int(minutes or 0) * 60
    if not 0 <= value <= 86400:
        raise ValueError(f"{text!r} is not a time of day")
    return value


@dataclass(frozen=True)
class OfficeHours:
    """Office hours of one working day, as ordered, disjoint intervals.

    Attributes:
        intervals: ``(start, end)`` pairs in seconds after midnight, e.g. ``(25200, 39600)``
            for 07:00–11:00. An end of 86400 means midnight at the end of the day.
    """

    intervals: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        previous_end = 0
        if not self.intervals:
            raise ValueError("office hours need at least one interval")
        for start, end in self.intervals:
            if not previous_end <= start < end <= 86400:
                raise ValueError(f"office hours intervals overlap or are out of order: {self}")
            previous_end = end

    @classmethod
    def parse(cls, spec: str | Sequence[str]) -> OfficeHours:
        """Build office hours from ``"07:00-11:00,13:00-17:00"`` or a list of such ranges.

        Raises:
            ValueError: If a range is malformed, empty, overlapping or out of order.
        """
        parts = spec.split(",") if isinstance(spec, str) else list(spec)
        intervals = []
        for part in parts:
            start, sep, end = part.partition("-")
            if not sep:
                raise ValueError(f"{part!r} is not a range like 07:00-11:00")
            intervals.append((_parse_hhmm(start), _parse_hhmm(end)))
        return cls(tuple(intervals))

    @property
    def seconds_per_day(self) -> int:
        """Office seconds in one working day (28,800 for the default 8 hours)."""
        return sum(end - start for start, end in self.intervals)

    def __str__(self) -> str:
        def fmt(s: int) -> str:
            return f"{s // 3600:02d}:{s % 3600 // 60:02d}"

        return ",".join(f"{fmt(a)}-{fmt(b)}" for a, b in self.intervals)


#: The engine's default: 07:00–11:00 and 13:00–17:00, 8 working hours a day.
DEFAULT_OFFICE_HOURS = OfficeHours(((7 * 3600, 11 * 3600), (13 * 3600, 17 * 3600)))
#: Round the clock, every second counts: for analytic queueing checks in the simulator.
ROUND_THE_CLOCK = OfficeHours(((0, 86400),))


class CalendarOverrides(BaseModel):
    """Days off and working days announced by the government after the fact.

    Loaded from YAML such as::

        days_off: [2027-04-30]
        working_days: [2027-04-24]
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    days_off: tuple[date, ...] = ()
    working_days: tuple[date, ...] = ()

    @field_validator("working_days")
    @classmethod
    def _disjoint(cls, value: tuple[date, ...], info: object) -> tuple[date, ...]:
        data = getattr(info, "data", {})
        both = set(value) & set(data.get("days_off", ()))
        if both:
            raise ValueError(f"listed both as a day off and a working day: {sorted(both)}")
        return value

    @classmethod
    def load(cls, path: str | Path) -> CalendarOverrides:
        """Load overrides from a YAML file.

        Raises:
            DefinitionError: With the file, key path and reason when the file is invalid.
        """
        from onestop._yaml import load_yaml, validate_model

        data = load_yaml(Path(path))
        return validate_model(cls, data, str(path))


class Calendar:
    """Working days and office hours, with O(1) working-time arithmetic.

    Build one with :meth:`vietnam` (public holidays, swaps, overrides) or :meth:`from_days`.
    Instances are immutable and safe to share between threads and dossiers.
    """

    __slots__ = ("_first", "_last", "_cum", "_work", "_hours", "_day", "_table", "_off", "_extra")

    def __init__(
        self,
        first: date,
        last: date,
        is_working: Iterable[bool],
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
        *,
        days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> None:
        self._first = first.toordinal()
        self._last = last.toordinal()
        cum = [0]
        work: list[int] = []
        for offset, working in enumerate(is_working):
            if working:
                work.append(self._first + offset)
            cum.append(len(work))
        if len(cum) != self._last - self._first + 2:
            raise ValueError("is_working must give one flag per day from first to last")
        self._cum = cum
        self._work = work
        self._off = frozenset(days_off)
        self._extra = frozenset(extra_working_days)
        self._set_hours(office_hours)

    def _set_hours(self, hours: OfficeHours) -> None:
        self._hours = hours
        self._day = hours.seconds_per_day
        table = []
        before = 0
        for start, end in hours.intervals:
            table.append((start, end, before))
            before += end - start
        self._table = tuple(table)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def vietnam(
        cls,
        years: Iterable[int] = range(2015, 2041),
        overrides: CalendarOverrides | str | Path | None = None,
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
    ) -> Calendar:
        """Vietnam's working calendar: Mon–Fri, less public holidays, plus make-up Saturdays.

        Holidays (Tết and Hùng Kings from the lunar calendar, observed days, government swaps)
        come from the ``holidays`` package. A swapped day off is labelled "substituted from
        MM/DD/YYYY"; the Saturday it names becomes a working day.

        Args:
            years: The years to cover; dates outside them raise :class:`CalendarRangeError`.
            overrides: Extra days off / working days, or the path of a YAML file with them.
            office_hours: Office hours of every working day.
        """
        year_list = sorted(set(years))
        if not year_list:
            raise ValueError("years must not be empty")
        if isinstance(overrides, str | Path):
            overrides = CalendarOverrides.load(overrides)
        public = _holidays.country_holidays("VN", years=year_list, language="en_US")
        off: set[date] = set()
        make_up: set[date] = set()
        for day, label in public.items():
            off.add(day)
            for name in str(label).split(";"):
                match = _SWAP_LABEL.search(name)
                if match:
                    month, dom, year = (int(g) for g in match.groups())
                    make_up.add(date(year, month, dom))
        if overrides is not None:
            off |= set(overrides.days_off)
            off -= set(overrides.working_days)
            make_up |= set(overrides.working_days)
            make_up -= set(overrides.days_off)
        first, last = date(year_list[0], 1, 1), date(year_list[-1], 12, 31)
        return cls.from_days(first, last, off, make_up, office_hours)

    @classmethod
    def from_days(
        cls,
        first: date,
        last: date,
        days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
        weekend: Iterable[int] = (5, 6),
    ) -> Calendar:
        """A calendar from explicit lists: weekdays work unless listed off; extras always work.

        Args:
            first: First day covered.
            last: Last day covered.
            days_off: Non-working weekdays (holidays).
            extra_working_days: Days that work even though they fall on the weekend.
            office_hours: Office hours of every working day.
            weekend: ``date.weekday()`` values that are off (default Saturday and Sunday).
        """
        off, extra, weekend_days = set(days_off), set(extra_working_days), set(weekend)
        span = (last - first).days + 1
        flags = []
        for i in range(span):
            day = first + timedelta(days=i)
            flags.append(day in extra or (day.weekday() not in weekend_days and day not in off))
        return cls(
            first,
            last,
            flags,
            office_hours,
            days_off=off & {first + timedelta(days=i) for i in range(span)},
            extra_working_days=extra,
        )

    @classmethod
    def round_the_clock(cls, first: date, last: date) -> Calendar:
        """Every day works, all day: a calendar with no closed time (for analytic checks)."""
        return cls.from_days(first, last, office_hours=ROUND_THE_CLOCK, weekend=())

    def with_office_hours(self, office_hours: OfficeHours) -> Calendar:
        """The same working days with other office hours (e.g. an agency's own)."""
        clone = object.__new__(Calendar)
        for slot in ("_first", "_last", "_cum", "_work", "_off", "_extra"):
            object.__setattr__(clone, slot, getattr(self, slot))
        clone._set_hours(office_hours)
        return clone

    # -- queries ------------------------------------------------------------------------------

    @property
    def office_hours(self) -> OfficeHours:
        """The office hours of every working day."""
        return self._hours

    @property
    def first_day(self) -> date:
        """The first day the calendar covers."""
        return date.fromordinal(self._first)

    @property
    def last_day(self) -> date:
        """The last day the calendar covers."""
        return date.fromordinal(self._last)

    def _offset(self, day: date) -> int:
        ordinal = day.toordinal()
        if not self._first <= ordinal <= self._last:
            raise CalendarRangeError(
                f"{day.isoformat()} is outside the calendar "
                f"({self.first_day.isoformat()} to {self.last_day.isoformat()})"
            )
        return ordinal - self._first

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (make-up Saturdays included, holidays excluded)."""
        i = self._offset(day)
        return self._cum[i + 1] != self._cum[i]

    def is_swap_working_day(self, day: date) -> bool:
        """Whether ``day`` is a weekend day worked to make up for a swapped day off."""
        return day in self._extra and self.is_working_day(day)

    def working_days(self, start: date, end: date) -> list[date]:
        """The working days from ``start`` to ``end`` inclusive, in order."""
        lo, hi = self._cum[self._offset(start)], self._cum[self._offset(end) + 1]
        return [date.fromordinal(o) for o in self._work[lo:hi]]

    def position(self, moment: datetime) -> float:
        """Office seconds from the calendar's first day to ``moment`` (outside hours: next opening).

        Raises:
            ValidationError: If ``moment`` is naive.
            CalendarRangeError: If it is outside the calendar.
        """
        # Hot path: skip the time-zone conversion when the moment is already in VN time.
        local = moment if moment.tzinfo is VN_TZ else ensure_aware(moment, "moment")
        i = local.toordinal() - self._first
        if not 0 <= i <= self._last - self._first:
            self._offset(local.date())  # raises CalendarRangeError
        cum = self._cum
        base = cum[i] * self._day
        if cum[i + 1] == cum[i]:
            return float(base)
        seconds = (
            local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1_000_000
        )
        for start, end, before in self._table:
            if seconds < start:
                return float(base + before)
            if seconds <= end:
                return base + before + seconds - start
        return float(base + self._day)

    def _moment(self, position: float, closing_side: bool) -> datetime:
        # closing_side: a position on a boundary maps to the closing time before it (a deadline
        # ends at 17:00, not at 07:00 next day); otherwise to the opening time after it.
        day_index, rest = divmod(position, self._day)
        k = int(day_index)
        if closing_side and rest == 0 and k > 0:
            k -= 1
            rest = self._day
        if not 0 <= k < len(self._work):
            raise CalendarRangeError("result falls outside the calendar's years")
        for start, end, before in self._table:
            length = end - start
            if rest < before + length or (closing_side and rest <= before + length):
                seconds = start + rest - before
                break
        else:  # pragma: no cover - rest < day length by construction
            seconds = self._table[-1][1]
        day = date.fromordinal(self._work[k])
        micro = round(seconds * 1_000_000)
        if micro >= 86_400_000_000:  # 24:00 on a round-the-clock calendar
            return datetime.combine(day, time(), VN_TZ) + timedelta(microseconds=micro)
        whole, us = divmod(micro, 1_000_000)
        h, rem = divmod(whole, 3600)
        return datetime(day.year, day.month, day.day, h, rem // 60, rem % 60, us, tzinfo=VN_TZ)

    def next_opening(self, moment: datetime) -> datetime:
        """``moment`` itself if the office is open then, else the next time it opens."""
        return self._moment(self.position(moment), closing_side=False)

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """The moment ``days`` working days after ``start`` (may be fractional or negative).

        Time outside office hours does not count: a start at 18:00 counts from the next opening.
        A result that falls on a closing time stays there (17:00, not 07:00 the next day).
        ``days == 0`` gives :meth:`next_opening`.
        """
        if days == 0:
            return self.next_opening(start)
        return self._moment(self.position(start) + days * self._day, closing_side=True)

    def working_days_between(self, a: datetime, b: datetime) -> float:
        """Working days from ``a`` to ``b`` (negative when ``b`` is earlier)."""
        return (self.position(b) - self.position(a)) / self._day

    def add_calendar_days(self, start: datetime, days: int) -> datetime:
        """Closing time of the ``days``-th calendar day after ``start``'s first working moment.

        For procedures whose time limit is in calendar days: the deadline is the end of office
        hours on that day, or of the next working day when that day is off.
        """
        opening = self.next_opening(start)
        target = opening.date() + timedelta(days=days)
        i = self._offset(target)
        k = self._cum[i + 1] - 1 if self._cum[i + 1] != self._cum[i] else self._cum[i]
        return self._moment((k + 1) * self._day, closing_side=True)

    def shift_working_day(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (before it when ``n`` is negative).

        ``day`` itself is not counted, working or not: ``shift_working_day(monday, -1)`` is the
        Friday before, and so is ``shift_working_day(saturday, -1)``.

        Example:
            >>> cal = Calendar.vietnam(years=[2025])
            >>> cal.shift_working_day(date(2025, 2, 3), -1).isoformat()  # Monday after Tết
            '2025-01-24'
        """
        k = self._cum[self._offset(day)]  # working days strictly before ``day``
        if n > 0 and not self.is_working_day(day):
            k -= 1
        i = k + n
        if not 0 <= i < len(self._work):
            raise CalendarRangeError("result falls outside the calendar's years")
        return date.fromordinal(self._work[i])

    def close_of(self, day: date) -> datetime:
        """The closing time of working day ``day``.

        Raises:
            ValueError: If ``day`` is not a working day.
        """
        if not self.is_working_day(day):
            raise ValueError(f"{day.isoformat()} is not a working day")
        return self._moment((self._cum[self._offset(day)] + 1) * self._day, closing_side=True)

    def end_of_day(self, moment: datetime) -> datetime:
        """Closing time of the working day on which the office next opens at or after ``moment``."""
        position = self.position(moment)
        k = int(position // self._day)
        return self._moment((k + 1) * self._day, closing_side=True)

    def __repr__(self) -> str:
        return (
            f"Calendar({self.first_day.isoformat()}..{self.last_day.isoformat()}, "
            f"{len(self._work)} working days, hours {self._hours})"
        )
