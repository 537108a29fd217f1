"""``onestop report``: the on-time report (or, with ``--kind feedback``, the citizen feedback
report) in a terminal table, CSV, JSON, a sentence or an HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from onestop.cli_common import (
    DbOption,
    PeriodOption,
    WorkflowsOption,
    default_workflows,
    err,
    existing_store,
    fail,
    latest_year,
    print_tables,
    report_period,
    write_text,
)
from onestop.defaults import DEFAULT_DB
from onestop.errors import DefinitionError, OnestopError


def level_table(report: object, title: str) -> Table:
    """The on-time table of a report: its dimensions, then counts and the on-time rate."""
    from onestop.presentation import count, percent
    from onestop.reports import Report

    assert isinstance(report, Report)
    table = Table(title=title)
    for dim in report.by:
        table.add_column(dim)
    for col in (
        "resolved",
        "early",
        "on time",
        "late",
        "on-time rate",
        "open in time",
        "open overdue",
        "apologies",
    ):
        table.add_column(col, justify="right")
    for row in report.rows:
        table.add_row(
            *[report.label(d, row.key[d], "en") for d in report.by],
            *[count(n, "en") for n in (row.resolved, row.early, row.on_time, row.late)],
            percent(row.on_time_rate, "en"),
            *[count(n, "en") for n in (row.open_in_time, row.open_overdue, row.apologies)],
        )
    return table


def _extra_tables(report: Any) -> list[Table]:
    """KPI and late-steps tables of a full report (none for a rollup report)."""
    from onestop.presentation import count, percent

    tables = []
    k = report.kpis
    if k is not None:
        kt = Table(title="Other indicators")
        kt.add_column("indicator")
        kt.add_column("value", justify="right")

        kt.add_row("received", count(k.received, "en"))
        kt.add_row("received online", percent(k.online_share, "en"))
        kt.add_row("paid online", percent(k.paid_online_share, "en"))
        kt.add_row("returned by post", percent(k.post_return_share, "en"))
        kt.add_row(
            f"satisfaction (≥ 4 of {count(k.ratings, 'en')} ratings)",
            percent(k.satisfaction, "en"),
        )
        kt.add_row("location-independent intake", count(k.location_independent, "en"))
        kt.add_row("dossiers digitised", percent(k.digitised_share, "en"))
        kt.add_row("digitised data reused", percent(k.reuse_share, "en"))
        kt.add_row("results digitised", percent(k.results_digitised_share, "en"))
        kt.add_row("electronic results", percent(k.results_electronic_share, "en"))
        tables.append(kt)
    late = [s for s in report.late_steps or [] if s.late]
    if late:
        lt = Table(title="Late steps by agency")
        for col in ("agency", "steps done", "late", "share"):
            lt.add_column(col, justify="left" if col == "agency" else "right")
        for s in late[:15]:
            lt.add_row(
                report.label("agency", s.agency, "en"),
                count(s.completed, "en"),
                count(s.late, "en"),
                percent(s.late_share, "en"),
            )
        tables.append(lt)
    if report.sync:
        st = Table(title="Synchronisation with the national portal (status acknowledged)")
        for col in ("level / unit", "received", "acknowledged", "share"):
            st.add_column(col, justify="left" if col == "level / unit" else "right")
        for s in report.sync:
            name = (
                report.label("level", s.level, "en")
                if s.unit is None
                else ("  " + report.label("unit", s.unit, "en"))
            )
            st.add_row(name, count(s.dossiers, "en"), count(s.acknowledged, "en"),
                       percent(s.share, "en"))  # fmt: skip
        tables.append(st)
    return tables


def report(
    db: DbOption = DEFAULT_DB,
    by: Annotated[
        str,
        typer.Option(
            help="Comma-separated dimensions: level, unit, intake_unit, agency, field, "
            "procedure, channel, intake_mode, procedure_version, unit_set; across a reorganisation "
            "old_unit, new_unit, successor."
        ),
    ] = "level",
    period: PeriodOption = None,
    format: Annotated[
        str, typer.Option("--format", "-f", help="table, csv, json, text or html.")
    ] = "table",
    lang: Annotated[str, typer.Option(help="vi or en (text format).")] = "vi",
    output: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    source: Annotated[
        str, typer.Option(help="live (dossiers) or rollups (nightly snapshots, fast at any size).")
    ] = "live",
    mapping: Annotated[
        Path | None,
        typer.Option(help="Mapping for --by successor (default: the workflows' timeline's)."),
    ] = None,
    workflows: WorkflowsOption = None,
    kind: Annotated[
        str, typer.Option(help="dossiers (on-time report) or feedback (citizen feedback).")
    ] = "dossiers",
) -> None:
    """On-time report by level, unit, field... for a period, with the other KPIs and the late
    steps by agency; or, with --kind feedback, the citizen feedback report.

    Examples:
      onestop report --db onestop-demo.db --by level --period 2024
      onestop report --db onestop-demo.db --by level,field --period 2024-Q1 -f csv --out q1.csv
      onestop report --db onestop-demo.db --kind feedback --period 2021..2025
    """
    if kind not in ("dossiers", "feedback"):
        raise fail(f"--kind: {kind!r} is not dossiers or feedback")
    if kind == "feedback":
        _feedback_report(db, by, period, format, lang, output)
        return

    from onestop.reports import full_report
    from onestop.rollups import rollup_report

    formats = ("table", "csv", "json", "text", "html")
    if source not in ("live", "rollups"):
        raise fail(f"--source: {source!r} is not live or rollups")
    if format not in formats:
        raise fail(f"--format: {format!r} is not one of {', '.join(formats)}")
    if lang not in ("vi", "en"):
        raise fail(f"--lang: {lang!r} is not vi or en")
    store = existing_store(db)
    try:
        parsed = report_period(store, period)
        dims = [b.strip() for b in by.split(",") if b.strip()]
        successors = _successors(mapping, workflows) if "successor" in dims else None
        if source == "rollups":
            result = rollup_report(store, parsed, dims)
        else:
            result = full_report(store, parsed, dims, successors=successors)
    except OnestopError as exc:
        raise fail(str(exc)) from None
    if format == "table":
        tables = [level_table(result, f"On-time report {parsed.label_en}"), *_extra_tables(result)]
        print_tables(tables, output)
        return
    if format == "html":
        from onestop.report_html import render_html

        text = render_html(result)
    elif format == "csv":
        text = result.to_csv()
    elif format == "json":
        text = result.to_json()
    else:
        text = result.sentence(lang)
    write_text(text, output)


def _successors(mapping: Path | None, workflows: Path | None) -> dict[str, str]:
    """Old unit → successor from a mapping file, or from the mappings of the workflows'
    timeline."""
    from onestop.definitions import Definitions
    from onestop.reports import successor_map
    from onestop.timeline import Timeline
    from onestop.transfers import load_mapping

    try:
        defs = Definitions.load(workflows or default_workflows())
        if mapping is not None:
            maps = [load_mapping(mapping, defs)]
        else:
            maps = list(Timeline.of(defs).mappings.values())
    except DefinitionError as exc:
        raise fail(f"--mapping: {exc.problems[0]}") from None
    if not maps:
        raise fail("--by successor: no mapping (give --mapping)")
    return successor_map([(e.old, e.new, e.seat) for m in maps for e in m.units])


def _feedback_report(
    db: str, by: str, period: str | None, format: str, lang: str, output: Path | None
) -> None:
    """``report --kind feedback``: the feedback report in the on-time report's formats."""
    from onestop.feedback_report import feedback_report, render_html
    from onestop.periods import Period

    if format not in ("table", "csv", "json", "text", "html"):
        raise fail(f"--format: {format!r} is not one of table, csv, json, text, html")
    if lang not in ("vi", "en"):
        raise fail(f"--lang: {lang!r} is not vi or en")
    store = existing_store(db)
    try:
        if period is None:
            period = str(latest_year(store)[0])
            err.print(f"--period {period} (the latest data's year)", highlight=False)
        parsed = Period.parse(period)
        dims = [b.strip() for b in by.split(",") if b.strip()]
        result = feedback_report(store, parsed, dims)
    except OnestopError as exc:
        raise fail(str(exc)) from None
    language: Any = lang
    if format == "table":
        head, *lines = result.table_rows(language)
        table = Table(title=f"{result.sentence(language)}")
        for h in head:
            table.add_column(h, justify="left" if h in result.by else "right")
        for line in lines:
            table.add_row(*line)
        print_tables([table], output)
        return
    if format == "csv":
        text = result.to_csv()
    elif format == "json":
        text = result.to_json()
    elif format == "html":
        text = render_html(result, language)
    else:
        text = result.sentence(language)
    write_text(text, output)
