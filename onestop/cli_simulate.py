"""``onestop demo`` and ``onestop simulate``: dossier load driven through the real engine
under a virtual clock, with progress bars; Ctrl-C keeps what finished."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from onestop.cli_common import (
    EXIT_INTERRUPTED,
    db_url,
    default_scenario,
    definition_failure,
    err,
    fail,
    out,
    scenario_file,
)
from onestop.cli_report import level_table
from onestop.defaults import DEFAULT_DB
from onestop.errors import DefinitionError, OnestopError

if TYPE_CHECKING:
    from onestop.sim.runner import Interrupted


def _make_room(db: str, force: bool) -> None:
    """Make way for the demo's data: replace an SQLite file (the default one, or any with
    ``force``); refuse a server database that holds dossiers, ``force`` or not (a demo run
    twice would double its data, and onestop never wipes a server database).

    Raises:
        typer.Exit: If ``db`` exists and may not be replaced; nothing is changed then.
    """
    from sqlalchemy import create_engine, func, inspect, select
    from sqlalchemy.engine import make_url

    from onestop.store.schema import dossiers

    url = make_url(db_url(db))
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return
        path = Path(url.database or "")
        if path.exists():
            if db != DEFAULT_DB and not force:
                raise fail(f"--db: {db} exists; pass --force to replace it")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            held = (
                conn.execute(select(func.count()).select_from(dossiers)).scalar_one()
                if inspect(conn).has_table(dossiers.name)
                else 0
            )
    finally:
        engine.dispose()
    if held:
        raise fail(
            f"--db: the database already holds {held:,} dossier(s); onestop never wipes a "
            "server database, --force or not: drop and recreate it, or name an empty one"
        )


def demo(
    db: Annotated[
        str,
        typer.Option(
            help="SQLite file to create (replaced if it is the default), or a server database "
            "URL (it must hold no dossiers)."
        ),
    ] = DEFAULT_DB,
    scenario: Annotated[
        Path | None,
        typer.Option(help="Scenario file or bundled name (default: cantho-2024)."),
    ] = None,
    workflows: Annotated[
        Path | None,
        typer.Option(help="Definitions directory (default: the one the scenario names)."),
    ] = None,
    start: Annotated[
        str, typer.Option(help="First day of the simulated month (YYYY-MM-DD).")
    ] = "2024-03-01",
    days: Annotated[int, typer.Option(min=1, max=366, help="Days simulated.")] = 30,
    scale: Annotated[
        float, typer.Option(min=0.0001, max=1, help="Share of the city's yearly volume.")
    ] = 0.15,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 1,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace an existing --db SQLite file. A server database (PostgreSQL) that "
            "holds dossiers is never wiped, --force or not: drop and recreate it yourself, or "
            "name an empty one."
        ),
    ] = False,
) -> None:
    """Run the main job on the embedded default: a month of Can Tho's city-wide dossiers,
    simulated through the real engine on a fresh SQLite file; then the alert sweep and the
    on-time table by level. Dossiers still open at the month's end stay open.

    Example: onestop demo --days 30 --scale 0.15 --seed 1
    """
    from onestop.alerts import AlertSweeper
    from onestop.periods import Period
    from onestop.reports import on_time_report
    from onestop.sim.model import Simulation
    from onestop.sim.runner import load_scenario

    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise fail(f"--start: {start!r} is not a date like 2024-03-01") from None
    _make_room(db, force)
    t0 = time.perf_counter()
    try:
        spec, named = load_scenario(
            scenario_file(scenario) if scenario else default_scenario(), days, scale
        )
        spec = spec.model_copy(update={"start": first, "drain": False, "seed": seed})
        sim = Simulation(spec, workflows or named, seed, url=db_url(db))
    except DefinitionError as exc:
        raise definition_failure(exc) from None
    except OnestopError as exc:
        raise fail(str(exc)) from None
    with Progress(
        TextColumn("[bold]simulating[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f} %"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task(f"{days} days of {spec.name} from {first}", total=100)
        try:
            result = sim.run(lambda share: progress.update(task, completed=share * 100))
        except KeyboardInterrupt:
            progress.stop()
            err.print(
                f"interrupted: {db} holds a partial run (onestop demo --force replaces an SQLite "
                "file; drop and recreate a server database first)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    alerts = AlertSweeper(sim.engine.store, sim.clock, sim.calendar).sweep()
    elapsed = time.perf_counter() - t0
    end = sim.clock.now()
    period = Period(first, end.date(), f"{first}..{end.date()}")
    report = on_time_report(sim.engine.store, period, ["level"], as_of=end)
    out.print(level_table(report, f"On-time by level, {period.label_en}"))
    out.print(report.sentence("vi"), highlight=False)
    out.print(report.sentence("en"), highlight=False)
    out.print(
        f"{result.dossiers:,} dossiers, {result.commands:,} commands through the engine in "
        f"{elapsed:.1f} s; database: {db}",
        highlight=False,
    )
    kinds = Counter(f"{a.scope} {a.kind}" for a in alerts)
    out.print(
        "Alert sweep: "
        + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "nothing due"),
        highlight=False,
    )
    out.print(f"Next: onestop report --db {db} --by level,field --period {first.year}")


def simulate(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario file, or a bundled one's name (cantho-2024).")
    ],
    days: Annotated[int | None, typer.Option(min=1, max=3660, help="Override days.")] = None,
    scale: Annotated[
        float | None, typer.Option(min=0.0001, max=1, help="Override the volume scale.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Base seed (replication r: seed + r).")] = None,
    replications: Annotated[int, typer.Option(min=1, max=1000, help="Independent runs.")] = 1,
    jobs: Annotated[int, typer.Option(min=1, max=64, help="Parallel processes.")] = 1,
    db: Annotated[
        str | None, typer.Option(help="SQLite file for the first run's events (for report).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("out"),
    executor: Annotated[
        str,
        typer.Option(help="Where replications run: local (processes) or dask://HOST:PORT."),
    ] = "local",
) -> None:
    """Simulate dossier load through the real engine; write summary.json and the by-level
    on-time report with 95 % confidence intervals across replications.

    Example: onestop simulate simulations/cantho-2024.yaml --replications 4 --jobs 2
    (or --executor dask://scheduler:8786 to run them on a Dask cluster)
    """
    from onestop.sim.executors import open_executor, parse_executor
    from onestop.sim.runner import Interrupted, run_replications, write_outputs
    from onestop.sim.scenario import Scenario

    interrupted: Interrupted | None = None
    scenario = scenario_file(scenario)
    try:
        Scenario.load(scenario)
    except DefinitionError as exc:
        raise definition_failure(exc) from None
    if db and Path(db).exists():
        raise fail(f"--db: {db} exists; choose a new file")
    if db and parse_executor(executor) is not None:
        raise fail("--db: the file would be written on a Dask worker; use --executor local")
    display = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f} %"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
    )
    with open_executor(executor, jobs) as pool, display as progress:
        total = progress.add_task(f"{scenario.name} × {replications}", total=replications)
        bars = [
            progress.add_task(f"  replication {r + 1} (seed offset {r})", total=1.0)
            for r in range(replications)
        ]

        def advance(index: int, share: float) -> None:
            progress.update(bars[index], completed=share)
            done = sum(progress.tasks[b].completed for b in bars)
            progress.update(total, completed=done)

        try:
            summary = run_replications(
                scenario,
                replications=replications,
                jobs=jobs,
                seed=seed,
                days=days,
                scale=scale,
                db=db,
                progress=advance,
                executor=pool,
            )
        except DefinitionError as exc:
            raise definition_failure(exc) from None
        except OnestopError as exc:
            raise fail(str(exc)) from None
        except Interrupted as stop:
            interrupted = stop
    if interrupted is not None:
        raise _partial_simulation(interrupted, scenario, days, scale, db, out_dir)
    files = write_outputs(summary, out_dir)
    table = Table(title=f"{summary['scenario']}: on-time by level, {replications} replication(s)")
    heads = ("level", "on-time rate", "95 % Wilson interval", "target", "resolved", "late")
    for col in heads:
        table.add_column(col, justify="left" if col == "level" else "right")
    for level, data in summary["levels"].items():
        rate = data["on_time"]
        target = summary["targets"].get(f"on_time_{level}")
        table.add_row(
            level,
            f"{rate['rate'] * 100:.3f} %",
            f"{rate['low'] * 100:.3f} – {rate['high'] * 100:.3f} %",
            f"{target * 100:.2f} %" if target is not None else "",
            f"{data['resolved']:,}",
            f"{data['late']:,}",
        )
    out.print(table)
    if summary["scale_note"]:
        err.print(f"[yellow]note:[/yellow] {summary['scale_note']}", highlight=False)
    late = summary["late_share"]
    waits = summary["dossier_waits"]
    ranking = ", ".join(
        f"{f} {d['late']['rate'] * 100:.2f} %"
        for f, d in sorted(summary["fields"].items(), key=lambda kv: -kv[1]["late"]["rate"])
        if d["late"]["successes"]
    )
    out.print(
        f"late share {late['rate'] * 100:.2f} % (95 % {late['low'] * 100:.2f}–"
        f"{late['high'] * 100:.2f} %); fields by late share: {ranking or 'none late'}",
        highlight=False,
    )
    out.print(
        "queue wait per dossier: "
        f"{waits['mean_wait_working_hours']['mean']:.2f} working hours, "
        f"{waits['mean_wait_calendar_hours']['mean']:.2f} calendar hours",
        highlight=False,
    )
    online = summary["kpis"]["online_share"]["mean"]
    speed = summary["simulated_dossiers_per_second"]
    out.print(
        f"online share {online * 100:.2f} %; {speed:,.0f} dossiers simulated per second; "
        f"wrote {', '.join(str(f) for f in files)}",
        highlight=False,
    )


def _partial_simulation(
    stop: Interrupted,
    scenario: Path,
    days: int | None,
    scale: float | None,
    db: str | None,
    out: Path,
) -> typer.Exit:
    """After Ctrl-C: write what finished, marked ``"partial": true``, and keep an unfinished
    --db as ``<db>.partial``; say so on stderr; return the exit (code 130) to raise."""
    from onestop.sim.runner import load_scenario, summarise, write_outputs

    done, asked = len(stop.finished), stop.requested
    if stop.finished:
        summary = summarise(load_scenario(scenario, days, scale)[0], stop.finished)
        summary["partial"] = True
        summary["replications_requested"] = asked
        written = ", ".join(str(f) for f in write_outputs(summary, out))
        err.print(
            f"interrupted: partial results of {done} of {asked} replications written to "
            f'{written} (summary.json says "partial": true)',
            highlight=False,
            soft_wrap=True,
        )
    else:
        err.print(
            f"interrupted: partial run, no replication of {asked} finished; nothing written",
            highlight=False,
            soft_wrap=True,
        )
    if db and 0 not in stop.indices and Path(db).exists():
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{db}{suffix}").exists():
                Path(f"{db}{suffix}").rename(f"{db}.partial{suffix}")
        err.print(
            f"interrupted: --db {db} did not finish; kept as {db}.partial",
            highlight=False,
            soft_wrap=True,
        )
    return typer.Exit(EXIT_INTERRUPTED)
