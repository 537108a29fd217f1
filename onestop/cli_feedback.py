"""Citizen feedback and satisfaction on the command line: ``onestop survey import`` (the
city's own forms)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from onestop.cli_common import DbOption, WorkflowsOption, err, fail, open_engine
from onestop.errors import OnestopError

survey_app = typer.Typer(help="The city's own satisfaction survey forms.", no_args_is_help=True)


@survey_app.command("import")
def survey_import(
    file: Annotated[
        Path, typer.Argument(help="CSV: form_id,answered_on,unit,score,channel,comment")
    ],
    db: DbOption = "onestop.db",
    workflows: WorkflowsOption = None,
) -> None:
    """Import survey forms; one bad row refuses the file (line numbers), nothing imported.

    Example:
      onestop survey import forms-2024.csv --db onestop.db
    """
    from onestop.satisfaction import import_survey

    engine = open_engine(db, workflows)
    try:
        n = import_survey(engine, file)
    except OnestopError as exc:
        raise fail(str(exc)) from None
    err.print(f"imported {n} forms from {file}")
