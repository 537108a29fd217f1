"""Working-day calendar: the decrees' examples and properties against a day-by-day reference."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import holidays
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from onestop import VN_TZ, Calendar, CalendarOverrides, OfficeHours
from onestop.errors import CalendarRangeError, DefinitionError, ValidationError

# Government day swaps as published (domain.md): day off -> Saturday worked instead.
SWAPS = {
    date(2024, 4, 29): date(2024, 5, 4),
    date(2025, 5, 2): date(2025, 4, 26),
    date(2026, 8, 31): date(2026, 8, 22),
}
HOURS = [(time(7), time(11)), (time(13), time(17))]


def dt(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


def test_issue_example_across_tet_2025(calendar: Calendar) -> None:
    assert calendar.add_working_days(dt(2025, 1, 24, 9, 0), 3) == dt(2025, 2, 5, 9, 0)


@pytest.mark.parametrize("off, worked", sorted(SWAPS.items()))
def test_government_day_swaps(calendar: Calendar, off: date, worked: date) -> None:
    assert not calendar.is_working_day(off)
    assert calendar.is_working_day(worked)
    assert worked.weekday() == 5
    assert calendar.is_swap_working_day(worked)


@pytest.mark.parametrize(
    "first, last",
    [
        (date(2024, 2, 8), date(2024, 2, 14)),
        (date(2025, 1, 27), date(2025, 2, 1)),
        (date(2026, 2, 16), date(2026, 2, 20)),
    ],
)
def test_tet_is_off(calendar: Calendar, first: date, last: date) -> None:
    day = first
    while day <= last:
        assert not calendar.is_working_day(day), day
        day += timedelta(days=1)


def test_half_days_and_office_hours(calendar: Calendar) -> None:
    assert calendar.add_working_days(dt(2025, 3, 3, 7, 0), 0.5) == dt(2025, 3, 3, 11, 0)
    assert calendar.add_working_days(dt(2025, 3, 3, 13, 0), 0.5) == dt(2025, 3, 3, 17, 0)
    assert calendar.add_working_days(dt(2025, 3, 3, 9, 0), 0.5) == dt(2025, 3, 3, 15, 0)
    # Received at 18:00 Friday: counting starts Monday 07:00.
    assert calendar.add_working_days(dt(2025, 3, 7, 18, 0), 1) == dt(2025, 3, 10, 17, 0)
    assert calendar.next_opening(dt(2025, 3, 7, 18, 0)) == dt(2025, 3, 10, 7, 0)
    assert calendar.next_opening(dt(2025, 3, 7, 11, 30)) == dt(2025, 3, 7, 13, 0)
    assert calendar.next_opening(dt(2025, 3, 7, 10, 0)) == dt(2025, 3, 7, 10, 0)
    assert calendar.working_days_between(dt(2025, 3, 7, 13, 0), dt(2025, 3, 10, 11, 0)) == 1.0


def test_negative_days_and_calendar_days(calendar: Calendar) -> None:
    assert calendar.add_working_days(dt(2025, 2, 5, 9, 0), -3) == dt(2025, 1, 24, 9, 0)
    # 15 calendar days from Fri 24 Jan 2025 is Sat 8 Feb: the deadline moves to Mon 10 Feb.
    assert calendar.add_calendar_days(dt(2025, 1, 24, 9, 0), 15) == dt(2025, 2, 10, 17, 0)


def test_custom_office_hours(calendar: Calendar) -> None:
    hours = OfficeHours.parse("07:00-11:30,13:30-17:00")
    assert hours.seconds_per_day == 8 * 3600
    cal = calendar.with_office_hours(hours)
    assert cal.add_working_days(dt(2025, 3, 3, 7, 0), 0.5) == dt(2025, 3, 3, 11, 0)
    assert cal.add_working_days(dt(2025, 3, 3, 11, 0), 0.125) == dt(2025, 3, 3, 14, 0)
    assert cal.add_working_days(dt(2025, 3, 3, 11, 0), 0.25) == dt(2025, 3, 3, 15, 0)
    with pytest.raises(ValueError):
        OfficeHours.parse("13:00-11:00")
    with pytest.raises(ValueError):
        OfficeHours.parse("07:00-12:00,11:00-17:00")


def test_round_the_clock() -> None:
    cal = Calendar.round_the_clock(date(2025, 1, 1), date(2025, 12, 31))
    assert cal.add_working_days(dt(2025, 1, 4, 22, 0), 0.5) == dt(2025, 1, 5, 10, 0)


def test_range_and_naive_errors(calendar: Calendar) -> None:
    with pytest.raises(CalendarRangeError, match="outside the calendar"):
        calendar.is_working_day(date(2050, 1, 3))
    with pytest.raises(ValidationError, match="naive"):
        calendar.add_working_days(datetime(2025, 1, 2, 9, 0), 1)
    with pytest.raises(CalendarRangeError, match="outside the calendar's years"):
        calendar.add_working_days(dt(2040, 12, 20, 9, 0), 30)


def test_overrides_yaml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "overrides.yaml"
    path.write_text("days_off: [2027-04-29]\nworking_days: [2027-04-24]\n")
    cal = Calendar.vietnam(years=[2027], overrides=path)
    assert not cal.is_working_day(date(2027, 4, 29))
    assert cal.is_working_day(date(2027, 4, 24))
    bad = tmp_path / "bad.yaml"
    bad.write_text("days_off: [2027-13-40]\n")
    with pytest.raises(DefinitionError, match="month must be in 1..12") as err:
        CalendarOverrides.load(bad)
    assert str(bad) in str(err.value)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("days_off: [not-a-date]\n")
    with pytest.raises(DefinitionError) as err:
        CalendarOverrides.load(wrong)
    assert f"{wrong}: days_off[0]" in str(err.value)
    both = tmp_path / "both.yaml"
    both.write_text("days_off: [2027-04-24]\nworking_days: [2027-04-24]\n")
    with pytest.raises(DefinitionError, match="both"):
        CalendarOverrides.load(both)


# --- reference implementation: day by day, straight from the holidays package ------------------

_VN = holidays.country_holidays("VN", years=range(2015, 2041))


def ref_is_working(day: date) -> bool:
    if day in SWAPS.values():
        return True
    if day in _VN:
        return False
    if day.weekday() >= 5:
        # Make-up Saturdays named by a swap label anywhere in the package's data.
        return any(f"substituted from {day.strftime('%m/%d/%Y')}" in str(n) for n in _VN.values())
    return True


def ref_add(start: datetime, days: float) -> datetime:
    remaining = timedelta(hours=8) * days
    day = start.date()
    clock = start.timetz().replace(tzinfo=None)
    while True:
        if ref_is_working(day):
            for a, b in HOURS:
                seg_start = max(a, clock)
                if seg_start >= b:
                    continue
                avail = datetime.combine(day, b) - datetime.combine(day, seg_start)
                if remaining <= avail:
                    return datetime.combine(day, seg_start, VN_TZ) + remaining
                remaining -= avail
        day += timedelta(days=1)
        clock = time(0)


def ref_between(a: datetime, b: datetime) -> float:
    total = timedelta()
    day = a.date()
    while day <= b.date():
        if ref_is_working(day):
            for s, e in HOURS:
                lo = max(datetime.combine(day, s, VN_TZ), a)
                hi = min(datetime.combine(day, e, VN_TZ), b)
                if hi > lo:
                    total += hi - lo
        day += timedelta(days=1)
    return total / timedelta(hours=8)


# Up to 120 working days are added: starts stop half a year before the calendar ends.
moments = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2040, 5, 31)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=VN_TZ)
)
day_counts = st.integers(min_value=1, max_value=8 * 120).map(lambda n: n / 8)

# Known edges, tried on every run before the generated cases: the calendar's first covered
# moment (New Year 2015, a holiday), the latest start the strategy allows (and 120 days after
# it, in November 2040), the last covered day (31 December 2040), the working Friday before
# Tết 2025, Tết itself, the swap Saturday 26 April 2025 (worked for Friday 2 May), and 15:00,
# the receipt cut-off, which leaves exactly a quarter day of office time.
FIRST = dt(2015, 1, 1, 0, 0)
LATEST_START = dt(2040, 5, 31, 23, 59)
LAST_DAY = dt(2040, 12, 31, 23, 59)
BEFORE_TET = dt(2025, 1, 24, 15, 0)
IN_TET = dt(2025, 1, 29, 10, 0)
SWAP_SATURDAY = dt(2025, 4, 26, 9, 0)
CUT_OFF = dt(2025, 3, 3, 15, 0)


@example(FIRST, 0.125)
@example(FIRST, 120.0)
@example(LATEST_START, 120.0)
@example(BEFORE_TET, 0.25)  # ends at 17:00 that Friday, not after Tết
@example(BEFORE_TET, 0.375)  # its last hour falls after Tết: Monday 3 Feb 2025, 08:00
@example(IN_TET, 1.0)
@example(SWAP_SATURDAY, 0.5)
@example(dt(2025, 4, 25, 15, 0), 0.5)  # Friday 15:00 + half a day runs into the swap Saturday
@example(CUT_OFF, 0.25)
@example(CUT_OFF, 0.125)
@given(moments, day_counts)
def test_add_working_days_matches_reference(
    calendar: Calendar, start: datetime, days: float
) -> None:
    assert calendar.add_working_days(start, days) == ref_add(start, days)


@example(FIRST, dt(2015, 1, 5, 9, 0))
@example(dt(2040, 12, 28, 9, 0), LAST_DAY)
@example(dt(2040, 11, 1, 0, 0), LAST_DAY)
@example(BEFORE_TET, dt(2025, 2, 5, 9, 0))
@example(IN_TET, dt(2025, 2, 1, 23, 0))
@example(dt(2025, 4, 25, 13, 0), dt(2025, 4, 28, 11, 0))
@example(SWAP_SATURDAY, dt(2025, 5, 2, 17, 0))
@example(CUT_OFF, dt(2025, 3, 4, 15, 0))
@example(CUT_OFF, CUT_OFF)
@given(moments, moments)
def test_working_days_between_matches_reference(
    calendar: Calendar, a: datetime, b: datetime
) -> None:
    a, b = min(a, b), max(a, b)
    if (b - a).days > 400:
        b = a + timedelta(days=400)
    assert calendar.working_days_between(a, b) == pytest.approx(ref_between(a, b), abs=1e-9)


@example(date(2015, 1, 1))
@example(date(2015, 1, 2))
@example(date(2040, 12, 31))
@example(date(2025, 1, 24))
@example(date(2025, 1, 27))
@example(date(2025, 2, 1))
@example(date(2025, 2, 3))
@example(date(2025, 4, 26))
@example(date(2025, 5, 2))
@given(st.dates(min_value=date(2015, 1, 1), max_value=date(2040, 12, 31)))
def test_is_working_day_matches_reference(calendar: Calendar, day: date) -> None:
    assert calendar.is_working_day(day) == ref_is_working(day)


@example(FIRST, 0.125, 120.0)
@example(LATEST_START, 120.0, 0.125)
@example(BEFORE_TET, 0.25, 0.375)
@example(SWAP_SATURDAY, 0.5, 1.0)
@example(CUT_OFF, 0.25, 0.25)
@given(moments, day_counts, day_counts)
def test_add_is_monotonic_and_invertible(
    calendar: Calendar, start: datetime, d1: float, d2: float
) -> None:
    lo, hi = sorted((d1, d2))
    assert calendar.add_working_days(start, lo) <= calendar.add_working_days(start, hi)
    end = calendar.add_working_days(start, hi)
    assert calendar.working_days_between(start, end) == pytest.approx(hi, abs=1e-9)
    assert calendar.is_working_day(end.date())
