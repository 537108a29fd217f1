"""The deadline law of the decrees, with expected values written out by hand.

Calendar facts used (Vietnam 2025): Mon 3 March to Fri 7 March are working days; 8–9 March is a
weekend; Tết 2025 closes 27 January to 1 February, so Friday 24 January is followed by Monday
3 February. Office hours 07:00–11:00 and 13:00–17:00.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from onestop import Calendar, Procedure, RuleSet
from onestop.deadlines import (
    after_cutoff,
    apology_deadline,
    apology_in_time,
    appointment,
    pause_effect,
    restart_window_end,
    same_day_due,
    supplement_restarts,
)

from .helpers import dt

RULES = RuleSet(name="test")


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return Calendar.vietnam(years=[2024, 2025, 2026])


def procedure(**overrides: object) -> Procedure:
    data: dict[str, object] = {
        "code": "P",
        "name_vi": "P",
        "name_en": "P",
        "field": "f",
        "level": "commune",
        "statutory_days": 10,
        "route": {"steps": [{"code": "s", "role": "desk", "budget": 10}]},
    }
    data.update(overrides)
    return Procedure.model_validate(data)


SAME_DAY = procedure(
    statutory_days=0.5,
    time_unit="same_day",
    route={"steps": [{"code": "s", "role": "desk", "budget": 0.5}]},
)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (dt(2025, 3, 4, 7, 30), dt(2025, 3, 4, 17, 0)),  # morning: close of the same day
        (dt(2025, 3, 4, 14, 0), dt(2025, 3, 4, 17, 0)),  # early afternoon: same day
        (dt(2025, 3, 4, 15, 0), dt(2025, 3, 4, 17, 0)),  # 15:00 itself is before the cut-off
        (dt(2025, 3, 4, 15, 0, 1), dt(2025, 3, 5, 17, 0)),  # one second after it
        (dt(2025, 3, 4, 15, 30), dt(2025, 3, 5, 17, 0)),  # after 15:00: next working day
        (dt(2025, 3, 4, 6, 0), dt(2025, 3, 4, 17, 0)),  # before opening: that day
        (dt(2025, 3, 4, 18, 0), dt(2025, 3, 5, 17, 0)),  # after closing (after 15:00)
        (dt(2025, 3, 7, 15, 30), dt(2025, 3, 10, 17, 0)),  # Friday late: Monday
        (dt(2025, 3, 8, 10, 0), dt(2025, 3, 10, 17, 0)),  # Saturday online: Monday
        (dt(2025, 1, 24, 15, 30), dt(2025, 2, 3, 17, 0)),  # last day before Tết, late
        (dt(2025, 1, 28, 9, 0), dt(2025, 2, 3, 17, 0)),  # during Tết
    ],
)
def test_same_day_procedures(cal: Calendar, received: datetime, due: datetime) -> None:
    assert same_day_due(cal, RULES, received) == due
    assert appointment(cal, RULES, SAME_DAY, received) == due


def test_cutoff_is_strictly_after_15_and_only_on_working_days(cal: Calendar) -> None:
    assert not after_cutoff(cal, RULES, dt(2025, 3, 4, 15, 0))
    assert after_cutoff(cal, RULES, dt(2025, 3, 4, 15, 0, 0).replace(microsecond=1))
    assert not after_cutoff(cal, RULES, dt(2025, 3, 8, 16, 0))  # Saturday


def test_working_and_calendar_day_appointments(cal: Calendar) -> None:
    ten = procedure()
    assert appointment(cal, RULES, ten, dt(2025, 3, 3, 9, 0)) == dt(2025, 3, 17, 9, 0)
    fifteen = procedure(
        time_unit="calendar_days",
        statutory_days=15,
        route={"steps": [{"code": "s", "role": "desk", "budget": 10}]},
    )
    # Receipt day not counted: 3 March + 15 days = Tuesday 18 March, at its close.
    assert appointment(cal, RULES, fifteen, dt(2025, 3, 3, 9, 0)) == dt(2025, 3, 18, 17, 0)
    # 14 March + 15 days is Saturday 29 March: the next working day, Monday 31 March.
    assert appointment(cal, RULES, fifteen, dt(2025, 3, 14, 9, 0)) == dt(2025, 3, 31, 17, 0)


def test_restart_only_within_the_intake_check_window(cal: Calendar) -> None:
    land = procedure(supplement_rule="restart")  # window: 3 working days (default)
    received = dt(2025, 3, 3, 9, 0)
    due = dt(2025, 3, 17, 9, 0)
    assert restart_window_end(cal, land, received) == dt(2025, 3, 6, 9, 0)
    assert supplement_restarts(cal, land, received, dt(2025, 3, 6, 9, 0), due)
    assert not supplement_restarts(cal, land, received, dt(2025, 3, 6, 9, 1), due)
    assert not supplement_restarts(cal, land, received, None, due)  # the clock did not stop
    assert not supplement_restarts(cal, procedure(), received, dt(2025, 3, 4, 9, 0), due)
    wide = procedure(supplement_rule="restart", intake_check_days=5)
    # Inside a 5-day window but already past a 1-day appointment: no restart, it stays late.
    assert not supplement_restarts(cal, wide, received, dt(2025, 3, 5, 9, 0), dt(2025, 3, 4, 9, 0))
    assert supplement_restarts(cal, wide, received, dt(2025, 3, 4, 9, 0), dt(2025, 3, 4, 9, 0))


def test_one_supplement_request_stops_the_clock(cal: Calendar) -> None:
    assert pause_effect("request_supplement", RULES, 0) == "stop"
    assert pause_effect("request_supplement", RULES, 1) == "run"
    two = RuleSet(name="two", max_supplement_requests=2)
    assert pause_effect("request_supplement", two, 1) == "stop"
    assert pause_effect("request_payment", RULES, 5) == "stop"
    no_pay_pause = RuleSet(name="np", payment_pauses_clock=False)
    assert pause_effect("request_payment", no_pay_pause, 0) == "run"
    assert pause_effect("suspend", RULES, 3) == "stop"


def test_apology_notice_is_day_granular(cal: Calendar) -> None:
    due = dt(2025, 3, 10, 9, 0)  # Monday 09:00
    assert apology_deadline(cal, RULES, due).isoformat() == "2025-03-07"
    # Friday 16:00 is only 3 office hours before the appointment, yet on the working day before.
    assert apology_in_time(cal, RULES, dt(2025, 3, 7, 16, 0), due)
    assert apology_in_time(cal, RULES, dt(2025, 3, 8, 10, 0), due) is False  # Saturday
    assert apology_in_time(cal, RULES, dt(2025, 3, 10, 7, 0), due) is False
    after_tet = dt(2025, 2, 3, 17, 0)
    assert apology_deadline(cal, RULES, after_tet).isoformat() == "2025-01-24"
    two = RuleSet(name="two", apology_lead_days=2)
    assert apology_deadline(cal, two, due).isoformat() == "2025-03-06"
