"""Replications in parallel processes, and their summary with 95 % confidence intervals.

On-time rates are pooled over the dossiers of all replications with a Wilson interval (inside
[0, 1]); means of per-replication figures (waits, utilisation, KPIs) get Student-t intervals.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from onestop.log import configure
from onestop.sim.model import RunResult, Simulation
from onestop.sim.scenario import Scenario
from onestop.sim.stats import mean_interval, wilson

ProgressCallback = Callable[[int, float], None]
"""``progress(replication, share_done)``: replication index from 0, share of its days done."""

# The worker processes' channel for progress messages (set by the pool's initializer).
_PROGRESS: Any = None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`run_replications`; the worker processes are stopped.

    Attributes:
        finished: The replications that ended before the interrupt.
        indices: Their indices (0 is the one writing ``db``).
        requested: How many replications were asked for.
    """

    def __init__(self, finished: list[RunResult], indices: list[int], requested: int) -> None:
        super().__init__(f"interrupted: {len(finished)} of {requested} replications finished")
        self.finished, self.indices, self.requested = finished, indices, requested


@contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside ignore SIGINT from birth (an ignored signal stays ignored
    across exec), so a Ctrl-C, which a terminal sends to the whole process group, reaches only
    this process, which stops them: no half-printed tracebacks from workers. Hold it only while
    starting them (milliseconds): a Ctrl-C in that time is lost."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interval(values: list[float]) -> dict[str, float]:
    """Mean and 95 % Student-t half-width across replications."""
    return mean_interval(values)


def _init_worker(channel: Any, log_level: str) -> None:
    global _PROGRESS
    _PROGRESS = channel
    configure(None, log_level)


