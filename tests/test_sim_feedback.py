"""Feedback arrivals in the simulator: a Poisson stream per unit, handled by the real desk, in
the same log (verified), reported by the same report, leaving the dossiers' draws unchanged."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from onestop.audit import verify
from onestop.feedback_report import feedback_report
from onestop.periods import Period
from onestop.sim.model import Simulation
from onestop.sim.scenario import Scenario

from .helpers import scenario_variant

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"

#: 10,000 a year on a round-the-clock calendar: 10000 / (250 × 24 h) = 5/3 an hour, so 5 days
#: (120 h) expect 200 items (Poisson: standard deviation √200 ≈ 14.1).
FEEDBACK = {
    "per_year": 10000,
    "unit": "items per year, whole city",
    "source": "test",
    "level_shares": {"commune": 1.0},
    "forwarded": 0.1,
    "rejected": 0.1,
    "classify_days": {"kind": "fixed", "mean": 0.5},
    "answer_days": {"kind": "fixed", "mean": 1.0},
}


def _simulate(tmp_path: Path, feedback: dict[str, Any] | None) -> Simulation:
    extra = {} if feedback is None else {"feedback": feedback}
    path = scenario_variant(tmp_path, "mm1", "mm1-feedback", days=5, **extra)
    scenario, workflows = Scenario.load(path)
    sim = Simulation(scenario, workflows, seed=scenario.seed)
    sim.result = sim.run()  # type: ignore[attr-defined]
    return sim


def test_feedback_stream_volume_units_report_and_log(tmp_path: Path) -> None:
    sim = _simulate(tmp_path, FEEDBACK)
    summary = sim.result.report["feedback"]  # type: ignore[attr-defined]
    assert abs(summary["received"] - 200) <= 4 * 14.1, summary
    report = feedback_report(sim.engine.store, Period.parse("2025"), ["level", "unit"])
    # Commune units only, each its own stream (the fixture has three wards/communes).
    assert {(r.key["level"], r.key["unit"]) for r in report.rows} <= {
        ("commune", "W1"),
        ("commune", "W2"),
        ("commune", "W3"),
    }
    assert len(report.rows) == 3
    total = report.total
    assert total.received == summary["received"]
    # Each item is forwarded with probability 0.1 and rejected with 0.1 (binomial counts:
    # 4 standard deviations of √(n × 0.1 × 0.9) ≈ 4.2 for n ≈ 200, narrower than the 20 items
    # that a stream forwarding or rejecting nothing would lose).
    n = summary["received"]
    for count in (total.forwarded, total.rejected):
        assert abs(count - 0.1 * n) <= 4 * math.sqrt(n * 0.1 * 0.9), (n, count)
    # 1.5 working days (round the clock: 36 h) against a 10-day limit: nothing late.
    assert (total.late, total.in_progress) == (0, 0)
    assert total.on_time == summary["received"]
    assert verify(sim.engine.store) == []


def test_adding_feedback_leaves_the_dossiers_unchanged(tmp_path: Path) -> None:
    plain = _simulate(tmp_path, None).result.report  # type: ignore[attr-defined]
    light = {**FEEDBACK, "per_year": 2000}  # about 40 items: enough to interleave
    mixed = _simulate(tmp_path, light).result.report  # type: ignore[attr-defined]
    assert mixed["feedback"]["received"] > 0
    assert plain["feedback"] is None
    assert plain["rows"] == mixed["rows"]
