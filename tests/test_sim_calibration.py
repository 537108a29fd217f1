"""The calibration's bookkeeping on made-up simulation records (the simulations themselves are a
documented command, not CI): the fit picks the grid point nearest the published rates, and the
leave-one-year-out check never looks at the year it predicts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from onestop.sim.calibration import PUBLISHED, apply, distance, fit, leave_one_year_out
from onestop.sim.scenario import Scenario, Staffing

GOOD = {"external_mean_days": 1.0, "paper_mode_days": 0.5}
BAD = {"external_mean_days": 2.0, "paper_mode_days": 0.5}


def record(params: dict[str, float], year: int, late: dict[str, int]) -> dict[str, Any]:
    return {
        "params": params,
        "year": year,
        "levels": {level: [10_000, k] for level, k in late.items()},
        "fields": {},
        "dossiers": 30_000,
    }


def published_late(year: int) -> dict[str, int]:
    # 10,000 resolved per level: the published late share as a count, e.g. 2021 district
    # 99.27 % on time -> 73 late.
    return {level: round(10_000 * (1 - rate)) for level, rate in PUBLISHED[year].items()}


def test_fit_picks_the_parameters_that_reproduce_the_published_rates() -> None:
    assert published_late(2021) == {"city": 12, "district": 73, "commune": 20}
    records = [record(GOOD, y, published_late(y)) for y in PUBLISHED]
    records += [
        record(BAD, y, {k: 3 * v + 10 for k, v in published_late(y).items()}) for y in PUBLISHED
    ]
    assert distance(records, GOOD, list(PUBLISHED)) < 1e-9
    assert fit(records, list(PUBLISHED)) == GOOD


def test_leave_one_year_out_ignores_the_held_year() -> None:
    """GOOD misses 2021 by far and matches 2022-2024; BAD matches 2021 and misses the others by a
    little. Held out, 2021 is predicted with GOOD (fitted on 2022-2024 only); any other held year
    leaves 2021 in the fit, whose large miss makes BAD the choice."""
    records = []
    for y in PUBLISHED:
        exact = published_late(y)
        far = {k: 50 * v + 500 for k, v in exact.items()}
        near = {k: 2 * v + 5 for k, v in exact.items()}
        records += [
            record(GOOD, y, far if y == 2021 else exact),
            record(BAD, y, exact if y == 2021 else near),
        ]
    rows = leave_one_year_out(records)
    chosen = {row["year"]: row["params"] for row in rows}
    assert chosen == {2021: GOOD, 2022: BAD, 2023: BAD, 2024: BAD}
    held_2021 = {
        row["level"]: row["predicted_on_time"]["successes"] for row in rows if row["year"] == 2021
    }
    # GOOD's 2021 runs: 50 x (12, 73, 20) + 500 late of 10,000
    assert held_2021 == {"city": 10_000 - 1100, "district": 10_000 - 4150, "commune": 10_000 - 1500}


def test_the_staffing_factor_multiplies_stated_headcounts_and_divides_the_sizing_target() -> None:
    staffing = Staffing.model_validate({"factor": 1.5, "target_utilisation": 0.8})
    assert [staffing.officers(n) for n in (1, 2, 7, 16)] == [2, 3, 11, 24]  # 1.5, 3, 10.5, 24
    assert staffing.sizing_utilisation == pytest.approx(0.533333333)  # 0.8 / 1.5
    fitted = Staffing.model_validate({"factor": 1.25})
    assert [fitted.officers(n) for n in (1, 3, 16, 85)] == [2, 4, 20, 107]  # 106.25 up
    assert fitted.sizing_utilisation is None
    assert (
        Staffing.model_validate({"factor": 0.5, "target_utilisation": 0.8}).sizing_utilisation == 1
    )


def test_calibration_sets_the_factor_it_tries_instead_of_multiplying_the_files() -> None:
    scenario = Scenario.model_validate(
        {
            "name": "s",
            "start": date(2024, 1, 1),
            "days": 1,
            "volume": {"per_year": {"city": 1000}},
            "staffing": {"factor": 1.25, "default": 1, "by_level": {"city": {"tax": 5}}},
        }
    )
    staffed = apply(scenario, {"staffing_factor": 1.5}, 0.5).staffing
    assert staffed.factor == 1.5  # as tried, not 1.25 x 1.5
    assert (staffed.default, staffed.by_level) == (1, {"city": {"tax": 5}})  # stated, unchanged
    assert apply(scenario, {}, 0.5).staffing == scenario.staffing
