"""The staffing solver: Erlang C by hand, and the command end to end on an M/M/c queue."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onestop.cli import app
from onestop.sim.staffing import erlang_c, erlang_c_headcount, solve

from .helpers import scenario_variant

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"


def test_erlang_c_by_hand() -> None:
    # M/M/1: P(wait) = ρ. M/M/3 at a = 2.4: a³/3! · 3/(3 - a) = 2.304 · 5 = 11.52;
    # 1 + 2.4 + 2.88 = 6.28; C = 11.52 / 17.8 = 0.64719.
    assert erlang_c(1, 0.6) == pytest.approx(0.6)
    assert erlang_c(3, 2.4) == pytest.approx(11.52 / 17.8)
    assert erlang_c(2, 2.0) == 1.0  # saturated: everyone waits


def test_erlang_c_headcount_is_the_smallest_that_meets_the_target() -> None:
    """λ = 2.4/h, 1 h service, at most 1 h wait for 99.9 %: P(W > 1) = C(c, 2.4) e^-(c-2.4)
    is 0.00109 at c = 6 and 0.000126 at c = 7 (the C values by hand as above)."""
    assert erlang_c(6, 2.4) * math.exp(-3.6) > 0.001
    assert erlang_c_headcount(2.4, 1.0, 1.0, 0.999) == 7
    assert erlang_c_headcount(2.4, 1.0, 1.0, 0.99) == 5
    # 0.6472 · e^-0.6 = 0.3552 <= 0.4: three officers, the fewest that keep the queue stable
    assert erlang_c_headcount(2.4, 1.0, 1.0, 0.6) == 3


def test_staff_command_confirms_by_simulation() -> None:
    result = CliRunner().invoke(
        app,
        [
            "staff",
            str(SCENARIOS / "mmc.yaml"),
            "--target",
            "on_time=0.999",
            "--max-wait",
            "1h",
            "--days",
            "5",
            "--replications",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "W1-DESK │        7 │         7" in result.output
    assert (
        "target on_time=0.999 reached after 1 round(s); 7 officers in 1 agencies" in result.output
    )
    # One round only, a 1-minute wait allowed: Erlang C gives 4 officers (P(W > 1 min) = 0.287
    # e^-1.6/60 = 0.279 <= 0.5), the simulated wait (M/M/4: 0.287 / 1.6 = 0.18 h) is longer, and
    # the counts reported are the ones simulated, not a top-up nobody ran.
    short = CliRunner().invoke(
        app,
        ["staff", str(SCENARIOS / "mmc.yaml"), "--target", "on_time=0.5", "--max-wait", "1m",
         "--days", "5", "--replications", "1", "--rounds", "1"],
    )  # fmt: skip
    assert short.exit_code == 0, short.output
    assert "W1-DESK │        4 │         4" in short.output
    assert "NOT reached (1 agencies still wait too long after 1 round(s))" in short.output
    bad = CliRunner().invoke(app, ["staff", str(SCENARIOS / "mmc.yaml"), "--target", "late=0.1"])
    assert bad.exit_code == 2 and "is not like on_time=0.999" in bad.output


def test_the_search_simulates_its_headcounts_as_they_are_whatever_the_scenario_factor(
    tmp_path: Path,
) -> None:
    """A scenario whose staffing factor is 2 (its 3 officers run as 6): the search's own
    counts are officers, not stated counts, so its round simulates Erlang C's 4, not 8."""
    path = scenario_variant(tmp_path, "mmc", "mmc-factor", staffing={"default": 3, "factor": 2.0})
    simulated: list[float] = []
    result = solve(
        path, target=0.5, max_wait_hours=1 / 60, days=5, replications=1, rounds=1,
        on_round=lambda _n, summary: simulated.append(summary["agencies"]["W1-DESK"]["capacity"]),
    )  # fmt: skip
    assert result["headcounts"] == {"W1-DESK": 4}
    assert simulated == [4.0]
