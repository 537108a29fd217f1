"""What every ``onestop`` command module shares: the consoles, the one-line failure, the
common options, and opening a database, an engine or the definitions.

The commands live in ``onestop.cli_<group>`` modules; :mod:`onestop.cli` assembles them into
the one Typer app. Failures the commands do not catch end in :mod:`onestop.cli_guard`.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from onestop import inputs
from onestop.cli_guard import require_schema
from onestop.defaults import DEFAULT_SCENARIO, scenario_path, workflows_dir
from onestop.errors import (
    AuditKeyError,
    DefinitionError,
    OnestopError,
    SchemaOutOfDate,
    ValidationError,
)

if TYPE_CHECKING:
    from onestop.audit_key import AuditKey
    from onestop.periods import Period
    from onestop.store import Store

out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)

#: Exit code for bad input (arguments, definitions, commands refused).
EXIT_BAD_INPUT = 2
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

#: ``--db`` of the commands on an existing database.
DbOption = Annotated[str, typer.Option(help="Database URL or SQLite path.")]
#: ``--workflows`` of the commands that read the definitions.
WorkflowsOption = Annotated[Path | None, typer.Option(help="Definitions directory.")]
#: ``--period`` of the reports.
PeriodOption = Annotated[
    str | None,
    typer.Option(
        help="2024, 2024-Q1, 2024-03, 2024-03-05 or a..b (default: the year of the latest "
        "event in the database)."
    ),
]


def default_workflows() -> Path:
    """The definitions that ship with onestop (``--workflows DIR`` overrides them)."""
    return workflows_dir()


def default_scenario() -> Path:
    """The bundled ``simulations/cantho-2024.yaml``."""
    return scenario_path(DEFAULT_SCENARIO)


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


def definition_failure(exc: DefinitionError) -> typer.Exit:
    """Print every problem of invalid definitions, then one summary line; return the exit."""
    for problem in exc.problems:
        err.print(f"[red]{problem}[/]", highlight=False, soft_wrap=True)
    return fail(f"{len(exc.problems)} problem(s) in the definitions")


def configure_quiet(level: str = "WARNING") -> None:
    """Logs at ``level`` and above only: a long command's progress bar is not drowned by logs."""
    from onestop.log import configure

    configure(level=level)


def db_url(db: str) -> str:
    """Accept a SQLAlchemy URL or a plain path to a SQLite file.

    Raises:
        typer.Exit: If the URL's scheme names no database SQLAlchemy can open (``postgres://``,
            as libpq spells it, gets a hint: SQLAlchemy wants ``postgresql+psycopg://``).
    """
    if "://" not in db:
        return f"sqlite:///{db}"
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    scheme = db.split("://", 1)[0]
    try:
        make_url(db).get_dialect()
    except ArgumentError:
        # Only the scheme is echoed: the rest of the URL may hold a password.
        hint = (
            "; for PostgreSQL write postgresql+psycopg://user@host:port/database"
            if scheme.lower().startswith("postgres")
            else ""
        )
        raise fail(
            f"--db: {scheme}:// is not a database URL scheme onestop can open{hint}"
        ) from None
    return db


def existing_store(db: str) -> Store:
    """The store of an existing onestop database at this version's schema.

    Raises:
        typer.Exit: If the file is missing, or the schema is missing, older or newer.
    """
    from onestop.store import Store

    url = db_url(db)
    if "://" not in db and not Path(db).exists():
        raise fail(f"--db: {db} does not exist")
    require_schema(db)  # read-only: a file that is not onestop's is never touched
    store = Store(url)
    try:
        store.require_current_schema()
    except SchemaOutOfDate as exc:
        raise fail(f"--db: {db}: {exc}") from None
    return store


def parse_instant(text: str, option: str) -> datetime:
    """An ISO instant given as ``option`` (naive: Asia/Ho_Chi_Minh), within onestop's range.

    Raises:
        typer.Exit: If it is not an ISO datetime.
        ValidationError: If it is outside the range onestop handles.
    """
    from onestop.clock import VN_TZ

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{option}: {text!r} is not an ISO datetime like 2024-03-05T09:00") from None
    return inputs.moment(moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ), option)


def open_engine(
    db: str, workflows: Path | None, now: str | None = None, init: bool = False, dev: bool = False
) -> Any:
    """Open the engine on an existing onestop database (migrating it; ``init``: creating its
    tables if it has none), with a fixed or system clock.

    Args:
        db: The ``--db`` value.
        workflows: The definitions directory (default: the bundled ones).
        now: A fixed instant (ISO; naive means Asia/Ho_Chi_Minh), else the system clock.
        init: Create onestop's tables if the database has none.
        dev: Development mode: chain events without an audit key.

    Raises:
        typer.Exit: If the database is missing or not onestop's, ``now`` is not an instant,
            or the definitions are invalid.
    """
    from onestop.clock import ManualClock, SystemClock
    from onestop.engine import Engine

    url = db_url(db)
    if "://" not in db and not Path(db).exists():
        raise fail(f"--db: {db} does not exist")
    clock: Any = SystemClock() if now is None else ManualClock(parse_instant(now, "--now"))
    if not init:
        require_schema(db)
    try:
        return Engine.open(url, workflows or default_workflows(), clock=clock, dev=dev)
    except DefinitionError as exc:
        raise definition_failure(exc) from None
    except OnestopError as exc:
        raise fail(str(exc)) from None


def audit_key(dev: bool) -> AuditKey | None:
    """The audit key from the environment; ``None`` only when ``dev`` allows unsealed anchors.

    Raises:
        typer.Exit: If there is no key (and not ``dev``) or it is malformed.
    """
    from onestop.audit_key import load_audit_key, require_audit_key

    try:
        return load_audit_key() if dev else require_audit_key()
    except AuditKeyError as exc:
        raise fail(f"{exc} (or pass --dev for unsealed development anchors)") from None


def latest_year(store: Store) -> tuple[int, bool]:
    """The year of the database's latest event (this year if it has none), and whether it has
    one."""
    from onestop.clock import local_date
    from onestop.store import queries

    with store.read() as uow:
        latest = queries.latest_event_at(uow)
    return (local_date(latest).year if latest else date.today().year), latest is not None


def report_period(store: Store, period: str | None) -> Period:
    """``--period`` parsed; by default the latest data's year, said on stderr.

    Raises:
        ValidationError: If ``period`` is not a period.
    """
    from onestop.periods import Period

    if period is not None:
        return Period.parse(period)
    year, data = latest_year(store)
    parsed = Period.parse(str(year))
    note = "dữ liệu mới nhất / latest data" if data else "chưa có dữ liệu / no data yet"
    err.print(f"{parsed.label_vi} ({note}); --period to choose another", highlight=False)
    return parsed


def print_tables(tables: list[Table], output: Path | None) -> None:
    """Print tables on stdout, or into ``output`` at 200 columns."""
    if output:
        with output.open("w", encoding="utf-8") as fh:
            Console(file=fh, width=200).print(*tables)
    else:
        out.print(*tables)


def write_text(text: str, output: Path | None) -> None:
    """Write ``text`` ending in one newline to ``output`` (saying so on stderr), or stdout."""
    if output:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
