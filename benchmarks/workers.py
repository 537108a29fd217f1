"""Scaling out: engine worker processes over one PostgreSQL database, and replications on Dask.

``ONESTOP_PG_URL=postgresql+psycopg://... python -m benchmarks.workers [--quick] [--repeats 3]``

*Engine workers*: 1, 2, 4 and 8 processes, each with its own :class:`onestop.Engine` (its own
connection pool) on the same database, each running receive → complete_step → resolve → return
on its own dossiers, one transaction per command; durable commands/s is every command committed
over the wall time from a common start (a barrier) to the last worker's end. Beside each figure,
measured in the same run: the bare driver (``psycopg``) replaying onestop's own statements in as
many processes (:mod:`benchmarks.floors`), and the ratio of each to its own 1-process figure.
The contended case runs suspend/resume on 4 dossiers shared by every worker (the row lock
serialises them). A pure-Python loop in as many processes shows how much parallel CPU the machine
gave at that moment (no figure can scale past it), and the load average is printed beside it.

*Replications*: replications/s of the same scenario and seeds on ``W`` local processes and on a
Dask LocalCluster of ``W`` single-threaded worker processes, beside one process running them one
after another (the floor).

The database at ``ONESTOP_PG_URL`` is wiped (it must be yours).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import floors
from onestop import VN_TZ, Calendar, Definitions, Engine, InvalidTransition, ManualClock
from onestop.log import configure
from onestop.store import Store
from onestop.testing import reset_postgres

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
PROC, UNIT = "commune.certify-copy", "92.NK.TANAN"
WORKERS = (1, 2, 4, 8)
SHARED = 4  # dossiers every worker acts on in the contended case


_DEFS: tuple[Definitions, Calendar] | None = None


def _engine(url: str) -> Engine:
    global _DEFS
    if _DEFS is None:
        defs = Definitions.load(WORKFLOWS)
        _DEFS = defs, Calendar.vietnam(overrides=defs.overrides)
    defs, calendar = _DEFS
    clock = ManualClock(datetime(2025, 3, 3, 8, 0, tzinfo=VN_TZ))
    return Engine(Store(url), defs.catalog, calendar, clock)


def _loop(engine: Engine) -> int:
    """receive → complete_step → resolve → return on a new dossier; commands run."""
    d = engine.receive(PROC, UNIT)
    d = engine.complete_step(d.id)
    d = engine.resolve(d.id)
    engine.return_result(d.id)
    return 4


def _toggle(engine: Engine, shared: list[int]) -> int:
    """Suspend (or resume, if suspended) every shared dossier once; commands committed (one
    refused because another worker got there first is not counted)."""
    done = 0
    for dossier_id in shared:
        try:
            engine.execute("suspend", dossier_id, {"reason": "benchmark"})
        except InvalidTransition:
            try:
                engine.execute("resume", dossier_id)
            except InvalidTransition:
                continue
        done += 1
    return done


def _worker(
    kind: str, url: str, seconds: float, shared: list[int], captured: Any, start: Any
) -> tuple[float, float, int]:
    """One worker process: warm up, wait for the others, work ``seconds``; returns its start,
    end and commands committed."""
    configure(level="WARNING")
    if kind == "cpu":
        start.wait()
        t0 = now = time.monotonic()
        units = 0
        while now - t0 < seconds:
            sum(i * i for i in range(10_000))  # pure Python: what a spare core would give
            units += 1
            now = time.monotonic()
        return t0, now, units
    if kind == "driver":
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
            cur = con.cursor()
            floors._replay(cur, lambda: None, con.commit, captured, 3, False)
            start.wait()
            t0 = now = time.monotonic()
            commands = 0
            while now - t0 < seconds:
                floors._replay(cur, lambda: None, con.commit, captured, 5, False)
                commands += 20
                now = time.monotonic()
            return t0, now, commands
    engine = _engine(url)
    _loop(engine)
    start.wait()
    t0 = now = time.monotonic()
    commands = 0
    while now - t0 < seconds:
        commands += _toggle(engine, shared) if kind == "shared" else _loop(engine)
        now = time.monotonic()
    engine.store.dispose()
    return t0, now, commands


def _prepare(url: str) -> list[int]:
    """Reset and migrate the database; returns the shared dossiers (received, processing)."""
    reset_postgres(url)
    engine = _engine(url)
    engine.store.migrate()
    engine.store.sync_definitions(engine.catalog)
    shared = [engine.receive(PROC, UNIT).id for _ in range(SHARED)]
    engine.store.dispose()
    return shared


def engine_workers(url: str, quick: bool, repeats: int, console: Console) -> dict[str, Any]:
    """Durable commands/s at 1, 2, 4, 8 workers: onestop, the bare driver, shared dossiers.
    Each worker count gets its own pool of processes (started outside the timing); every
    round starts on a freshly reset database."""
    seconds = 1.5 if quick else 4.0
    _prepare(url)
    engine = _engine(url)
    captured = floors.capture(
        engine,
        [
            lambda _: engine.receive(PROC, UNIT),
            engine.complete_step,
            engine.resolve,
            engine.return_result,
        ],
        batch=False,
    )
    engine.store.dispose()
    out: dict[str, Any] = {"seconds_per_round": seconds, "repeats": repeats, "rows": []}
    ctx = multiprocessing.get_context("spawn")
    for workers in WORKERS:
        row: dict[str, Any] = {"workers": workers}
        with ctx.Manager() as manager, ctx.Pool(workers) as pool:
            row["load_average"] = os.getloadavg()[0]
            for kind in ("engine", "driver", "shared", "cpu"):
                samples = []
                for _ in range(repeats):
                    shared = _prepare(url)
                    start = manager.Barrier(workers)
                    args = (kind, url, seconds, shared, captured, start)
                    runs = pool.starmap(_worker, [args] * workers, chunksize=1)
                    elapsed = max(r[1] for r in runs) - min(r[0] for r in runs)
                    samples.append(sum(r[2] for r in runs) / elapsed)
                row[kind] = statistics.median(samples)
                row[f"{kind}_samples"] = samples
        out["rows"].append(row)
        console.print(
            f"  {workers} worker(s): onestop {row['engine']:,.0f}, driver {row['driver']:,.0f}, "
            f"shared {row['shared']:,.0f} cmd/s; load average {row['load_average']:.1f}",
            highlight=False,
        )
    return out


def _replication_rate(run: Any, replications: int) -> float:
    t0 = time.perf_counter()
    summary = run()
    if summary["replications"] != replications:
        raise RuntimeError(f"{summary['replications']} replications, not {replications}")
    return replications / (time.perf_counter() - t0)


def replications(quick: bool, repeats: int, workers: int = 2) -> dict[str, Any]:
    """Replications/s of the same replications (same seeds): one process in turn (the floor);
    ``workers`` local processes started by each run (as ``onestop simulate --jobs``); the same
    local pool kept warm; a Dask LocalCluster of ``workers`` single-threaded processes (started
    once, outside the timing, as a standing cluster would be)."""
    from distributed import LocalCluster

    from onestop.sim.executors import local_executor, open_executor
    from onestop.sim.runner import _init_worker, run_replications

    scenario = ROOT / "tests" / "fixtures" / "scenarios" / "mmc.yaml"
    reps, days = (4, 2) if quick else (8, 5)

    def run(**kw: Any) -> Any:
        return lambda: run_replications(scenario, replications=reps, days=days, **kw)

    def medians(make: Any) -> tuple[float, list[float]]:
        samples = [_replication_rate(make, reps) for _ in range(repeats)]
        return statistics.median(samples), samples

    found: dict[str, Any] = {"scenario": "mmc", "days": days, "replications": reps}
    found["load_average"] = os.getloadavg()[0]
    found["workers"] = workers
    found["serial"], found["serial_samples"] = medians(run())
    found["local"], found["local_samples"] = medians(run(jobs=workers))
    with local_executor(workers, _init_worker, (None, "WARNING")) as warm:
        _replication_rate(run(executor=warm), reps)  # the processes import onestop once
        found["warm"], found["warm_samples"] = medians(run(executor=warm))
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        with open_executor(f"dask://{address}") as pool:
            _replication_rate(run(executor=pool), reps)  # the workers import onestop once
            found["dask"], found["dask_samples"] = medians(run(executor=pool))
    return found


def _postgres_settings(url: str) -> dict[str, str]:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.connect() as conn:
        found = {
            name: str(conn.execute(text(f"SHOW {name}")).scalar())
            for name in ("max_connections", "fsync", "synchronous_commit", "server_version")
        }
    eng.dispose()
    return found


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print their tables."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--only", choices=("engine", "replications"), help="one part only")
    args = parser.parse_args(argv)
    configure(level="WARNING")
    console = Console(width=150)
    console.print(f"{os.cpu_count()} CPUs; medians of {args.repeats} runs", highlight=False)
    url = os.environ.get("ONESTOP_PG_URL")
    if args.only != "replications":
        if not url:
            console.print("ONESTOP_PG_URL is not set: engine workers skipped")
        else:
            console.print(f"PostgreSQL: {_postgres_settings(url)}", highlight=False)
            data = engine_workers(url, args.quick, args.repeats, console)
            table = Table(
                title=f"durable commands/s on PostgreSQL, {data['seconds_per_round']:g} s rounds, "
                f"medians of {data['repeats']}"
            )
            heads = ("workers", "onestop", "× 1 worker", "bare driver (floor)", "× 1 worker",
                     "driver/onestop", "shared dossiers", "× 1 worker", "CPU loop × 1 worker",
                     "load avg")  # fmt: skip
            for head in heads:
                table.add_column(head, justify="right")
            base = data["rows"][0]
            for row in data["rows"]:
                table.add_row(
                    str(row["workers"]),
                    f"{row['engine']:,.0f}",
                    f"{row['engine'] / base['engine']:.2f}×",
                    f"{row['driver']:,.0f}",
                    f"{row['driver'] / base['driver']:.2f}×",
                    f"{row['driver'] / row['engine']:.2f}",
                    f"{row['shared']:,.0f}",
                    f"{row['shared'] / base['shared']:.2f}×",
                    f"{row['cpu'] / base['cpu']:.2f}×",
                    f"{row['load_average']:.1f}",
                )
            console.print(table)
    if args.only != "engine":
        rep = replications(args.quick, args.repeats)
        table = Table(
            title=f"replications/s, {rep['replications']} replications of {rep['scenario']} "
            f"({rep['days']} days), {rep['workers']} workers, "
            f"load average {rep['load_average']:.1f}"
        )
        for head in ("executor", "replications/s", "× one process (floor)"):
            table.add_column(head, justify="right")
        for key, label in (
            ("serial", "one process, in turn (floor)"),
            ("local", f"local, {rep['workers']} processes started by the run (--jobs)"),
            ("warm", f"local, {rep['workers']} processes already started"),
            ("dask", f"Dask LocalCluster, {rep['workers']} workers"),
        ):
            table.add_row(label, f"{rep[key]:.2f}", f"{rep[key] / rep['serial']:.2f}×")
        console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
