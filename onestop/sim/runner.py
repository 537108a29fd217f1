"""Replications on an executor (local processes or a Dask cluster), and their summary with 95 %
confidence intervals.

On-time rates are pooled over the dossiers of all replications with a Wilson interval (inside
[0, 1]); means of per-replication figures (waits, utilisation, KPIs) get Student-t intervals.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from onestop.errors import OnestopError, ValidationError
from onestop.log import configure
from onestop.sim.executors import Workload, local_executor
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


@dataclass(frozen=True)
class Replication:
    """One replication to run: its index (from 0), seed, database URL, and whether its events
    are written (only where someone keeps them: the ``--db`` replication)."""

    index: int
    seed: int
    url: str = "sqlite://"
    events: bool = True


def _replicate(
    workload: Workload, rep: Replication, progress: ProgressCallback | None = None
) -> tuple[int, RunResult]:
    """Run one replication wherever it was sent; returns its index with its result."""
    root, definitions = workload.definitions()
    report = progress
    if report is None and _PROGRESS is not None:
        channel = _PROGRESS

        def report(i: int, share: float) -> None:
            channel.put((i, share))

    scenario = workload.scenario
    if scenario.reorganisation is not None:  # the switch runs inside the replication
        from onestop.sim.reorganisation import ReorganisingSimulation

        sim: Simulation = ReorganisingSimulation(scenario, root, rep.seed, rep.url)
    else:
        sim = Simulation(
            scenario, root, rep.seed, rep.url, definitions=definitions, events=rep.events
        )
    result = sim.run(None if report is None else (lambda share: report(rep.index, share)))
    return rep.index, result


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
    executor: Executor | None = None,
    retries: int = 2,
) -> dict[str, Any]:
    """Run a scenario ``replications`` times (seeds seed, seed+1, ...) and summarise.

    Args:
        path: Scenario file.
        replications: How many independent runs.
        jobs: Parallel local processes (when no ``executor`` is given).
        seed: Base seed (default: the scenario's).
        days: Override the scenario's days.
        scale: Override the scenario's volume scale.
        db: SQLite file for the first replication's events (``onestop report`` can read it);
            default: every replication in memory.
        progress: Called as ``progress(replication, share_done)`` while each replication runs
            (daily in simulated time, in local processes) and with 1.0 when it ends.
        worker_log_level: Log level of the worker processes started for ``jobs > 1`` (they are
            onestop's own processes, so onestop configures their logging; the calling process's
            logging is left as the host set it).
        executor: Where to run the replications (e.g. a Dask client's executor, see
            :func:`onestop.sim.executors.open_executor`); default: ``jobs`` local processes.
        retries: Times a replication whose worker failed or was lost is submitted again.

    Returns:
        The summary: per-level on-time rates with 95 % intervals, KPIs, agency queues.

    Raises:
        DefinitionError: If the scenario or its definitions are invalid.
        ValidationError: If ``db`` is given with an ``executor`` (the file would be written on
            a worker).
    """
    scenario, workflows = load_scenario(path, days, scale)
    return run_workload(
        Workload.of(scenario, workflows),
        replications=replications,
        jobs=jobs,
        seed=seed,
        db=db,
        progress=progress,
        worker_log_level=worker_log_level,
        executor=executor,
        retries=retries,
    )


def run_workload(
    workload: Workload,
    *,
    replications: int = 1,
    jobs: int = 1,
    seed: int | None = None,
    db: str | None = None,
    progress: ProgressCallback | None = None,
    worker_log_level: str = "WARNING",
    executor: Executor | None = None,
    retries: int = 2,
) -> dict[str, Any]:
    """:func:`run_replications` of a workload already in memory (scenario and definitions).

    Replication r always gets seed ``seed + r`` whichever worker runs it, and results are kept
    by replication index, so the summary is the same on one process or many workers, and a
    replication run twice (retried after its worker was lost) is counted once.

    Raises:
        ValidationError: If ``db`` is given with an ``executor``.
        Interrupted: On Ctrl-C (a ``KeyboardInterrupt``), once the workers are stopped; it
            carries the replications that finished.
    """
    if db and executor is not None:
        raise ValidationError(
            "db", "the first replication's file would be written on a worker: run it locally"
        )
    base = workload.scenario.seed if seed is None else seed
    reps = [
        # Events are sealed and written only where they are kept: the figures are the rows'.
        Replication(r, base + r, f"sqlite:///{db}", True)
        if (db and r == 0)
        else Replication(r, base + r, "sqlite://", False)
        for r in range(replications)
    ]
    results: dict[int, RunResult] = {}
    try:
        if executor is None and (jobs <= 1 or replications <= 1):
            for rep in reps:
                index, result = _replicate(workload, rep, progress)
                results[index] = result
        elif executor is not None:
            _gather(lambda: executor, False, workload, reps, progress, None, retries, results)
        else:
            # A plain queue, not a manager's: a manager process takes a second to start, which
            # would be a second of Ctrl-C ignored (see _children_ignore_sigint).
            channel = multiprocessing.get_context("spawn").Queue() if progress else None
            n = min(jobs, replications)
            _gather(
                lambda: local_executor(n, _init_worker, (channel, worker_log_level)),
                True,
                workload,
                reps,
                progress,
                channel,
                retries,
                results,
            )
    except KeyboardInterrupt:
        done = sorted(results)
        raise Interrupted([results[i] for i in done], done, replications) from None
    if progress:
        for r in range(replications):
            progress(r, 1.0)
    return summarise(workload.scenario, [results[r] for r in range(replications)])


def _gather(
    make: Callable[[], Executor],
    owned: bool,
    workload: Workload,
    reps: list[Replication],
    progress: ProgressCallback | None,
    channel: Any,
    retries: int,
    results: dict[int, RunResult],
) -> None:
    """Submit every replication, collect results (into ``results``, by index) as they finish,
    retry lost ones.

    ``owned`` executors (local pools) are shut down at the end, and replaced when a worker
    process dies (a broken pool takes every pending future with it). On Ctrl-C their processes
    are terminated at once rather than waited for; ``results`` keeps what finished.
    """
    executor = make()
    generation = 0
    failures = dict.fromkeys((r.index for r in reps), 0)
    pending: dict[Future[tuple[int, RunResult]], tuple[Replication, int]] = {}

    def submit(rep: Replication) -> None:
        pending[executor.submit(_replicate, workload, rep)] = (rep, generation)

    interrupted = False
    try:
        # A pool spawns its processes as work is submitted: they are born ignoring SIGINT.
        with _children_ignore_sigint() if owned else nullcontext():
            for rep in reps:
                submit(rep)
        while pending:
            done, _ = wait(list(pending), timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(channel, progress, results)
            for future in done:
                rep, born = pending.pop(future)
                try:
                    index, result = future.result()
                except OnestopError:
                    raise  # bad input fails the same way everywhere: no retry
                except Exception:
                    failures[rep.index] += 1
                    if failures[rep.index] > retries:
                        raise
                    if (
                        owned
                        and born == generation
                        and isinstance(future.exception(), BrokenProcessPool)
                    ):
                        executor.shutdown(wait=False, cancel_futures=True)
                        executor, generation = make(), generation + 1
                    submit(rep)
                    continue
                if index in results:
                    continue  # a retried replication already counted: never twice
                results[index] = result
                if progress:
                    progress(index, 1.0)
        _drain(channel, progress, results)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        for future in pending:
            future.cancel()
        if owned and interrupted and isinstance(executor, ProcessPoolExecutor):
            for process in list((executor._processes or {}).values()):
                process.terminate()
        if owned:
            # Wait even when interrupted (the processes are terminated, so this is quick): the
            # pool's manager thread must close its wake-up pipe before the interpreter's exit
            # hook writes to it, or Python 3.11 prints an EBADF traceback at exit.
            executor.shutdown(wait=True, cancel_futures=True)


def _drain(channel: Any, progress: ProgressCallback | None, finished: dict[int, Any]) -> None:
    """Pass on the progress messages local workers sent (none about finished replications)."""
    if channel is None or progress is None:
        return
    while True:
        try:
            index, share = channel.get_nowait()
        except queue.Empty:
            return
        if index not in finished:
            progress(index, share)


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
        "scale": scenario.volume.scale,
        "scale_note": scenario.scale_note,
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
