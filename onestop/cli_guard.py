"""The CLI's last line of defence: every failure is one line ``error: ...`` and exit code 2.

:class:`GuardedGroup` wraps every ``onestop`` command. A refused argument or a typed onestop
error, a file the system will not open or write, a database that is not one (or not onestop's):
one line on stderr naming what is wrong. Anything unexpected: one line saying where the full
traceback was written, never the traceback itself.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

import typer
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError
from typer.core import TyperGroup

from onestop.errors import DefinitionError, OnestopError

#: Exit code of every failure.
EXIT_FAILURE = 2
#: Where the full report of an unexpected error goes (default: the system's temp directory).
CRASH_DIR_ENV = "ONESTOP_CRASH_DIR"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:500]


#: Exceptions that end a command the way it chose (exit codes, Ctrl-C), passed on untouched.
_PASS_THROUGH = frozenset({"Exit", "Abort"})


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {_first_line(message)}", err=True)
    raise typer.Exit(EXIT_FAILURE)


def crash_report(exc: BaseException) -> str:
    """Write ``exc``'s traceback to a new file and return its path."""
    folder = os.environ.get(CRASH_DIR_ENV) or tempfile.gettempdir()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    fd, path = tempfile.mkstemp(prefix=f"onestop-error-{stamp}-", suffix=".log", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(traceback.format_exception(exc)))
    return path


def explain(exc: Exception) -> str:
    """One line saying what went wrong, for the failures a user can cause and fix."""
    if isinstance(exc, DefinitionError):
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return f"{exc.problems[0]}{more}" if exc.problems else "invalid definitions"
    if isinstance(exc, OnestopError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, NoSuchTableError):
        return f"the database has no table {exc} (not an onestop database?)"
    if isinstance(exc, DBAPIError):
        return f"database: {_first_line(str(exc.orig))}"
    if isinstance(exc, SQLAlchemyError):
        return f"database: {_first_line(str(exc))}"
    if isinstance(exc, UnicodeError):
        return f"cannot decode or encode text: {exc}"
    raise exc


class GuardedGroup(TyperGroup):
    """A typer group whose commands fail with one line and exit code 2, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; turn every failure into one ``error:`` line (exit code 2)."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if isinstance(exc, typer.Exit | typer.Abort) or type(exc).__name__ in _PASS_THROUGH:
                raise
            format_message = getattr(exc, "format_message", None)
            if callable(format_message) and hasattr(exc, "exit_code"):
                # A usage error of the (vendored) click parser: a bad option or command.
                where = getattr(getattr(exc, "ctx", None), "command_path", None)
                _fail(f"{format_message()}" + (f" (see {where} --help)" if where else ""))
            try:
                message = explain(exc)
            except Exception:
                path = crash_report(exc)
                _fail(
                    f"unexpected {type(exc).__name__}: {_first_line(str(exc))} "
                    f"(full report in {path})"
                )
            _fail(message)


def require_schema(db: str) -> None:
    """Exit with one line unless the database ``db`` holds onestop's tables; it is only read
    (an SQLite file is opened read-only: not even its journal mode changes).

    Args:
        db: The ``--db`` value: a SQLAlchemy URL or the path of an SQLite file.
    """
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    url = make_url(db if "://" in db else f"sqlite:///{db}")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        if not path.is_file():
            _fail(f"--db: {db} is not a file")
        lite = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        except sqlite3.DatabaseError as exc:
            _fail(f"--db: {db}: {exc}")
        finally:
            lite.close()
        tables = {name for (name,) in rows}
    else:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
        finally:
            engine.dispose()
    if not {"dossiers", "events", "alembic_version"} <= tables:
        _fail(
            f"--db: {db} has no onestop tables (create them with --init, onestop demo, "
            "or Engine.open)"
        )
