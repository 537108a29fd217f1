"""The ``onestop`` command.

Every command prints one clear line and exits non-zero on bad input; ``--help`` shows examples.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from onestop import inputs
from onestop.cli_guard import GuardedGroup, require_schema
from onestop.defaults import (
    DEFAULT_DB,
    DEFAULT_SCENARIO,
    definition_path,
    scenario_path,
    workflows_dir,
)
from onestop.errors import (
    AnchorError,
    AuditKeyError,
    DefinitionError,
    OnestopError,
    SchemaOutOfDate,
    ValidationError,
)

if TYPE_CHECKING:
    from onestop.audit_key import AuditKey
    from onestop.sim.runner import Interrupted
    from onestop.store import Store

app = typer.Typer(
    help="onestop: one-stop-shop dossier workflow engine (Vietnam).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,
)


@app.callback()
def _logging() -> None:
    """Configure logging once for every command: the CLI is the only place that does."""
    configure_quiet()


catalog_app = typer.Typer(help="Inspect and validate definition files.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)

#: Exit code for bad input (arguments, definitions, commands refused).
EXIT_BAD_INPUT = 2


def default_workflows() -> Path:
    """The definitions that ship with onestop (``--workflows DIR`` overrides them)."""
    return workflows_dir()


def scenario_file(scenario: Path | str) -> Path:
    """A scenario path, or the name of a bundled scenario (``cantho-2024``).

    Raises:
        typer.Exit: If it is neither.
    """
    try:
        return scenario_path(scenario)
    except ValidationError as exc:
        raise fail(exc.reason) from None


def fail(message: str) -> typer.Exit:
    """Print one line on stderr and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _definition_failure(exc: DefinitionError) -> typer.Exit:
    for problem in exc.problems:
        err.print(f"[red]{problem}[/]", highlight=False, soft_wrap=True)
    return fail(f"{len(exc.problems)} problem(s) in the definitions")


def db_url(db: str) -> str:
    """Accept a SQLAlchemy URL or a plain path to a SQLite file."""
    return db if "://" in db else f"sqlite:///{db}"


def existing_store(db: str) -> Store:
    """The store of an existing onestop database at this version's schema.

    Raises:
        typer.Exit: If the file is missing, or the schema is missing, older or newer.
    """
    from onestop.store import Store

    if "://" not in db and not Path(db).exists():
        raise fail(f"--db: {db} does not exist")
    require_schema(db)  # read-only: a file that is not onestop's is never touched
    store = Store(db_url(db))
    try:
        store.require_current_schema()
    except SchemaOutOfDate as exc:
        raise fail(f"--db: {db}: {exc}") from None
    return store


@catalog_app.command("check")
def catalog_check(
    path: Annotated[
        Path | None,
        typer.Argument(help="Definitions directory or file (default: the bundled ones)."),
    ] = None,
) -> None:
    """Validate every definition file and print a summary.

    Example: onestop catalog check workflows/
    """
    from onestop.definitions import Definitions

    try:
        defs = Definitions.load(path or default_workflows())
    except DefinitionError as exc:
        raise _definition_failure(exc) from None
    for name, units in defs.unit_sets.items():
        table = Table(
            title=f"Unit set {name}" + (" (default)" if name == defs.default_unit_set else "")
        )
        table.add_column("level")
        table.add_column("units", justify="right")
        table.add_column("by kind")
        table.add_column("agencies", justify="right")
        agencies = Counter(units.unit(a.unit).level for a in units.all_agencies)
        for level in sorted(units.levels.values(), key=lambda lv: lv.rank):
            at = units.units_at(level.code)
            kinds = Counter(u.kind for u in at)
            table.add_row(
                level.code,
                str(len(at)),
                ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
                str(agencies[level.code]),
            )
        out.print(table)
    for name, catalog in defs.catalogs.items():
        procs = catalog.procedures()
        table = Table(title=f"Procedures of {name}: {len(procs)}")
        table.add_column("level")
        table.add_column("procedures", justify="right")
        table.add_column("location-independent", justify="right")
        table.add_column("online (full)", justify="right")
        table.add_column("postal", justify="right")
        table.add_column("inter-agency routes", justify="right")
        table.add_column("fields")
        for level in sorted(catalog.units.levels.values(), key=lambda lv: lv.rank):
            here = [p for p in procs if p.level == level.code]
            fields = Counter(p.field for p in here)
            table.add_row(
                level.code,
                str(len(here)),
                str(sum(p.location_independent for p in here)),
                str(sum(p.online == "full" for p in here)),
                str(sum(p.postal for p in here)),
                str(sum(p.route.inter_agency for p in here)),
                ", ".join(f"{f} {n}" for f, n in fields.most_common()),
            )
        out.print(table)
        chains = [p for p in procs if p.route.inter_agency]
        for p in chains:
            owners = " → ".join(f"{s.role or s.agency}({s.budget:g})" for s in p.route.steps)
            out.print(f"  liên thông [bold]{p.code}[/]: {owners}", highlight=False)
    for mapping in defs.mappings.values():
        out.print(
            f"Mapping {mapping.mapping}: {len(mapping.units)} units, "
            f"{mapping.from_unit_set} → {mapping.to_unit_set} from {mapping.effective}"
        )
    out.print("[green]all definitions valid[/]")


