"""The ``onestop`` command.

Every command prints one clear line and exits non-zero on bad input; ``--help`` shows examples.
The commands live in one module per group (``onestop.cli_<group>``, sharing
:mod:`onestop.cli_common`); this module assembles them, in the order ``--help`` lists them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from onestop.cli_catalog import catalog_app, init_definitions
from onestop.cli_common import configure_quiet, fail
from onestop.cli_database import migrate, reorganise
from onestop.cli_export import export
from onestop.cli_feedback import feedback_app, survey_app
from onestop.cli_guard import GuardedGroup
from onestop.cli_report import report
from onestop.cli_scheduler import alerts, scheduler_app
from onestop.cli_scorecard import scorecard
from onestop.cli_security import anchor, directory_app, keygen, vault_keygen, verify
from onestop.cli_simulate import demo, simulate
from onestop.cli_staffing import staff
from onestop.cli_sync import sync_app

app = typer.Typer(
    help="onestop: one-stop-shop dossier workflow engine (Vietnam).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,
)


#: Commands that run as services: their warnings (alerts raised, deliveries failing, refusals)
#: are their output to operators. Every other command prints its own result and one ``error:``
#: line on failure, so its log shows errors only unless asked.
_SERVICES = frozenset({"scheduler", "sync"})
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@app.callback()
def _logging(
    ctx: typer.Context,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            envvar="ONESTOP_LOG_LEVEL",
            help="Log level on stderr (debug, info, warning, error). Default: warning for "
            "the services (scheduler, sync), error for the other commands.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Configure logging once for every command: the CLI is the only place that does."""
    if log_level is not None and log_level.upper() not in _LEVELS:
        raise fail(f"--log-level: {log_level!r} is not one of {', '.join(_LEVELS).lower()}")
    default = "WARNING" if ctx.invoked_subcommand in _SERVICES else "ERROR"
    configure_quiet((log_level or default).upper())


app.add_typer(catalog_app, name="catalog")
app.command()(demo)
app.command()(report)
app.add_typer(survey_app, name="survey")
app.command()(alerts)
app.add_typer(scheduler_app, name="scheduler")
app.command()(simulate)
app.command()(verify)
app.command()(anchor)
app.command()(migrate)
app.command()(keygen)
app.command()(staff)
app.command()(scorecard)
app.add_typer(sync_app, name="sync")
app.command()(reorganise)
app.command("init")(init_definitions)
app.command()(export)
app.add_typer(directory_app, name="staff-directory")
app.command("vault-keygen")(vault_keygen)
app.add_typer(feedback_app, name="feedback")


def main() -> None:
    """Entry point of the ``onestop`` console script."""
    app()
