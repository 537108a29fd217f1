"""Replications in parallel processes, and their summary with 95 % confidence intervals."""

from __future__ import annotations

import json
import math
import multiprocessing
import statistics
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from onestop.log import configure
from onestop.sim.model import RunResult, Simulation
from onestop.sim.scenario import Scenario

# Student's t, two-sided 95 %, by degrees of freedom (normal beyond 30).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042}  # fmt: skip


def t95(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        return math.inf
    keys = [k for k in _T95 if k >= df]
    return _T95[min(keys)] if keys else 1.96


def interval(values: list[float]) -> dict[str, float]:
    """Mean and 95 % confidence half-width across replications."""
    mean = statistics.fmean(values) if values else math.nan
    if len(values) < 2:
        return {"mean": mean, "half_width": math.nan, "n": len(values)}
    half = t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return {"mean": mean, "half_width": half, "n": len(values)}


def _replicate(args: tuple[str, int, int | None, float | None, str]) -> RunResult:
    path, seed, days, scale, url = args
    scenario, workflows = load_scenario(path, days, scale)
    return Simulation(scenario, workflows, seed, url).run()


def load_scenario(
    path: str | Path, days: int | None = None, scale: float | None = None
) -> tuple[Scenario, Path]:
    """Load a scenario with optional overrides of its days and volume scale."""
    scenario, workflows = Scenario.load(path)
    if days is not None:
        scenario = scenario.model_copy(update={"days": days})
    if scale is not None:
        volume = scenario.volume.model_copy(update={"scale": scale})
        scenario = scenario.model_copy(update={"volume": volume})
    return scenario, workflows


def run_replications(
    path: str | Path,
    *,
    replications: int = 1,
    jobs: int = 1,
    seed: int | None = None,
    days: int | None = None,
    scale: float | None = None,
    db: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    worker_log_level: str = "WARNING",
) -> dict[str, Any]:
    """Run a scenario ``replications`` times (seeds seed, seed+1, ...) and summarise.

    Args:
        path: Scenario file.
        replications: How many independent runs.
        jobs: Parallel processes.
        seed: Base seed (default: the scenario's).
        days: Override the scenario's days.
        scale: Override the scenario's volume scale.
        db: SQLite file for the first replication's events (``onestop report`` can read it);
            default: every replication in memory.
        progress: Called as ``progress(done, total)`` after each replication.
        worker_log_level: Log level of the worker processes started for ``jobs > 1`` (they are
            onestop's own processes, so onestop configures their logging; the calling process's
            logging is left as the host set it).

    Returns:
        The summary: per-level on-time rates with 95 % intervals, KPIs, agency queues.
    """
    scenario, _ = load_scenario(path, days, scale)
    base = scenario.seed if seed is None else seed
    tasks = [
        (str(path), base + r, days, scale, f"sqlite:///{db}" if (db and r == 0) else "sqlite://")
        for r in range(replications)
    ]
    results: list[RunResult] = []
    if jobs > 1 and replications > 1:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(
            min(jobs, replications), initializer=configure, initargs=(None, worker_log_level)
        ) as pool:
            for result in pool.imap(_replicate, tasks):
                results.append(result)
                if progress:
                    progress(len(results), replications)
    else:
        for task in tasks:
            results.append(_replicate(task))
            if progress:
                progress(len(results), replications)
    return summarise(scenario, results)


def summarise(scenario: Scenario, results: list[RunResult]) -> dict[str, Any]:
    """Aggregate replications: means and 95 % intervals."""
    levels: dict[str, dict[str, list[float]]] = {}
    for res in results:
        for row in res.report["rows"]:
            lv = levels.setdefault(row["level"], {"on_time_rate": [], "resolved": [], "late": []})
            if row["on_time_rate"] is not None:
                lv["on_time_rate"].append(row["on_time_rate"])
            lv["resolved"].append(row["resolved"])
            lv["late"].append(row["late"])
    kpi_names = ["online_share", "paid_online_share", "post_return_share", "satisfaction"]
    kpis = {
        k: interval([r.report["kpis"][k] for r in results if r.report["kpis"][k] is not None])
        for k in kpi_names
    }
    agencies: dict[str, dict[str, float]] = {}
    for res in results:
        for agency, stats in res.agencies.items():
            acc = agencies.setdefault(agency, {})
            for key, value in stats.items():
                acc[key] = acc.get(key, 0.0) + value / len(results)
    wall = sum(r.wall_seconds for r in results)
    dossiers = sum(r.dossiers for r in results)
    return {
        "scenario": scenario.name,
        "replications": len(results),
        "seeds": [r.seed for r in results],
        "dossiers_per_replication": interval([float(r.dossiers) for r in results]),
        "commands": sum(r.commands for r in results),
        "simulated_dossiers_per_second": dossiers / wall if wall else None,
        "levels": {lv: {k: interval(v) for k, v in data.items()} for lv, data in levels.items()},
        "kpis": kpis,
        "targets": scenario.targets,
        "agencies": agencies,
        "runs": [asdict(r) for r in results],
    }


def write_outputs(summary: dict[str, Any], out: Path) -> list[Path]:
    """summary.json, the by-level report with intervals (JSON, CSV) and agency queues (CSV)."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "summary.json", out / "on-time-by-level.csv", out / "agencies.csv"]
    files[0].write_text(json.dumps(summary, indent=2, default=str, ensure_ascii=False))
    lines = ["level,on_time_rate,ci95_half_width,resolved_mean,late_mean,replications"]
    for level, data in summary["levels"].items():
        r = data["on_time_rate"]
        lines.append(
            f"{level},{r['mean']:.6f},{r['half_width']:.6f},{data['resolved']['mean']:.1f},"
            f"{data['late']['mean']:.2f},{r['n']}"
        )
    files[1].write_text("\n".join(lines) + "\n")
    rows = ["agency,capacity,requests,mean_wait_hours,mean_queue,utilisation,little_l"]
    for agency, s in sorted(summary["agencies"].items()):
        rows.append(
            f"{agency},{s['capacity']:.0f},{s['requests']:.1f},{s['mean_wait_hours']:.4f},"
            f"{s['mean_queue']:.4f},{s['utilisation']:.4f},{s['little_l']:.4f}"
        )
    files[2].write_text("\n".join(rows) + "\n")
    return files