@catalog_app.command("diff")
def catalog_diff(
    at: Annotated[
        list[str],
        typer.Option("--at", help="A day (YYYY-MM-DD); give it twice: before, then after."),
    ],
    path: Annotated[
        Path | None,
        typer.Argument(help="Definitions directory or file (default: the bundled ones)."),
    ] = None,
    unit_set: Annotated[
        list[str] | None,
        typer.Option(
            "--unit-set",
            help="The unit set to read: once for both days, or twice (before, then after).",
        ),
    ] = None,
) -> None:
    """Show what changed in the catalog between two days (statutory time, fees, route, basis).

    Each day reads the unit set in force on it (the one with a catalog when several are, or
    --unit-set) and the procedure versions in force on it.

    Example: onestop catalog diff --at 2024-07-31 --at 2024-08-01
    """
    from onestop.catalog import diff
    from onestop.definitions import Definitions

    if len(at) != 2:
        raise fail(f"--at: give exactly two days, got {len(at)}")
    try:
        days = [date.fromisoformat(a) for a in at]
    except ValueError as exc:
        raise fail(f"--at: {exc}") from None
    try:
        defs = Definitions.load(path or default_workflows())
    except DefinitionError as exc:
        raise _definition_failure(exc) from None

    named = unit_set or []
    if len(named) > 2:
        raise fail(f"--unit-set: give it at most twice, got {len(named)}")
    for name in named:
        if name not in defs.unit_sets:
            raise fail(f"--unit-set: unknown unit set {name!r}")

    def set_on(day: date, index: int) -> str:
        if named:
            return named[min(index, len(named) - 1)]
        live = [n for n, u in defs.unit_sets.items() if u.spec.in_force(day)]
        if len(live) > 1 and defs.timeline:  # the manifest says which one serves the day
            live = [n for n in live if n in defs.timeline] or live
        if len(live) > 1:
            live = [n for n in live if n in defs.catalogs] or live
        if len(live) != 1:
            raise fail(
                f"{len(live)} unit sets are in force on {day} ({', '.join(live)}): "
                "name one with --unit-set"
            )
        return live[0]

    before, after = (set_on(d, i) for i, d in enumerate(days))
    if before != after:
        out.print(f"unit set: {before} → {after}", highlight=False)
    changes = diff(defs.catalog_for(before), days[0], days[1], defs.catalog_for(after))
    table = Table(title=f"Catalog changes {days[0]} → {days[1]}: {len(changes)}")
    for column in ("procedure", "field", days[0].isoformat(), days[1].isoformat()):
        table.add_column(column, overflow="fold")
    for change in changes:
        table.add_row(change.code, change.field, change.before, change.after)
    out.print(table)


def _level_table(report: object, title: str) -> Table:
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


def default_scenario() -> Path:
    """The bundled ``simulations/cantho-2024.yaml``."""
    return scenario_path(DEFAULT_SCENARIO)


