"""``onestop export``: the event log for process-mining tools (XES or OCEL 2.0)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from onestop.cli_common import DbOption, err, existing_store, fail
from onestop.defaults import DEFAULT_DB
from onestop.errors import OnestopError


def export(
    db: DbOption = DEFAULT_DB,
    format: Annotated[
        str, typer.Option("--format", "-f", help="xes, ocel2-json or ocel2-sqlite.")
    ] = "xes",
    period: Annotated[
        str,
        typer.Option(help="Dossiers created in 2024, 2024-Q1, 2024-03, 2024-03-05 or a..b."),
    ] = "",
    by: Annotated[
        str | None, typer.Option(help="unit: one file per competent unit (code before the suffix).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--out", help="The file to write.")] = None,
) -> None:
    """Event log for process-mining tools (PM4Py, ProM, Disco, Celonis): XES or OCEL 2.0.

    The dossiers created in the period, with their events up to its end (or now, if sooner).
    Applicants appear only as keyed pseudonyms; ONESTOP_EXPORT_KEY (hex, 16+ bytes) keeps them
    the same across exports, else each export draws its own key.

    Examples:
      onestop export --db onestop-demo.db --format xes --period 2024 --out cantho-2024.xes
      onestop export --db onestop-demo.db -f ocel2-sqlite --period 2024-Q1 --by unit --out q1.sqlite
    """
    from onestop.clock import VN_TZ
    from onestop.export_log import FORMATS, export_log
    from onestop.periods import Period

    if format not in FORMATS:
        raise fail(f"--format: {format!r} is not one of {', '.join(FORMATS)}")
    if not period:
        raise fail("--period: give the period to export (2024, 2024-Q1, 2024-03 or a..b)")
    if by not in (None, "unit"):
        raise fail(f"--by: {by!r} is not unit")
    if output is None:
        raise fail("--out: give the file to write")
    if not output.parent.is_dir():
        raise fail(f"--out: the directory {output.parent} does not exist")
    key_hex = os.environ.get("ONESTOP_EXPORT_KEY")
    try:
        parsed = Period.parse(period)
        key = bytes.fromhex(key_hex) if key_hex else None
    except ValueError as exc:
        raise fail(f"--period or ONESTOP_EXPORT_KEY: {exc}") from None
    store = existing_store(db)
    as_of = datetime.now(VN_TZ)
    try:
        with Progress(
            TextColumn("exporting"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} dossiers"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            task = bar.add_task("export", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            written = export_log(
                store, format, parsed, output, by_unit=by == "unit", as_of=as_of, key=key,
                progress=advance,
            )  # fmt: skip
    except OnestopError as exc:
        raise fail(str(exc)) from None
    finally:
        store.dispose()
    for w in written:
        err.print(f"wrote {w.path}: {w.cases:,} dossiers, {w.events:,} events", highlight=False)
