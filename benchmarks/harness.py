"""The benchmark harness: figures measured beside their floors, medians of repeats, a table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


@dataclass
class Figure:
    """One measured figure.

    Attributes:
        name: Short name, e.g. ``durable commands/s``.
        value: The median measurement.
        floor: The same work done by the simplest possible code, measured in the same run.
        unit: Unit of value and floor.
        higher_is_better: Throughputs (True) or latencies (False).
        goal: The goal in words.
        passed: Whether the goal is met.
        notes: Extra detail (sizes, curves, runs).
    """

    name: str
    value: float
    floor: float
    unit: str
    higher_is_better: bool
    goal: str
    passed: bool
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """How many times the floor's cost the figure costs (1.0 = as fast as the floor)."""
        if self.higher_is_better:
            return self.floor / self.value if self.value else float("inf")
        return self.value / self.floor if self.floor else float("inf")


def median_of(repeats: int, run: Callable[[], float]) -> tuple[float, list[float]]:
    """Run ``run`` ``repeats`` times; return the median and all samples."""
    samples = [run() for _ in range(repeats)]
    return statistics.median(samples), samples


def child_figures(code: str, *args: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter (its own peak memory) from the repository's root;
    its last line of output is a JSON object of figures."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def timed(fn: Callable[[], Any]) -> float:
    """Seconds taken by one call."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def machine() -> dict[str, Any]:
    """What ran the benchmarks."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def print_table(figures: list[Figure], console: Console) -> None:
    """The figures as a rich table."""
    table = Table(title="onestop benchmarks (value beside its floor, same run)")
    for col in ("figure", "value", "floor", "ratio", "goal", "result"):
        table.add_column(col, justify="right" if col in ("value", "floor", "ratio") else "left")
    for f in figures:
        table.add_row(
            f.name,
            f"{f.value:,.2f} {f.unit}",
            f"{f.floor:,.2f} {f.unit}",
            f"{f.ratio:.2f}×",
            escape(f.goal),  # goals may hold brackets, e.g. pip extras
            "skipped"
            if f.notes.get("skipped")
            else ("[green]pass[/]" if f.passed else "[red]short[/]"),
        )
    console.print(table)


def write_json(figures: list[Figure], path: str, quick: bool) -> None:
    """All figures, with the machine description, as JSON."""
    data = {
        "quick": quick,
        "machine": machine(),
        "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=str)
