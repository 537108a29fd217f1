"""``onestop scorecard``: the Decision 766/QĐ-TTg scorecard per unit or level."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from onestop.cli_common import (
    DbOption,
    PeriodOption,
    default_workflows,
    definition_failure,
    existing_store,
    fail,
    print_tables,
    report_period,
    write_text,
)
from onestop.defaults import DEFAULT_DB
from onestop.errors import DefinitionError, OnestopError


def scorecard(
    db: DbOption = DEFAULT_DB,
    by: Annotated[str, typer.Option(help="unit (competent unit) or level.")] = "unit",
    period: PeriodOption = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or html.")] = "table",
    output: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    workflows: Annotated[
        Path | None, typer.Option(help="Definitions directory (for calendar overrides).")
    ] = None,
) -> None:
    """Decision 766/QĐ-TTg scorecard per unit or level: points by indicator group, each
    indicator's value and formula, and the indicators onestop's data cannot support.

    Examples:
      onestop scorecard --db onestop-demo.db --period 2024 --by unit
      onestop scorecard --db onestop-demo.db --by level -f html --out scorecard.html
    """

    from onestop.calendar import Calendar
    from onestop.definitions import Definitions
    from onestop.scorecard import BY
    from onestop.scorecard import scorecard as compute

    if format not in ("table", "json", "html"):
        raise fail(f"--format: {format!r} is not one of table, json, html")
    if by not in BY:
        raise fail(f"--by: {by!r} is not one of {', '.join(BY)}")
    store = existing_store(db)
    try:
        calendar = Calendar.vietnam(
            overrides=Definitions.load(workflows or default_workflows()).overrides
        )
        parsed = report_period(store, period)
        card = compute(store, parsed, by, calendar)
    except DefinitionError as exc:
        raise definition_failure(exc) from None
    except OnestopError as exc:
        raise fail(str(exc)) from None
    if format == "table":
        tables = _scorecard_tables(card)
        print_tables(tables, output)
        return
    if format == "json":
        text = card.to_json()
    else:
        from onestop.scorecard_html import render_scorecard_html

        text = render_scorecard_html(card)
    write_text(text, output)


def _scorecard_tables(card: Any) -> list[Table]:
    """Points by group per row, indicator values, and the formulas and points of the index."""
    from onestop.presentation import decimal, percent
    from onestop.scorecard import GROUPS, INDICATORS

    def pts(x: float | None) -> str:
        return "–" if x is None else decimal(x, "en")

    groups = Table(title=f"Decision 766/QĐ-TTg scorecard, {card.period.label_en}: points by group")
    groups.add_column(card.by)
    for g in GROUPS:
        groups.add_column(f"{g.code}. {g.name_en} (max {pts(g.points)})", justify="right")
    groups.add_column("total (of scorable)", justify="right")
    values = Table(title="Indicator values (points); codes as in the table below")
    values.add_column(card.by)
    computable = [i for i in INDICATORS.values() if i.computable]
    for ind in computable:
        values.add_column(ind.code, justify="right")
    for row in card.rows:
        name = card.label(row.key, "en")
        cells = []
        for g in GROUPS:
            earned, possible = row.group_points(g)
            cells.append(f"{pts(earned)} / {pts(possible)}" if possible else "–")
        earned, possible = row.total
        groups.add_row(name, *cells, f"{pts(earned)} / {pts(possible)}")
        shown = []
        for ind in computable:
            s = row.scores[ind.code]
            value = (
                "–"
                if s.value is None
                else (f"{decimal(s.value, 'en')}×" if ind.code == "2.2" else percent(s.value, "en"))
            )
            shown.append(f"{value} ({pts(s.points)})")
        values.add_row(name, *shown)
    legend = Table(title="Indicators: formula and points (Decision 766/QĐ-TTg)")
    for col in ("code", "indicator", "formula", "points", "basis"):
        legend.add_column(col, justify="right" if col == "points" else "left")
    for ind in INDICATORS.values():
        formula = ind.formula
        if ind.reason is not None:
            formula += f" — not computable from onestop data: {ind.reason}"
        legend.add_row(ind.code, ind.name_en, formula, pts(ind.points), ind.basis)
    return [groups, values, legend]