@app.command()
def demo(
    db: Annotated[
        str, typer.Option(help="SQLite file to create (replaced if it is the default).")
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
    force: Annotated[bool, typer.Option(help="Replace an existing --db file.")] = False,
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

    configure_quiet()
    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise fail(f"--start: {start!r} is not a date like 2024-03-01") from None
    path = Path(db)
    if path.exists():
        if db != DEFAULT_DB and not force:
            raise fail(f"--db: {db} exists; pass --force to replace it")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        spec, named = load_scenario(
            scenario_file(scenario) if scenario else default_scenario(), days, scale
        )
        spec = spec.model_copy(update={"start": first, "drain": False, "seed": seed})
        sim = Simulation(spec, workflows or named, seed, url=db_url(db))
    except DefinitionError as exc:
        raise _definition_failure(exc) from None
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
                f"interrupted: {db} holds a partial run (run onestop demo again to replace it)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    alerts = AlertSweeper(sim.engine.store, sim.clock, sim.calendar).sweep()
    elapsed = time.perf_counter() - t0
    end = sim.clock.now()
    period = Period(first, end.date(), f"{first}..{end.date()}")
    report = on_time_report(sim.engine.store, period, ["level"], as_of=end)
    out.print(_level_table(report, f"On-time by level, {period.label_en}"))
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


@app.command()
def report(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
    by: Annotated[
        str,
        typer.Option(
            help="Comma-separated dimensions: level, unit, intake_unit, agency, field, "
            "procedure, channel, intake_mode, procedure_version, unit_set; across a reorganisation "
            "old_unit, new_unit, successor."
        ),
    ] = "level",
    period: Annotated[
        str | None,
        typer.Option(
            help="2024, 2024-Q1, 2024-03, 2024-03-05 or a..b (default: the year of the latest "
            "event in the database)."
        ),
    ] = None,
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
    workflows: Annotated[Path | None, typer.Option(help="Definitions directory.")] = None,
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

    from onestop.clock import local_date
    from onestop.periods import Period
    from onestop.reports import full_report
    from onestop.rollups import rollup_report
    from onestop.store import queries

    formats = ("table", "csv", "json", "text", "html")
    if source not in ("live", "rollups"):
        raise fail(f"--source: {source!r} is not live or rollups")
    if format not in formats:
        raise fail(f"--format: {format!r} is not one of {', '.join(formats)}")
    if lang not in ("vi", "en"):
        raise fail(f"--lang: {lang!r} is not vi or en")
    store = existing_store(db)
    try:
        if period is None:
            with store.read() as uow:
                latest = queries.latest_event_at(uow)
            year = local_date(latest).year if latest else date.today().year
            parsed = Period.parse(str(year))
            note = "dữ liệu mới nhất / latest data" if latest else "chưa có dữ liệu / no data yet"
            err.print(f"{parsed.label_vi} ({note}); --period to choose another", highlight=False)
        else:
            parsed = Period.parse(period)
        dims = [b.strip() for b in by.split(",") if b.strip()]
        successors = _successors(mapping, workflows) if "successor" in dims else None
        if source == "rollups":
            result = rollup_report(store, parsed, dims)
        else:
            result = full_report(store, parsed, dims, successors=successors)
    except OnestopError as exc:
        raise fail(str(exc)) from None
    if format == "table":
        tables = [_level_table(result, f"On-time report {parsed.label_en}"), *_extra_tables(result)]
        if output:
            with output.open("w", encoding="utf-8") as fh:
                Console(file=fh, width=200).print(*tables)
        else:
            out.print(*tables)
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
    if output:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


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
            from onestop.clock import local_date
            from onestop.store import queries

            with store.read() as uow:
                latest = queries.latest_event_at(uow)
            period = str(local_date(latest).year if latest else date.today().year)
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
        if output:
            with output.open("w", encoding="utf-8") as fh:
                Console(file=fh, width=200).print(table)
        else:
            out.print(table)
        return
    if format == "csv":
        text = result.to_csv()
    elif format == "json":
        text = result.to_json()
    elif format == "html":
        text = render_html(result, language)
    else:
        text = result.sentence(language)
    if output:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


survey_app = typer.Typer(help="The city's own satisfaction survey forms.", no_args_is_help=True)
app.add_typer(survey_app, name="survey")


@survey_app.command("import")
def survey_import(
    file: Annotated[
        Path, typer.Argument(help="CSV: form_id,answered_on,unit,score,channel,comment")
    ],
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = "onestop.db",
    workflows: Annotated[Path | None, typer.Option(help="Definitions directory.")] = None,
) -> None:
    """Import survey forms; one bad row refuses the file (line numbers), nothing imported.

    Example:
      onestop survey import forms-2024.csv --db onestop.db
    """
    from onestop.satisfaction import import_survey

    engine = _open_engine(db, workflows)
    try:
        n = import_survey(engine, file)
    except OnestopError as exc:
        raise fail(str(exc)) from None
    err.print(f"imported {n} forms from {file}")


def _open_engine(
    db: str, workflows: Path | None, now: str | None = None, init: bool = False
) -> Any:
    """Open the engine on an existing onestop database (migrating it; ``init``: creating its
    tables if it has none), with a fixed or system clock."""
    from onestop.clock import VN_TZ, ManualClock, SystemClock
    from onestop.engine import Engine

    if "://" not in db and not Path(db).exists():
        raise fail(f"--db: {db} does not exist")
    clock: Any = SystemClock()
    if now is not None:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError:
            raise fail(f"--now: {now!r} is not an ISO datetime like 2024-03-05T09:00") from None
        moment = inputs.moment(moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ), "--now")
        clock = ManualClock(moment)
    if not init:
        require_schema(db)
    try:
        return Engine.open(db_url(db), workflows or default_workflows(), clock=clock)
    except DefinitionError as exc:
        raise _definition_failure(exc) from None
    except OnestopError as exc:
        raise fail(str(exc)) from None


@app.command()
def alerts(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
    now: Annotated[
        str | None, typer.Option(help="Sweep time (ISO; default now, Asia/Ho_Chi_Minh).")
    ] = None,
    workflows: Annotated[Path | None, typer.Option(help="Definitions directory.")] = None,
    init: Annotated[bool, typer.Option(help="Create onestop's tables if --db has none.")] = False,
) -> None:
    """Run one alert sweep and print the new due-soon and overdue alerts.

    Example: onestop alerts --db onestop-demo.db --now 2024-04-01T09:00
    """
    from onestop.alerts import AlertSweeper

    engine = _open_engine(db, workflows, now, init)
    found = AlertSweeper(engine.store, engine.clock, engine.calendar).sweep()
    table = Table(title=f"New alerts at {engine.clock.now():%Y-%m-%d %H:%M}: {len(found)}")
    for col in ("dossier", "scope", "kind", "agency", "unit", "procedure", "due"):
        table.add_column(col)
    for a in found:
        table.add_row(
            str(a.dossier_id),
            a.scope,
            a.kind,
            a.agency or "",
            a.unit,
            a.procedure_code,
            f"{a.due_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)


scheduler_app = typer.Typer(help="The periodic jobs (alert sweeps, rollups, reports).")
app.add_typer(scheduler_app, name="scheduler")


@scheduler_app.command("run")
def scheduler_run(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
    workflows: Annotated[Path | None, typer.Option(help="Definitions directory.")] = None,
    sweep_minutes: Annotated[float, typer.Option(min=0.01, help="Minutes between sweeps.")] = 15,
    reports_dir: Annotated[Path, typer.Option(help="Where report files go.")] = Path("reports"),
    webhook: Annotated[str | None, typer.Option(help="POST alerts to this URL.")] = None,
    anchor_file: Annotated[
        Path | None, typer.Option(help="Append the nightly anchors to this file too.")
    ] = None,
    dev: Annotated[bool, typer.Option(help="Allow unsealed anchors without an audit key.")] = False,
    init: Annotated[bool, typer.Option(help="Create onestop's tables if --db has none.")] = False,
    sync_endpoint: Annotated[
        str | None, typer.Option(help="Deliver the outbox to this portal endpoint (job sync).")
    ] = None,
    lease_seconds: Annotated[
        float,
        typer.Option(
            min=1,
            max=86400,
            help="Lease length: renewed every third of it; a standby takes over between 2/3 "
            "and 4/3 of it after the active instance dies.",
        ),
    ] = 60,
    once: Annotated[
        bool,
        typer.Option(
            help="Run every job now (the sweep even outside office hours), print the results "
            "and exit."
        ),
    ] = False,
) -> None:
    """Run the scheduler in the foreground until SIGINT/SIGTERM. One instance is active per
    database; a second one waits and takes over when the first stops, or when its lease
    lapses after it died (between 2/3 and 4/3 of --lease-seconds after the death). Sweeps
    run in office hours; when they pause, one log line says until when. The nightly anchors
    are sealed with the audit key (ONESTOP_AUDIT_KEY or ONESTOP_AUDIT_KEY_FILE).

    Examples:
      onestop scheduler run --db postgresql+psycopg://onestop@127.0.0.1/onestop
      onestop scheduler run --once --dev
    """
    import signal

    from onestop.alerts import LogNotifier, Notifier, WebhookNotifier
    from onestop.log import configure
    from onestop.scheduler import Schedule, SchedulerService

    key = _audit_key(dev)
    configure()
    engine = _open_engine(db, workflows, init=init)
    notifiers: list[Notifier] = [LogNotifier()]
    if webhook:
        try:
            notifiers.append(WebhookNotifier(webhook))
        except ValueError as exc:
            raise fail(f"--webhook: {exc}") from None
    dispatcher = None
    if sync_endpoint:
        from onestop.sync import Dispatcher, HttpTransport

        try:
            dispatcher = Dispatcher(engine.store, HttpTransport(sync_endpoint), engine.clock)
        except ValueError as exc:
            raise fail(f"--sync-endpoint: {exc}") from None
    service = SchedulerService(
        engine.store,
        engine.clock,
        engine.calendar,
        notifiers,
        reports_dir,
        Schedule(sweep_seconds=sweep_minutes * 60),
        audit_key=key,
        anchor_file=anchor_file,
        dispatcher=dispatcher,
        lease_ttl=lease_seconds,
    )
    if once:
        import json

        try:
            results = service.run_once()
        except OnestopError as exc:
            raise fail(str(exc)) from None
        for job, result in results.items():
            if result is None:
                out.print(f"{job}: failed (see job_runs.error)", highlight=False)
                continue
            shown = {  # a long list (the days anchored) as its first and last items
                k: f"{v[0]} .. {v[-1]} ({len(v)})" if isinstance(v, list) and len(v) > 4 else v
                for k, v in result.items()
            }
            out.print(f"{job}: {json.dumps(shown)}", highlight=False, soft_wrap=True)
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    err.print(f"scheduler {service.id} waiting for the lease on {db} (Ctrl-C to stop)")
    service.run_forever()
    err.print("scheduler stopped")


@app.command()
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

    configure_quiet()
    interrupted: Interrupted | None = None
    scenario = scenario_file(scenario)
    try:
        Scenario.load(scenario)
    except DefinitionError as exc:
        raise _definition_failure(exc) from None
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
            raise _definition_failure(exc) from None
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
    late = summary["late_share"]
    waits = summary["dossier_waits"]
    out.print(
        f"late share {late['rate'] * 100:.2f} % (95 % {late['low'] * 100:.2f}–"
        f"{late['high'] * 100:.2f} %); fields by late share: "
        + ", ".join(
            f"{f} {d['late']['rate'] * 100:.2f} %"
            for f, d in sorted(summary["fields"].items(), key=lambda kv: -kv[1]["late"]["rate"])
            if d["late"]["successes"]
        ),
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


#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


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


def _audit_key(dev: bool) -> AuditKey | None:
    """The audit key from the environment; ``None`` only when ``dev`` allows unsealed anchors.

    Raises:
        typer.Exit: If there is no key (and not ``dev``) or it is malformed.
    """
    from onestop.audit_key import load_audit_key, require_audit_key

    try:
        return load_audit_key() if dev else require_audit_key()
    except AuditKeyError as exc:
        raise fail(f"{exc} (or pass --dev for unsealed development anchors)") from None


@app.command()
def verify(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
    anchors: Annotated[
        Path | None, typer.Option(help="The external anchor file to check the database against.")
    ] = None,
) -> None:
    """Check the tamper-evident event log and everything derived from it: every dossier's hash
    chain and event order, every row against the replay of its events, idempotency results,
    completed days' rollups, and the daily anchors (their chain, no day missing, their seals
    with the audit key from ONESTOP_AUDIT_KEY / ONESTOP_AUDIT_KEY_FILE, and every line of the
    external anchor file). Never writes. Exits 1 and names what it found.

    Example: onestop verify --db onestop-demo.db --anchors anchors.jsonl
    """
    from onestop.audit import audit
    from onestop.audit_key import load_audit_key

    store = existing_store(db)
    try:
        key = load_audit_key()
        report = audit(store, key, anchors)
    except (AuditKeyError, ValidationError) as exc:
        raise fail(str(exc)) from None
    for note in report.notes:
        err.print(f"note: {note}", highlight=False)
    if report.findings:
        for finding in report.findings:
            err.print(f"[red]{finding}[/]", highlight=False)
        err.print(f"[bold red]{len(report.findings)} problem(s) found[/]")
        raise typer.Exit(1)
    out.print("[green]event log intact[/]: every chain, row, result, rollup and anchor checks out")


@app.command()
def anchor(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
    through: Annotated[
        str | None, typer.Option(help="Last day to anchor, YYYY-MM-DD (default: yesterday).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="Also append the anchors to this file (copy it away).")
    ] = None,
    dev: Annotated[bool, typer.Option(help="Allow unsealed anchors without an audit key.")] = False,
) -> None:
    """Anchor every past day not anchored yet, sealed with the audit key (ONESTOP_AUDIT_KEY or
    ONESTOP_AUDIT_KEY_FILE), in the database and in the external anchor file. An anchored
    day is never rewritten: naming one again is an error.

    Example: onestop anchor --db onestop-demo.db --file /mnt/offsite/anchors.jsonl
    """
    from onestop.anchors import anchor_through
    from onestop.clock import SystemClock, local_date

    store = existing_store(db)
    now = SystemClock().now()
    try:
        day = date.fromisoformat(through) if through else local_date(now) - timedelta(days=1)
        inputs.day(day, "--through")
    except ValueError:
        raise fail(f"--through: {through!r} is not a date (YYYY-MM-DD) onestop handles") from None
    key = _audit_key(dev)
    try:
        new = anchor_through(store, day, now, key, file=file)
    except (AnchorError, ValidationError) as exc:
        raise fail(str(exc)) from None
    if not new:
        out.print("nothing to anchor: the database has no events")
        return
    sealed = "unsealed (development)" if key is None else f"sealed with key {key.key_id}"
    out.print(f"anchored {new[0].day} to {new[-1].day} ({len(new)} day(s)), {sealed}")


@app.command()
def migrate(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
) -> None:
    """Bring a database's schema up to this version of onestop (creating it on an empty one).
    Back the database up first: migrations are not undone automatically.

    Example: onestop migrate --db onestop-demo.db
    """
    from onestop.store import Store

    if "://" not in db and not Path(db).exists():
        raise fail(f"--db: {db} does not exist")
    store = Store(db_url(db))
    before, head = store.revisions()
    if before is not None and before > head:
        raise fail(f"--db: {db}: schema {before} is newer than this onestop's {head}")
    store.migrate()
    out.print(
        f"schema {before or 'none'} → {head}" if before != head else f"schema {head}: up to date"
    )


@app.command()
def keygen(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the new key.")],
) -> None:
    """Create an audit key file (64 hex digits, readable by its owner only). Keep it away from
    the database and its backups; point ONESTOP_AUDIT_KEY_FILE at it.

    Example: onestop keygen --out /etc/onestop/audit.key
    """
    from onestop.audit_key import AuditKey

    key = AuditKey.generate()
    try:
        fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise fail(f"--out: {out_file} exists; a key is never overwritten") from None
    except OSError as exc:
        raise fail(f"--out: {out_file}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key.to_text() + "\n")
    out.print(f"wrote audit key {key.key_id} to {out_file}")


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


@app.command()
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

    configure_quiet()
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
        raise _definition_failure(exc) from None

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


def configure_quiet() -> None:
    """Warnings only: a long command's progress bar is not drowned by logs."""
    from onestop.log import configure

    configure(level="WARNING")


def main() -> None:
    """Entry point of the ``onestop`` console script."""
    app()


@app.command()
def scorecard(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
    by: Annotated[str, typer.Option(help="unit (competent unit) or level.")] = "unit",
    period: Annotated[
        str | None,
        typer.Option(
            help="2024, 2024-Q1, 2024-03, 2024-03-05 or a..b (default: the year of the latest "
            "event in the database)."
        ),
    ] = None,
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
    from onestop.clock import local_date
    from onestop.definitions import Definitions
    from onestop.periods import Period
    from onestop.scorecard import BY
    from onestop.scorecard import scorecard as compute
    from onestop.store import queries

    if format not in ("table", "json", "html"):
        raise fail(f"--format: {format!r} is not one of table, json, html")
    if by not in BY:
        raise fail(f"--by: {by!r} is not one of {', '.join(BY)}")
    store = existing_store(db)
    try:
        calendar = Calendar.vietnam(
            overrides=Definitions.load(workflows or default_workflows()).overrides
        )
        if period is None:
            with store.read() as uow:
                latest = queries.latest_event_at(uow)
            parsed = Period.parse(str(local_date(latest).year if latest else date.today().year))
            note = "dữ liệu mới nhất / latest data" if latest else "chưa có dữ liệu / no data yet"
            err.print(f"{parsed.label_vi} ({note}); --period to choose another", highlight=False)
        else:
            parsed = Period.parse(period)
        card = compute(store, parsed, by, calendar)
    except DefinitionError as exc:
        raise _definition_failure(exc) from None
    except OnestopError as exc:
        raise fail(str(exc)) from None
    if format == "table":
        tables = _scorecard_tables(card)
        if output:
            with output.open("w", encoding="utf-8") as fh:
                Console(file=fh, width=200).print(*tables)
        else:
            out.print(*tables)
        return
    if format == "json":
        text = card.to_json()
    else:
        from onestop.scorecard_html import render_scorecard_html

        text = render_scorecard_html(card)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text + "\n")


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


sync_app = typer.Typer(
    help="Synchronisation with the national public-service portal (the outbox).",
    no_args_is_help=True,
)
app.add_typer(sync_app, name="sync")


@sync_app.command("run")
def sync_run(
    endpoint: Annotated[str, typer.Option(help="The portal's HTTP(S) endpoint (POST).")],
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
    once: Annotated[
        bool, typer.Option(help="Deliver what is due now, then exit (else keep polling).")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, help="Messages claimed per round.")] = 200,
    timeout: Annotated[float, typer.Option(min=0.01, help="Seconds to wait per attempt.")] = 10,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="Attempts before a message is a dead letter.")
    ] = 12,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between polls.")] = 1.0,
    header: Annotated[
        list[str] | None,
        typer.Option(help="Extra request header 'Name: value' (repeatable), e.g. a token."),
    ] = None,
) -> None:
    """Deliver the outbox's messages to the portal: at least once, in order per dossier, with
    an Idempotency-Key header; failed attempts back off exponentially (with jitter) and become
    dead letters after --max-attempts. Several dispatchers may run on one database.

    Example: onestop sync run --db onestop-demo.db --endpoint https://portal.example/api/status
    """
    import signal
    import threading

    from onestop.clock import SystemClock
    from onestop.sync import Dispatcher, HttpTransport, RetryPolicy

    headers = {}
    for item in header or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise fail("--header: expected 'Name: value' (not shown: it may be secret)")
        headers[name.strip()] = value.strip()
    try:
        transport = HttpTransport(endpoint, timeout=timeout, headers=headers)
    except ValueError as exc:
        raise fail(f"--endpoint: {exc}") from None
    store = existing_store(db)
    dispatcher = Dispatcher(
        store,
        transport,
        SystemClock(),
        policy=RetryPolicy(max_attempts=max_attempts),
        batch=batch,
        timeout=timeout,
        claim_ttl=max(120.0, 4 * timeout),
    )
    if once:
        totals = dispatcher.drain()
        transport.close()
    else:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        err.print(f"dispatcher {dispatcher.holder} delivering to {endpoint} (Ctrl-C to stop)")
        totals = dispatcher.run_forever(stop, poll)
    out.print(
        f"delivered {totals.delivered:,}, failed attempts {totals.failed:,}, "
        f"dead letters {totals.dead:,} ({totals.rounds:,} rounds)",
        highlight=False,
    )


@sync_app.command("status")
def sync_status(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the outbox: backlog, age of the oldest undelivered message, dead letters.

    Example: onestop sync status --db onestop-demo.db --json
    """
    import json

    from onestop.clock import SystemClock
    from onestop.store.outbox import backlog

    now = SystemClock().now()
    state = backlog(existing_store(db), now)
    age = None
    if state.oldest_pending_at is not None:
        age = round((now - state.oldest_pending_at).total_seconds(), 3)
    data = {
        "pending": state.pending,
        "claimed": state.claimed,
        "dead": state.dead,
        "delivered": state.delivered,
        "oldest_undelivered_at": (
            None if state.oldest_pending_at is None else state.oldest_pending_at.isoformat()
        ),
        "oldest_undelivered_age_seconds": age,
        "dead_letters": state.dead_letters,
    }
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title="Outbox (national portal synchronisation)")
    table.add_column("backlog", justify="right")
    table.add_column("being sent", justify="right")
    table.add_column("oldest undelivered", justify="right")
    table.add_column("dead letters", justify="right")
    table.add_column("delivered", justify="right")
    table.add_row(
        f"{state.pending:,}",
        f"{state.claimed:,}",
        "–" if age is None else str(timedelta(seconds=int(age))),
        f"{state.dead:,}",
        f"{state.delivered:,}",
    )
    out.print(table)
    if state.dead_letters:
        letters = Table(title="Dead letters (onestop sync retry requeues them)")
        for col in ("id", "key", "attempts", "last error"):
            letters.add_column(col)
        for letter in state.dead_letters:
            letters.add_row(
                str(letter["id"]), letter["key"], str(letter["attempts"]), letter["last_error"]
            )
        out.print(letters)


@sync_app.command("retry")
def sync_retry(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = DEFAULT_DB,
    id: Annotated[
        list[int] | None, typer.Option("--id", help="Only this dead letter (repeatable).")
    ] = None,
) -> None:
    """Requeue dead letters (all, or those given with --id) with fresh attempts.

    Example: onestop sync retry --db onestop-demo.db
    """
    from onestop.store.outbox import requeue_dead

    count = requeue_dead(existing_store(db), id or None)
    out.print(f"requeued {count:,} dead letter(s)", highlight=False)


@app.command()
def reorganise(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")],
    mapping: Annotated[
        Path, typer.Option(help="Mapping file, e.g. workflows/units/cantho-2025-mapping.yaml.")
    ],
    at: Annotated[str, typer.Option(help="When it takes effect (ISO, Asia/Ho_Chi_Minh).")],
    dry_run: Annotated[bool, typer.Option(help="Print the plan; write nothing.")] = False,
    workflows: Annotated[Path | None, typer.Option(help="Definitions directory.")] = None,
) -> None:
    """Transfer the open dossiers of abolished or merged units to their successors (one
    'transferred' event each, appointments kept); --dry-run prints the plan only.

    Example: onestop reorganise --db onestop-demo.db
    --mapping workflows/units/cantho-2025-mapping.yaml --at 2025-07-01T00:00 --dry-run
    """
    from onestop.clock import VN_TZ
    from onestop.definitions import Definitions
    from onestop.engine import Engine
    from onestop.transfers import load_mapping, read_mapping

    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise fail(f"--at: {at!r} is not an ISO instant like 2025-07-01T00:00") from None
    mapping = definition_path(mapping)
    try:
        read_mapping(mapping)  # a missing or malformed file is refused before anything is read
    except DefinitionError as exc:
        raise fail(f"--mapping: {exc.problems[0]}") from None
    try:
        moment = inputs.moment(moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ), "--at")
        defs = Definitions.load(workflows or default_workflows())
    except DefinitionError as exc:
        raise _definition_failure(exc) from None
    except OnestopError as exc:
        raise fail(str(exc)) from None
    try:
        mp = load_mapping(mapping, defs)
    except DefinitionError as exc:
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        raise fail(f"--mapping: {exc.problems[0]}{more}") from None
    existing_store(db).dispose()  # the file exists and is onestop's, at this schema
    try:
        engine = Engine.open(
            db_url(db), workflows or default_workflows(), migrate=not dry_run,
            serve=(mp.from_unit_set, mp.to_unit_set),
        )  # fmt: skip
    except OnestopError as exc:
        raise fail(str(exc)) from None
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        disable=dry_run,
    ) as progress:
        task = progress.add_task(f"transfer ({mp.mapping})", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            outcome = engine.reorganise(mp, moment, dry_run=dry_run, progress=advance)
        except OnestopError as exc:
            raise fail(str(exc)) from None
        finally:
            engine.store.dispose()
    for line in outcome.plan.lines():
        out.print(line, highlight=False, soft_wrap=True)
    if dry_run:
        out.print("dry run: nothing written", highlight=False)
    else:
        skipped = f", {len(outcome.skipped)} changed meanwhile (left)" if outcome.skipped else ""
        out.print(f"transferred {outcome.written} dossier(s){skipped}", highlight=False)


@app.command("init")
def init_definitions(
    directory: Annotated[Path, typer.Argument(help="Where to copy the definitions.")],
    force: Annotated[
        bool, typer.Option(help="Write into a non-empty directory (same names replaced).")
    ] = False,
) -> None:
    """Copy the bundled definitions (workflows/ and simulations/) into DIR for a city to edit;
    then point --workflows (or a scenario) at the copies.

    Example: onestop init mycity && onestop catalog check mycity/workflows
    """
    from onestop.defaults import copy_definitions

    try:
        written = copy_definitions(directory, force=force)
    except ValidationError as exc:
        raise fail(exc.reason) from None
    out.print(
        f"copied {len(written)} definition files to {directory}/workflows and "
        f"{directory}/simulations. Next: onestop catalog check {directory}/workflows; "
        f"onestop demo --scenario {directory}/simulations/{DEFAULT_SCENARIO}.yaml",
        highlight=False,
        soft_wrap=True,
    )


@catalog_app.command("list")
def catalog_list(
    kind: Annotated[str, typer.Argument(help="procedures, units or agencies.")] = "procedures",
    level: Annotated[
        str | None, typer.Option(help="Only this level (city, district, commune).")
    ] = None,
    unit: Annotated[
        str | None,
        typer.Option(
            help="Procedures decided at this unit's level; the unit and those under it; "
            "its agencies."
        ),
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="Words to find, with or without diacritics.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    workflows: Annotated[
        Path | None, typer.Option(help="Definitions directory (default: the bundled ones).")
    ] = None,
    unit_set: Annotated[
        str | None,
        typer.Option(help="Unit set and its catalog (default: the one in force on --on)."),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            help="List the catalog that receives dossiers on this day, YYYY-MM-DD, per the "
            "definitions' timeline (default: today)."
        ),
    ] = None,
) -> None:
    """List procedure, unit or agency codes: the codes Engine.receive(procedure, unit) takes,
    from the catalog in force today (or on --on) unless --unit-set names one.

    Examples:
      onestop catalog list procedures --search "ho kinh doanh"
      onestop catalog list units --level district --on 2025-06-30
      onestop catalog list agencies --unit 92.NK --json --unit-set cantho-2024
    """
    import json
    from dataclasses import asdict

    from onestop.catalog_search import KINDS
    from onestop.clock import SystemClock, local_date
    from onestop.definitions import Definitions
    from onestop.timeline import Timeline

    if kind not in KINDS:
        raise fail(f"{kind!r} is not one of {', '.join(KINDS)}")
    if on is not None and unit_set is not None:
        raise fail("--on: give --on (the catalog in force that day) or --unit-set, not both")
    try:
        day = date.fromisoformat(on) if on is not None else local_date(SystemClock().now())
    except ValueError:
        raise fail(f"--on: {on!r} is not a date (YYYY-MM-DD)") from None
    try:
        inputs.day(day, "on")
        defs = Definitions.load(workflows or default_workflows())
        if unit_set is not None and unit_set not in defs.catalogs:
            raise fail(f"--unit-set: no catalog for {unit_set!r} ({', '.join(defs.catalogs)})")
        catalog = defs.catalog_for(unit_set) if unit_set else Timeline.of(defs).catalog_at(day)
        found = catalog.search(kind, text=search, level=level, unit=unit)
    except DefinitionError as exc:
        raise _definition_failure(exc) from None
    except ValidationError as exc:
        raise fail(f"--{exc.field}: {exc.reason}" if exc.field != "kind" else exc.reason) from None
    except OnestopError as exc:
        raise fail(f"--unit: {exc}") from None
    chosen = catalog.units.name + ("" if unit_set else f" (in force on {day.isoformat()})")
    if as_json:
        err.print(f"catalog: {chosen}", highlight=False)  # stdout stays JSON
        sys.stdout.write(json.dumps([asdict(f) for f in found], ensure_ascii=False, indent=2))
        sys.stdout.write("\n")
        return
    what = f" matching {search!r}" if search else ""
    table = Table(title=f"{len(found)} {kind} of {chosen}{what}")
    columns = {
        "procedures": ("code", "name", "name (en)", "level", "field, time limit"),
        "units": ("code", "name", "level", "parent", "kind"),
        "agencies": ("code", "name", "level", "unit", "role"),
    }[kind]
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column == "code")
    for f in found:
        if kind == "procedures":
            table.add_row(f.code, f.name, f.name_en, f.level, f.detail)
        else:
            table.add_row(f.code, f.name, f.level, f.unit, f.detail)
    out.print(table)


@app.command()
def export(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = "onestop.db",
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


# -- the staff directory and the personal-data vault's key (issue 13) ---------------------------

directory_app = typer.Typer(
    help="The staff directory access is decided from (not `onestop staff`, the staffing "
    "solver). Once a directory is loaded, every engine opened on the database enforces it.",
    no_args_is_help=True,
)
app.add_typer(directory_app, name="staff-directory")


def _instant_option(text: str | None, option: str) -> datetime:
    """An ISO date (its midnight in Vietnam) or aware datetime; default now."""
    from onestop.clock import SystemClock
    from onestop.directory import Officer

    if text is None:
        return SystemClock().now()
    try:
        probe = Officer.model_validate(
            {"user_id": "x", "name": "x", "agency": "x", "roles": ["desk"], "valid_from": text}
        )
    except Exception:  # noqa: BLE001 - pydantic's error, reported as one line
        raise fail(f"{option}: {text!r} is not a date or a datetime with its zone") from None
    return probe.valid_from


def _units(workflows: Path | None, unit_set: str | None) -> Any:
    from onestop.definitions import Definitions

    try:
        return Definitions.load(workflows or default_workflows(), unit_set).catalog.units
    except DefinitionError as exc:
        raise _definition_failure(exc) from None


@directory_app.command("load")
def directory_load(
    file: Annotated[Path, typer.Argument(help="The directory YAML file (officers: [...]).")],
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = "onestop.db",
    workflows: Annotated[Path | None, typer.Option(help="Definitions directory.")] = None,
    unit_set: Annotated[str | None, typer.Option(help="Unit set officers belong to.")] = None,
) -> None:
    """Replace the directory with FILE's officers (every period, past ones included), checked
    against the unit set's agencies; nothing changes if any line is wrong.

    Example: onestop staff-directory load workflows/staff.yaml --db onestop.db
    """
    from onestop.directory import StaffDirectory
    from onestop.store.officers import load_directory

    units = _units(workflows, unit_set)
    try:
        directory = StaffDirectory.load(file, units)
    except DefinitionError as exc:
        raise _definition_failure(exc) from None
    store = existing_store(db)
    with store.begin() as conn:
        count = load_directory(conn, directory)
    out.print(f"loaded {count} officer period(s) from {file}; the directory is now enforced")


@directory_app.command("list")
def directory_list(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = "onestop.db",
    at: Annotated[
        str | None, typer.Option(help="Only periods holding then (date or datetime).")
    ] = None,
) -> None:
    """List the directory's officer periods.

    Example: onestop staff-directory list --db onestop.db --at 2025-07-01
    """
    from onestop.store.officers import list_officers

    store = existing_store(db)
    when = None if at is None else _instant_option(at, "--at")
    with store.begin() as conn:
        officers = list_officers(conn, when)
    table = Table(title="Staff directory")
    for col in ("user", "name", "agency", "roles", "from", "to"):
        table.add_column(col)
    for o in officers:
        to = "" if o.valid_to is None else o.valid_to.isoformat()
        table.add_row(
            o.user_id, o.name, o.agency, " ".join(sorted(o.roles)), o.valid_from.isoformat(), to
        )
    out.print(table)


@directory_app.command("add")
def directory_add(
    user: Annotated[str, typer.Argument(help="The officer's user id.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    agency: Annotated[str, typer.Option(help="Agency code.")],
    roles: Annotated[str, typer.Option(help="Comma-separated: desk,specialist,leader,...")],
    valid_from: Annotated[str | None, typer.Option("--from", help="Start (default now).")] = None,
    valid_to: Annotated[str | None, typer.Option("--to", help="First instant after.")] = None,
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = "onestop.db",
    workflows: Annotated[Path | None, typer.Option(help="Definitions directory.")] = None,
    unit_set: Annotated[str | None, typer.Option(help="Unit set of the agency.")] = None,
) -> None:
    """Add one period of an officer (it may not overlap another of theirs).

    Example: onestop staff-directory add lan.nt --name "Nguyễn Thị Lan" --agency 92.DESK
    --roles desk --from 2025-07-01
    """
    from onestop.directory import StaffDirectory
    from onestop.store.officers import add_officer

    units = _units(workflows, unit_set)
    start = _instant_option(valid_from, "--from")
    period: dict[str, Any] = {
        "user_id": user, "name": name, "agency": agency,
        "roles": [r.strip() for r in roles.split(",") if r.strip()],
        "valid_from": start.isoformat(),
    }  # fmt: skip
    if valid_to is not None:
        period["valid_to"] = _instant_option(valid_to, "--to").isoformat()
    try:
        [officer] = StaffDirectory.from_data({"officers": [period]}, units, "<arguments>").officers
    except DefinitionError as exc:
        raise _definition_failure(exc) from None
    store = existing_store(db)
    try:
        with store.begin() as conn:
            add_officer(conn, officer)
    except ValidationError as exc:
        raise fail(str(exc)) from None
    out.print(f"added {user} ({' '.join(sorted(officer.roles))} at {agency}) from {start}")


@directory_app.command("end")
def directory_end(
    user: Annotated[str, typer.Argument(help="The officer's user id.")],
    at: Annotated[str | None, typer.Option(help="From when they are not staff (default now).")] = (
        None
    ),
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")] = "onestop.db",
) -> None:
    """End an officer's current period: from then on the directory refuses them staff powers.

    Example: onestop staff-directory end lan.nt --db onestop.db
    """
    from onestop.store.officers import end_officer

    when = _instant_option(at, "--at")
    store = existing_store(db)
    try:
        with store.begin() as conn:
            end_officer(conn, user, when)
    except ValidationError as exc:
        raise fail(str(exc)) from None
    out.print(f"{user} is no longer staff from {when.isoformat()}")


@app.command("vault-keygen")
def vault_keygen(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the new key.")],
) -> None:
    """Create a personal-data vault key file (64 hex digits, readable by its owner only). Keep
    it away from the database and its backups; point ONESTOP_VAULT_KEY_FILE at it. Losing it
    loses every applicant's data.

    Example: onestop vault-keygen --out /etc/onestop/vault.key
    """
    from onestop.vault import VaultKey

    key = VaultKey.generate()
    try:
        fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise fail(f"--out: {out_file} exists; a key is never overwritten") from None
    except OSError as exc:
        raise fail(f"--out: {out_file}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key.to_text() + "\n")
    out.print(f"wrote vault key {key.key_id} to {out_file}")
