"""The simulator's intervals: Student-t quantiles against a printed table, Wilson intervals inside
[0, 1] and against values computed independently (scipy.stats.binomtest, written out here)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from onestop.sim.model import RunResult
from onestop.sim.runner import summarise
from onestop.sim.scenario import Scenario
from onestop.sim.stats import mean_interval, t_quantile, wilson

# Two-sided 95 % points of Student's t (any printed table, e.g. NIST/SEMATECH 1.3.6.7.2).
T975 = {1: 12.706, 2: 4.303, 4: 2.776, 5: 2.571, 9: 2.262, 11: 2.201, 29: 2.045, 30: 2.042,
        40: 2.021, 100: 1.984}  # fmt: skip


@pytest.mark.parametrize(("df", "expected"), sorted(T975.items()))
def test_t_quantile_matches_the_table(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_mean_interval_uses_n_minus_one_degrees() -> None:
    # values 1, 2, 3: mean 2, sd 1, half-width t(0.975, 2) / sqrt(3) = 4.303 / 1.732 = 2.484
    assert mean_interval([1.0, 2.0, 3.0])["half_width"] == pytest.approx(2.4843, abs=1e-3)


def test_wilson_known_values() -> None:
    # scipy.stats.binomtest(3, 1000).proportion_ci(method="wilson")
    w = wilson(3, 1000)
    assert (round(w["low"], 6), round(w["high"], 6)) == (0.001021, 0.008783)
    full = wilson(50, 50)
    assert full["high"] == 1.0 and round(full["low"], 4) == 0.9287


@given(st.integers(min_value=1, max_value=10**6), st.floats(min_value=0, max_value=1))
@example(1, 0.0)
@example(1, 1.0)
@example(9998, 1.0)
def test_wilson_inside_unit_interval(trials: int, share: float) -> None:
    successes = round(trials * share)
    w = wilson(successes, trials)
    assert 0.0 <= w["low"] <= w["rate"] <= w["high"] <= 1.0


def test_summary_rates_stay_inside_unit_interval() -> None:
    """Two replications with every dossier on time: the old mean ± t interval reached above 100 %
    whenever the rates differed; the pooled Wilson interval cannot."""
    scenario = Scenario.model_validate(
        {"name": "s", "start": "2024-01-01", "days": 2, "volume": {"per_year": {"city": 1}}}
    )

    def run(resolved: int, late: int) -> RunResult:
        rate = (resolved - late) / resolved
        row = {"level": "city", "resolved": resolved, "late": late, "on_time_rate": rate}
        kpis = dict.fromkeys(
            ["online_share", "paid_online_share", "post_return_share", "satisfaction"]
        )
        return RunResult(1, resolved, 0, 1.0, {"rows": [row], "kpis": kpis}, {})

    summary = summarise(scenario, [run(10_000, 0), run(10_000, 4)])
    city = summary["levels"]["city"]
    assert (city["resolved"], city["late"]) == (20_000, 4)
    assert 0.0 <= city["on_time"]["low"] <= city["on_time"]["high"] <= 1.0
    between = city["between_replications"]
    assert between["mean"] + between["half_width"] > 1.0  # what a t interval on 2 runs does
