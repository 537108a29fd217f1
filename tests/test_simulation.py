"""The simulator against queueing theory, its reproducibility, and its calibration to Can Tho."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from onestop import DefinitionError
from onestop.cli import app
from onestop.sim.runner import run_replications
from onestop.sim.scenario import Scenario

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"
ROOT = Path(__file__).parent.parent


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of an M/M/c queue (Erlang C)."""
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    waiting = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return waiting / (c * mu - lam)


@pytest.fixture(scope="module")
def mmc() -> dict[str, Any]:
    return run_replications(SCENARIOS / "mmc.yaml", replications=6, jobs=2, days=40)


def test_mmc_mean_wait_matches_erlang_c(mmc: dict[str, Any]) -> None:
    waits = [run["agencies"]["W1-DESK"]["mean_wait_hours"] for run in mmc["runs"]]
    mean = sum(waits) / len(waits)
    sd = (sum((w - mean) ** 2 for w in waits) / (len(waits) - 1)) ** 0.5
    half = 2.571 * sd / len(waits) ** 0.5  # t(0.975, 5)
    theory = erlang_c_wait(2.4, 1.0, 3)
    assert abs(mean - theory) <= half, (mean, half, theory)
    assert half < 0.35 * theory  # the interval is informative, not vacuous


def test_littles_law_on_every_agency(mmc: dict[str, Any]) -> None:
    """L = λW on every run's sample path: the time-average queue length (integrated from the
    queue trace) equals the arrival rate times the mean wait. The runs drain (every request is
    served, the queue is empty at both ends), so the identity is exact up to rounding."""
    for run in mmc["runs"]:
        for agency, stats in run["agencies"].items():
            assert stats["requests"] > 1000, agency  # 40 days at 2.4/h: a real queue, not a few
            lam_w = stats["arrival_rate_per_hour"] * stats["mean_wait_hours"]
            assert stats["mean_queue"] == pytest.approx(lam_w, rel=1e-9), agency


def mean_and_half_width(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % half-width, t(0.975, n-1) written out for the sizes used here."""
    t975 = {5: 2.571}[len(values) - 1]
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return mean, t975 * sd / len(values) ** 0.5


def test_mm1_utilisation(tmp_path: Path) -> None:
    """ρ = λ/μ = 0.6 (14.4 arrivals a day = 0.6/h, mean service 1 h).

    Run without the drain: the drain runs on to the last return of a result (about 80 h after
    the last arrival here), and every time average is over that longer horizon, which biases
    utilisation low by that share (about 8 % at 40 days: 960 h of arrivals, 1,041 h horizon). The tolerance is the 95 % interval
    across 6 replications of 120 days (17,280 h): the busy time is a compound Poisson sum, so
    one run's utilisation has sd sqrt(2λ/(μ²T)) ≈ 0.020, and the half-width comes out ≈ 0.02.
    """
    data = yaml.safe_load((SCENARIOS / "mm1.yaml").read_text())
    data["workflows"] = str(SCENARIOS.parent / "workflows")
    data["drain"] = False
    path = tmp_path / "mm1-no-drain.yaml"
    path.write_text(yaml.safe_dump(data))
    summary = run_replications(path, replications=6, jobs=2, days=120)
    assert [run["horizon_hours"] for run in summary["runs"]] == [120 * 24.0] * 6
    stats = [run["agencies"]["W1-DESK"] for run in summary["runs"]]
    mean, half = mean_and_half_width([s["utilisation"] for s in stats])
    assert abs(mean - 0.6) <= half, (mean, half)
    assert half < 0.03  # informative: 5 % of ρ
    # Mean wait in queue of M/M/1: ρ / (μ - λ) = 0.6 / 0.4 = 1.5 h.
    mean, half = mean_and_half_width([s["mean_wait_hours"] for s in stats])
    assert abs(mean - 1.5) <= half, (mean, half)
    assert half < 0.3  # informative: 20 % of the wait


def test_same_seed_same_result() -> None:
    a = run_replications(SCENARIOS / "mm1.yaml", days=5, seed=99)
    b = run_replications(SCENARIOS / "mm1.yaml", days=5, seed=99)
    c = run_replications(SCENARIOS / "mm1.yaml", days=5, seed=100)

    def strip(s: dict[str, Any]) -> list[tuple[Any, Any]]:
        return [(r["report"]["rows"], r["agencies"]) for r in s["runs"]]

    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_scenario_errors_name_file_and_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    data = yaml.safe_load((SCENARIOS / "mmc.yaml").read_text())
    data["service"]["default"] = {"kind": "triangular", "low": 3, "mode": 1, "high": 2}
    data["volume"]["weekday_profile"] = [1, 2]
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(DefinitionError) as err:
        Scenario.load(bad)
    text = str(err.value)
    assert f"{bad}: service.default: triangular needs low <= mode <= high" in text
    assert "volume: weekday_profile needs 7 values" in text


def test_simulate_command_writes_outputs(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            str(SCENARIOS / "mm1.yaml"),
            "--days",
            "3",
            "--replications",
            "2",
            "--db",
            str(db),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["replications"] == 2 and summary["seeds"] == [11, 12]
    assert (tmp_path / "out" / "agencies.csv").read_text().startswith("agency,capacity")
    report = CliRunner().invoke(app, ["report", "--db", str(db), "--period", "2025", "-f", "json"])
    assert json.loads(report.output)["rows"][0]["level"] == "commune"
    bad = CliRunner().invoke(app, ["simulate", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2 and "file not found" in bad.output


def test_cantho_scenarios_load() -> None:
    for path in sorted((ROOT / "simulations").glob("*.yaml")):
        scenario, workflows = Scenario.load(path)
        assert workflows.is_dir(), path
        assert scenario.volume.per_year or scenario.volume.arrivals


def test_calibration_reproduces_2024_rates(tmp_path: Path) -> None:
    """cantho-2024's parameters, on enough dossiers per level for ±0.1 point to mean something:
    the rates are per level, so the test draws similar volumes at each level."""
    data = yaml.safe_load((ROOT / "simulations" / "cantho-2024.yaml").read_text())
    data["workflows"] = str(ROOT / "workflows")
    data["volume"]["per_year"] = {"city": 7000, "district": 12000, "commune": 2500}
    data["volume"]["scale"] = 1.0
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    summary = run_replications(path, replications=2, jobs=2)
    targets = summary["targets"]
    for level in ("city", "district", "commune"):
        rate = summary["levels"][level]["on_time_rate"]["mean"]
        assert abs(rate - targets[f"on_time_{level}"]) <= 0.001, (level, rate)
    online = summary["kpis"]["online_share"]["mean"]
    assert abs(online - targets["online_share"]) <= 0.01
