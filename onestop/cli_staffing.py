"""``onestop staff``: the smallest headcount per agency reaching an on-time target (Erlang C,
then confirmed by simulation)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from onestop.cli_common import (
    definition_failure,
    err,
    fail,
    out,
    scenario_file,
)
from onestop.errors import DefinitionError, OnestopError


def _hours(text: str, option: str) -> float:
    """``2h``, ``30m`` or ``1.5`` (hours) as hours."""
    value = text.strip().lower()
    factor = 1.0
    if value.endswith("m"):
        value, factor = value[:-1], 1 / 60
    elif value.endswith("h"):
        value = value[:-1]
    try:
        hours = float(value) * factor
    except ValueError:
        raise fail(f"{option}: {text!r} is not a duration like 2h or 30m") from None
    if hours <= 0:
        raise fail(f"{option}: {text!r} must be positive")
    return hours


def staff(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario file, or a bundled one's name (cantho-2024).")
    ],
    target: Annotated[
        str, typer.Option(help="Target on-time rate at every level, as on_time=0.999.")
    ] = "on_time=0.999",
    max_wait: Annotated[
        str, typer.Option(help="Working time a file may wait per visit (2h, 30m).")
    ] = "2h",
    replications: Annotated[int, typer.Option(min=1, max=100, help="Runs per round.")] = 2,
    jobs: Annotated[int, typer.Option(min=1, max=64, help="Parallel processes.")] = 1,
    days: Annotated[int | None, typer.Option(min=1, max=3660, help="Override days.")] = None,
    scale: Annotated[
        float | None, typer.Option(min=0.0001, max=1, help="Override the volume scale.")
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, max=20, help="Confirmation rounds at most.")] = 4,
    executor: Annotated[
        str,
        typer.Option(help="Where replications run: local (processes) or dask://HOST:PORT."),
    ] = "local",
) -> None:
    """Smallest headcount per agency reaching an on-time target: Erlang C first, then confirmed
    (and topped up where waits stay too long) by simulation; prints the pooled rates with 95 %
    Wilson intervals.

    Example: onestop staff simulations/two-tier-2025.yaml --target on_time=0.999 --max-wait 2h
    """
    from onestop.sim.executors import open_executor
    from onestop.sim.scenario import Scenario
    from onestop.sim.staffing import solve

    name, _, value = target.partition("=")
    try:
        goal = float(value)
    except ValueError:
        goal = -1.0
    if name.strip() != "on_time" or not 0 < goal < 1:
        raise fail(f"--target: {target!r} is not like on_time=0.999")
    wait = _hours(max_wait, "--max-wait")
    scenario = scenario_file(scenario)
    try:
        Scenario.load(scenario)
    except DefinitionError as exc:
        raise definition_failure(exc) from None

    def report_round(number: int, summary: dict[str, Any]) -> None:
        rates = ", ".join(
            f"{level} {lv['on_time']['rate'] * 100:.3f} %"
            for level, lv in summary["levels"].items()
        )
        err.print(f"round {number}: {rates}", highlight=False)

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
    )
    with open_executor(executor, jobs) as pool, bar as progress:
        task = progress.add_task("confirming by simulation", total=replications)
        shares = [0.0] * replications

        def advance(index: int, share: float) -> None:
            shares[index] = share
            progress.update(task, completed=sum(shares))

        try:
            result = solve(
                scenario,
                target=goal,
                max_wait_hours=wait,
                replications=replications,
                jobs=jobs,
                days=days,
                scale=scale,
                rounds=rounds,
                progress=advance,
                on_round=report_round,
                executor=pool,
            )
        except OnestopError as exc:
            raise fail(str(exc)) from None
    table = Table(
        title=f"{result['scenario']}: officers per agency (changed from Erlang C marked *)"
    )
    for col in ("agency", "Erlang C", "confirmed"):
        table.add_column(col, justify="left" if col == "agency" else "right")
    for agency, count in sorted(result["headcounts"].items()):
        first = result["erlang_c"].get(agency, count)
        table.add_row(agency, str(first), f"{count}{' *' if count != first else ''}")
    out.print(table)
    for level, lv in result["levels"].items():
        rate = lv["on_time"]
        out.print(
            f"{level}: on time {rate['rate'] * 100:.3f} % (95 % Wilson {rate['low'] * 100:.3f}–"
            f"{rate['high'] * 100:.3f} %, {lv['resolved']:,} dossiers)",
            highlight=False,
        )
    total = sum(result["headcounts"].values())
    verdict = "reached" if result["reached"] else f"NOT reached ({result['stopped']})"
    out.print(
        f"target on_time={goal} {verdict} after {result['rounds']} round(s); "
        f"{total:,} officers in {len(result['headcounts'])} agencies",
        highlight=False,
    )