def _replicate(
    args: tuple[int, str, int, int | None, float | None, str],
    progress: ProgressCallback | None = None,
) -> RunResult:
    index, path, seed, days, scale, url = args
    scenario, workflows = load_scenario(path, days, scale)
    report = progress
    if report is None and _PROGRESS is not None:
        channel = _PROGRESS

        def report(i: int, share: float) -> None:
            channel.put((i, share))

    sim = Simulation(scenario, workflows, seed, url)
    return sim.run(None if report is None else (lambda share: report(index, share)))


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
    progress: ProgressCallback | None = None,
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
        progress: Called as ``progress(replication, share_done)`` while each replication runs
            (daily in simulated time) and with 1.0 when it ends.
        worker_log_level: Log level of the worker processes started for ``jobs > 1`` (they are
            onestop's own processes, so onestop configures their logging; the calling process's
            logging is left as the host set it).

    Returns:
        The summary: per-level on-time rates with 95 % intervals, KPIs, agency queues.

    Raises:
        Interrupted: On Ctrl-C (a ``KeyboardInterrupt``), once the workers are stopped; it
            carries the replications that finished.
    """
    scenario, _ = load_scenario(path, days, scale)
    base = scenario.seed if seed is None else seed
    tasks = [
        (r, str(path), base + r, days, scale, f"sqlite:///{db}" if (db and r == 0) else "sqlite://")
        for r in range(replications)
    ]
    results: list[RunResult] = []
    pending: list[Any] = []
    try:
        if jobs > 1 and replications > 1:
            ctx = multiprocessing.get_context("spawn")
            # A plain queue, not a manager's: a manager process takes a second to start, which
            # would be a second of Ctrl-C ignored (see _children_ignore_sigint).
            channel = ctx.Queue() if progress else None
            with ExitStack() as stack:
                with _children_ignore_sigint():
                    pool = stack.enter_context(
                        ctx.Pool(
                            min(jobs, replications),
                            initializer=_init_worker,
                            initargs=(channel, worker_log_level),
                        )
                    )
                # One task per replication, so an interrupt keeps the finished ones.
                pending = [pool.apply_async(_replicate, (task,)) for task in tasks]
                while not all(p.ready() for p in pending) or (
                    channel is not None and not channel.empty()
                ):
                    if channel is None:
                        pending[-1].wait(0.5)
                        continue
                    try:
                        index, share = channel.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    assert progress is not None
                    progress(index, share)
                results = [p.get() for p in pending]
        else:
            for task in tasks:
                results.append(_replicate(task, progress))
    except KeyboardInterrupt:
        # The workers are stopped by now (leaving the exit stack terminated the pool).
        if pending:
            done = [i for i, p in enumerate(pending) if p.ready() and p.successful()]
            finished = [pending[i].get() for i in done]
        else:
            done, finished = list(range(len(results))), results
        raise Interrupted(finished, done, replications) from None
    if progress:
        for r in range(replications):
            progress(r, 1.0)
    return summarise(scenario, results)


def summarise(scenario: Scenario, results: list[RunResult]) -> dict[str, Any]:
    """Aggregate replications.

    On-time rates by level and late shares by field are pooled over every replication's
    resolved dossiers, with 95 % Wilson intervals; ``between_replications`` gives the t
    interval of the per-replication rates (wider when queues make a run's dossiers share fate).
    """
    levels: dict[str, dict[str, Any]] = {}
    for res in results:
        for row in res.report["rows"]:
            lv = levels.setdefault(row["level"], {"resolved": 0, "late": 0, "rates": []})
            lv["resolved"] += row["resolved"]
            lv["late"] += row["late"]
            if row["on_time_rate"] is not None:
                lv["rates"].append(row["on_time_rate"])
    fields: dict[str, list[int]] = {}
    for res in results:
        for row in res.by_field:
            counts = fields.setdefault(row["field"], [0, 0])
            counts[0] += row["resolved"]
            counts[1] += row["late"]
    resolved_all = sum(lv["resolved"] for lv in levels.values())
    late_all = sum(lv["late"] for lv in levels.values())
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
    waits = {
        key: interval([r.dossier_waits[key] for r in results if r.dossier_waits.get("dossiers")])
        for key in ("mean_wait_calendar_hours", "mean_wait_working_hours")
    }
    return {
        "scenario": scenario.name,
        "replications": len(results),
        "seeds": [r.seed for r in results],
        "warmup_days": scenario.warmup_days,
        "dossiers_per_replication": interval([float(r.dossiers) for r in results]),
        "commands": sum(r.commands for r in results),
        "simulated_dossiers_per_second": dossiers / wall if wall else None,
        "levels": {
            level: {
                "on_time": wilson(lv["resolved"] - lv["late"], lv["resolved"]),
                "between_replications": interval(lv["rates"]),
                "resolved": lv["resolved"],
                "late": lv["late"],
            }
            for level, lv in levels.items()
        },
        "late_share": wilson(late_all, resolved_all),
        "fields": {
            f: {"late": wilson(late, resolved), "resolved": resolved}
            for f, (resolved, late) in sorted(fields.items(), key=lambda kv: -kv[1][1])
        },
        "dossier_waits": waits,
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
    lines = ["level,on_time_rate,wilson95_low,wilson95_high,resolved,late,replications"]
    for level, data in summary["levels"].items():
        r = data["on_time"]
        lines.append(
            f"{level},{r['rate']:.6f},{r['low']:.6f},{r['high']:.6f},{data['resolved']},"
            f"{data['late']},{summary['replications']}"
        )
    files[1].write_text("\n".join(lines) + "\n")
    keys = [
        "capacity",
        "visits",
        "mean_wait_per_visit_calendar_hours",
        "mean_wait_per_visit_working_hours",
        "mean_queue",
        "utilisation",
        "away_share",
    ]
    rows = [",".join(["agency", *keys])]
    for agency, s in sorted(summary["agencies"].items()):
        rows.append(",".join([agency, *(f"{s[k]:.4f}" for k in keys)]))
    files[2].write_text("\n".join(rows) + "\n")
    return files
