"""The simulator against queueing theory, its reproducibility, and its calibration to Can Tho."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from onestop import DefinitionError
from onestop.cli import app
from onestop.sim.model import Simulation
from onestop.sim.runner import load_scenario, run_replications
from onestop.sim.scenario import Scenario

from .helpers import scenario_variant

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
    waits = [
        run["agencies"]["W1-DESK"]["mean_wait_per_visit_calendar_hours"] for run in mmc["runs"]
    ]
    mean = sum(waits) / len(waits)
    sd = (sum((w - mean) ** 2 for w in waits) / (len(waits) - 1)) ** 0.5
    half = 2.571 * sd / len(waits) ** 0.5  # t(0.975, 5)
    theory = erlang_c_wait(2.4, 1.0, 3)
    assert abs(mean - theory) <= half, (mean, half, theory)
    assert half < 0.35 * theory  # the interval is informative, not vacuous


def test_mmc_utilisation_is_rho(mmc: dict[str, Any]) -> None:
    """ρ = λ/(cμ) = 2.4/3 = 0.8, measured over the arrival window although the runs drain.
    One run's busy time over T = 960 h has sd ≥ sqrt(2λ/μ²T)/c ≈ 0.024 (the compound Poisson
    work arriving; the backlog left at the window's end adds to it): the tolerance is the
    replications' own 95 % interval, required to stay under 7.5 % of ρ."""
    utilisation = [run["agencies"]["W1-DESK"]["utilisation"] for run in mmc["runs"]]
    mean, half = mean_and_half_width(utilisation)
    assert abs(mean - 0.8) <= half, (mean, half)
    assert half < 0.06  # informative


def test_a_scaled_run_thins_arrivals_not_officers_and_says_so(tmp_path: Path) -> None:
    """At volume scale 0.5 the M/M/3 desk keeps its 3 officers and gets half the arrivals:
    ρ = 2.4 × 0.5 / 3 = 0.4, not 0.8 (so its queue is shorter than the full city's), and the
    summary says so. One run's utilisation over T = 960 h has sd sqrt(2λ/T)/c =
    sqrt(2.4/960)/3 ≈ 0.017 (compound Poisson work, exponential service), the mean of 6 runs
    0.0068: the tolerance is three of those, 0.02, a twentieth of the 0.4 the scaling removes."""
    summary = run_replications(SCENARIOS / "mmc.yaml", replications=6, jobs=2, days=40, scale=0.5)
    utilisation = [run["agencies"]["W1-DESK"]["utilisation"] for run in summary["runs"]]
    assert [run["agencies"]["W1-DESK"]["capacity"] for run in summary["runs"]] == [3.0] * 6
    assert abs(sum(utilisation) / 6 - 0.4) <= 0.02, utilisation
    assert summary["scale"] == 0.5
    assert summary["scale_note"] == (
        "volume scale 0.5: arrivals are thinned, officers are not, so queues are shorter than "
        "at full volume; compare on-time rates and waits with published figures only at scale 1"
    )


def test_the_staffing_factor_sets_the_officers_an_agency_runs_with(tmp_path: Path) -> None:
    """The M/M/3 desk states 3 officers; at factor 1.5 it runs with 5 (4.5 rounded up)."""
    path = scenario_variant(tmp_path, "mmc", "mmc-factor", staffing={"default": 3, "factor": 1.5})
    summary = run_replications(path, replications=1, days=2)
    assert summary["runs"][0]["agencies"]["W1-DESK"]["capacity"] == 5.0


def test_the_staffing_factor_divides_the_utilisation_agencies_are_sized_at(
    tmp_path: Path,
) -> None:
    """Sized from the load (2.4 arrivals an hour x 1 hour) at 0.8 / 1.5: 2.4 / 0.5333 = 4.5,
    so 5 officers (at 0.8 alone it would be 3)."""
    staffing = {"default": 3, "target_utilisation": 0.8, "factor": 1.5}
    path = scenario_variant(tmp_path, "mmc", "mmc-sized", staffing=staffing)
    summary = run_replications(path, replications=1, days=2)
    assert summary["runs"][0]["agencies"]["W1-DESK"]["capacity"] == 5.0


def _versioned(tmp_path: Path, volume: dict[str, Any], start: str, days: int) -> Simulation:
    """The M/M/c scenario's desk with VERS, whose version from 1 March 2025 adds a police step,
    and LATER, in force from 1 March 2025 only."""
    workflows = tmp_path / "workflows"
    shutil.copytree(SCENARIOS.parent / "workflows", workflows)
    step = {"code": "certify", "role": "desk", "budget": 2}
    police = {"code": "check", "role": "police", "budget": 1}
    base = {"name_vi": "Thủ tục thử", "field": "certification", "level": "commune",
            "statutory_days": 2, "route": {"steps": [step]}}  # fmt: skip
    procedures = [
        {**base, "code": "VERS", "name_en": "A versioned procedure", "versions": [
            {"valid_to": "2025-02-28", "source": "test"},
            {"valid_from": "2025-03-01", "source": "test",
             "route": {"steps": [{**step, "budget": 1}, police]}},
        ]},
        {**base, "code": "LATER", "name_en": "A new procedure",
         "versions": [{"valid_from": "2025-03-01", "source": "test"}]},
    ]  # fmt: skip
    (workflows / "procedures" / "versioned.yaml").write_text(
        yaml.safe_dump({"unit_set": "tiny", "procedures": procedures})
    )
    path = scenario_variant(
        tmp_path, "mmc", "versioned", workflows=str(workflows), start=start, days=days,
        volume=volume,
    )  # fmt: skip
    scenario, loaded = load_scenario(path)
    return Simulation(scenario, loaded, 1)


