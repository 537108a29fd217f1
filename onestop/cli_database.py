"""``onestop migrate`` and ``onestop reorganise``: the database's schema brought up to date,
and open dossiers transferred to successor units after a reorganisation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from onestop import inputs
from onestop.cli_common import (
    DbOption,
    WorkflowsOption,
    db_url,
    default_workflows,
    definition_failure,
    err,
    existing_store,
    fail,
    out,
)
from onestop.defaults import DEFAULT_DB, definition_path
from onestop.errors import DefinitionError, OnestopError


def migrate(
    db: DbOption = DEFAULT_DB,
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


def reorganise(
    db: Annotated[str, typer.Option(help="Database URL or SQLite path.")],
    mapping: Annotated[
        Path, typer.Option(help="Mapping file, e.g. workflows/units/cantho-2025-mapping.yaml.")
    ],
    at: Annotated[str, typer.Option(help="When it takes effect (ISO, Asia/Ho_Chi_Minh).")],
    dry_run: Annotated[bool, typer.Option(help="Print the plan; write nothing.")] = False,
    workflows: WorkflowsOption = None,
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
        raise definition_failure(exc) from None
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
