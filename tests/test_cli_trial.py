"""What a new user's trial of the CLI found: roles the directory refused, a demo that doubled a
server database, commands with another --db default, a second anchor run that failed, a retry
of an id that does not exist (in test_sync.py), and a ``postgres://`` URL without a hint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from onestop import VN_TZ, Engine, ManualClock
from onestop.cli import app
from onestop.directory import StaffDirectory

from .conftest import FIXTURES

runner = CliRunner()


# -- 1. the inspectorate's role --------------------------------------------------------------


def test_the_directory_accepts_the_inspector_role(tmp_path: Path) -> None:
    directory = StaffDirectory.from_data(
        {"officers": [{"user_id": "thanh", "name": "Thanh", "agency": "D1-DESK",
                       "roles": ["inspector"], "valid_from": "2025-01-01"}]}
    )  # fmt: skip
    officer = directory.at("thanh", datetime(2025, 3, 1, tzinfo=VN_TZ))
    assert officer is not None and officer.roles == frozenset({"inspector"})
    db = tmp_path / "s.db"
    Engine.open(f"sqlite:///{db}", FIXTURES).store.dispose()
    common = ["--db", str(db), "--workflows", str(FIXTURES)]
    added = runner.invoke(app, ["staff-directory", "add", "thanh", "--name", "Thanh", "--agency",
                                "D1-DESK", "--roles", "inspector", "--from", "2025-01-01",
                                *common])  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["staff-directory", "list", "--db", str(db), "--at", "2025-03-01"])
    assert "inspector" in listed.output


def test_a_bad_role_is_named_by_its_option(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Engine.open(f"sqlite:///{db}", FIXTURES).store.dispose()
    bad = runner.invoke(app, ["staff-directory", "add", "thanh", "--name", "Thanh", "--agency",
                              "D1-DESK", "--roles", "desk,boss", "--db", str(db), "--workflows",
                              str(FIXTURES)])  # fmt: skip
    assert bad.exit_code == 2
    assert bad.output == (
        "error: --roles: 'boss': Input should be 'desk', 'specialist', 'leader', 'privacy', "
        "'monitor' or 'inspector'\n"
    )


# -- 2. demo on a database that holds dossiers -------------------------------------------------


def _dossiers(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM dossiers")).scalar_one())
    finally:
        engine.dispose()


def test_demo_refuses_a_database_that_holds_dossiers(db_url: str) -> None:
    demo = ["demo", "--db", db_url, "--days", "1", "--scale", "0.001"]
    first = runner.invoke(app, demo)
    assert first.exit_code == 0, first.output
    held = _dossiers(db_url)
    assert held >= 1
    again = runner.invoke(app, demo)
    assert again.exit_code == 2
    if db_url.startswith("sqlite"):
        assert again.output == f"error: --db: {db_url} exists; pass --force to replace it\n"
        assert _dossiers(db_url) == held
        replaced = runner.invoke(app, [*demo, "--force"])
        assert replaced.exit_code == 0, replaced.output
        assert _dossiers(db_url) == held  # replaced, not doubled (same seed, same run)
        return
    said = (
        f"error: --db: the database already holds {held:,} dossier(s); onestop never wipes a "
        "server database, --force or not: drop and recreate it, or name an empty one\n"
    )
    assert again.output == said
    forced = runner.invoke(app, [*demo, "--force"])
    assert forced.exit_code == 2 and forced.output == said
    assert _dossiers(db_url) == held


# -- 3. one --db default -----------------------------------------------------------------------


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command under ``group`` (typer's own click, duck-typed) that has a --db option."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        elif any(p.name == "db" for p in command.params):
            yield (*path, name)


def test_every_command_defaults_db_to_the_demo_database() -> None:
    commands = list(_commands(typer.main.get_command(app)))
    assert ("export",) in commands and ("staff-directory", "end") in commands
    wrong = {}
    for command in commands:
        shown = runner.invoke(app, [*command, "--help"]).output
        # The help table wraps a long default over lines and frame characters.
        if "[default:onestop-demo.db]" not in "".join(shown.replace("│", "").split()):
            wrong[" ".join(command)] = shown
    # Without a default on purpose: simulate writes a database only when given one, and
    # reorganise rewrites the units of the database it is explicitly given.
    assert sorted(wrong) == ["reorganise", "simulate"]


# -- 4. anchor run twice -----------------------------------------------------------------------


def test_a_second_anchor_run_without_a_day_has_nothing_new(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    days_ago = ManualClock(datetime.now(VN_TZ) - timedelta(days=3))
    engine = Engine.open(f"sqlite:///{db}", FIXTURES, clock=days_ago)
    engine.receive("COPY", "W1")
    engine.store.dispose()
    yesterday = (datetime.now(VN_TZ) - timedelta(days=1)).date()
    first = runner.invoke(app, ["anchor", "--db", str(db)])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["anchor", "--db", str(db), "--file", str(tmp_path / "a.jsonl")])
    assert again.exit_code == 0, again.output
    assert again.output == f"nothing new to anchor: the database is anchored through {yesterday}\n"
    assert not (tmp_path / "a.jsonl").exists()
    named = runner.invoke(app, ["anchor", "--db", str(db), "--through", str(yesterday)])
    assert named.exit_code == 2
    assert f"error: {yesterday} is already anchored" in named.output


# -- 6. postgres:// ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["report"], ["migrate"], ["sync", "status"], ["demo"]])
def test_a_postgres_scheme_gets_a_hint(command: list[str]) -> None:
    url = "postgres://onestop:s3cret@127.0.0.1:1/onestop"
    result = runner.invoke(app, [*command, "--db", url])
    assert result.exit_code == 2
    assert result.output == (
        "error: --db: postgres:// is not a database URL scheme onestop can open; for "
        "PostgreSQL write postgresql+psycopg://user@host:port/database\n"
    )


def test_an_unknown_scheme_is_named_without_a_hint() -> None:
    result = runner.invoke(app, ["report", "--db", "mongodb://h/x"])
    assert result.exit_code == 2
    assert (
        result.output == "error: --db: mongodb:// is not a database URL scheme onestop can open\n"
    )