def test_the_model_sizes_and_walks_the_version_in_force_not_the_latest(tmp_path: Path) -> None:
    """In February the load and the route are those of the version then in force: one desk
    step per dossier, no police (the latest version's second step)."""
    arrivals = {"arrivals": [{"procedure": "VERS", "unit": "W1", "per_day": 24}]}
    sim = _versioned(tmp_path, arrivals, "2025-02-01", 10)
    assert sim.expected_load() == {"W1-DESK": 1.0}  # 1 arrival an hour x 1 hour
    result = sim.run()
    assert result.agencies["W1-DESK"]["visits"] == result.dossiers > 200  # one step each
    assert "W1-POL" not in result.agencies


def test_a_dossier_received_under_a_new_version_walks_its_route(tmp_path: Path) -> None:
    """Across 1 March: dossiers picked from the February catalog (LATER, not yet in force, is
    never offered) and received in March walk the new version's two steps, so every dossier
    is resolved and the wards' police work."""
    volume = {"per_year": {"commune": 8760}, "procedure_weights": {"VERS": 100}}
    result = _versioned(tmp_path, volume, "2025-02-20", 20).run()
    resolved = sum(row["resolved"] for row in result.report["rows"])
    assert resolved == result.dossiers > 300
    # VERS is 100 of the weight 102 (BIRTH and COPY 1 each); its March dossiers, about
    # 11 days x 24 an hour x 0.98 = 259 (Poisson sd 16), each visit a ward's police once.
    police = sum(a["visits"] for code, a in result.agencies.items() if code.endswith("-POL"))
    assert 200 < police < 320


def test_a_full_volume_run_has_no_scale_note(mmc: dict[str, Any]) -> None:
    assert (mmc["scale"], mmc["scale_note"]) == (1.0, None)


def test_littles_law_on_every_agency(mmc: dict[str, Any]) -> None:
    """L = λW on every run's sample path: the time integral of the queue length (from the queue
    trace) equals the sum of the waits (from the requests). The runs drain (every request is
    served, the queue is empty at both ends), so the identity is exact up to rounding."""
    for run in mmc["runs"]:
        for agency, stats in run["agencies"].items():
            assert stats["requests"] > 1000, agency  # 40 days at 2.4/h: a real queue, not a few
            assert stats["total_queue_area"] == pytest.approx(
                stats["total_wait_hours"], rel=1e-9
            ), agency


def mean_and_half_width(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % half-width, t(0.975, n-1) written out for the sizes used here."""
    t975 = {5: 2.571}[len(values) - 1]
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return mean, t975 * sd / len(values) ** 0.5


def test_mm1_utilisation(tmp_path: Path) -> None:
    """ρ = λ/μ = 0.6 (14.4 arrivals a day = 0.6/h, mean service 1 h), over the arrival window
    after a 10-day warm-up, although the runs drain (applicants collecting results afterwards
    are outside the window). The tolerance is the 95 % interval across 6 replications of 110
    window days (2,640 h): one run's utilisation has sd sqrt(2λ/(μ²T)) ≈ 0.021."""
    path = scenario_variant(tmp_path, "mm1", "mm1-warm", warmup_days=10)
    summary = run_replications(path, replications=6, jobs=2, days=120)
    assert all(run["horizon_hours"] > 120 * 24.0 for run in summary["runs"])  # it drained
    stats = [run["agencies"]["W1-DESK"] for run in summary["runs"]]
    # Visits counted in the window only: λ = 0.6/h over 110 days.
    assert [s["visits_per_hour"] == pytest.approx(0.6, rel=0.05) for s in stats] == [True] * 6
    mean, half = mean_and_half_width([s["utilisation"] for s in stats])
    assert abs(mean - 0.6) <= half, (mean, half)
    assert half < 0.03  # informative: 5 % of ρ
    # Mean wait in queue of M/M/1: ρ / (μ - λ) = 0.6 / 0.4 = 1.5 h.
    mean, half = mean_and_half_width([s["mean_wait_per_visit_calendar_hours"] for s in stats])
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
    assert "note: volume scale" not in result.output  # the scenario's own volume
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["replications"] == 2 and summary["seeds"] == [11, 12]
    assert (tmp_path / "out" / "agencies.csv").read_text().startswith("agency,capacity")
    report = CliRunner().invoke(app, ["report", "--db", str(db), "--period", "2025", "-f", "json"])
    assert json.loads(report.output)["rows"][0]["level"] == "commune"
    scaled = CliRunner().invoke(
        app, ["simulate", str(SCENARIOS / "mm1.yaml"), "--days", "2", "--scale", "0.25",
              "--out", str(tmp_path / "scaled")],
    )  # fmt: skip
    assert scaled.exit_code == 0, scaled.output
    printed = " ".join(scaled.output.split())
    assert "note: volume scale 0.25: arrivals are thinned, officers are not" in printed
    assert "late share 0.00 % (95 % 0.00–" in printed  # a quiet ward: nothing late ...
    assert "fields by late share: none late" in printed  # ... said, not left blank
    bad = CliRunner().invoke(app, ["simulate", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2 and "file not found" in bad.output


def test_cantho_scenarios_load() -> None:
    for path in sorted((ROOT / "simulations").glob("*.yaml")):
        scenario, workflows = Scenario.load(path)
        assert workflows.is_dir(), path
        assert scenario.volume.per_year or scenario.volume.arrivals
