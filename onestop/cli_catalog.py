"""``onestop catalog check|diff|list`` and ``onestop init``: the definitions (units, the
procedure catalog, mappings) as files a city reads, checks and copies."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from onestop.cli_common import default_workflows, definition_failure, err, fail, out
from onestop.defaults import DEFAULT_SCENARIO
from onestop.errors import DefinitionError, OnestopError, ValidationError

catalog_app = typer.Typer(help="Inspect and validate definition files.", no_args_is_help=True)


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
        raise definition_failure(exc) from None
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
        raise definition_failure(exc) from None

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

    from onestop import inputs
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
        raise definition_failure(exc) from None
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
