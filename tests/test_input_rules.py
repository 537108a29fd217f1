"""The input rules accept what they should (normalised), definition files are read within bounds,
and the CLI initialises a database only when told to and reports an unexpected error in one line."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onestop import (
    VN_TZ,
    Calendar,
    DefinitionError,
    Definitions,
    Engine,
    ManualClock,
    cli_guard,
    reports,
)
from onestop.cli import app

from .conftest import FIXTURES

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ)


@pytest.fixture
def fresh() -> Engine:
    return Engine.open(
        "sqlite://", FIXTURES, clock=ManualClock(NOW), calendar=Calendar.vietnam(years=[2025])
    )


def test_text_is_stored_in_nfc_and_free_text_keeps_line_breaks(fresh: Engine) -> None:
    decomposed = "Nguye\u0302\u0303n Va\u0306n Bi\u0300nh"  # "Nguyễn Văn Bình" in NFD
    d = fresh.receive(
        "LAND", "D1", applicant={"name": decomposed, "id_number": "092085001234"},
        reference="  H13-0001  ",
    )  # fmt: skip
    row = fresh.get(d.id)
    assert row.applicant_name == "Nguy\u1ec5n V\u0103n B\u00ecnh"
    assert row.applicant_id_number == "092085001234"
    assert row.reference == "H13-0001"
    fresh.suspend(d.id, "chờ xác minh:\n- sổ đỏ\n\t- hợp đồng")
    assert fresh.history(d.id)[-1].data["args"]["reason"] == "chờ xác minh:\n- sổ đỏ\n\t- hợp đồng"


def test_the_largest_id_and_the_calendars_last_day_are_accepted(fresh: Engine) -> None:
    d = fresh.receive("LAND", "D1")
    last = datetime(2025, 12, 31, 17, 0, tzinfo=VN_TZ)  # the calendar covers 2025 only
    assert fresh.apologise(d.id, last, "trễ hẹn").due_at == last
    assert fresh.open_dossiers(overdue_at=last + timedelta(days=1), limit=1)[0].id == d.id


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("big.yaml", None, "file larger than 2097152 bytes"),
        ("deep.yaml", "a: " + "[" * 60 + "]" * 60 + "\n", "nested deeper than 50"),
        ("wide.yaml", "a: [" + "1," * 250_001 + "]\n", "more than 250000 values"),
        ("bomb.yaml", "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
         + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
                   f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
                   f"*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(8)),
         "more than 250000 values (aliases counted at each use)"),
    ],
)  # fmt: skip
def test_definition_files_are_bounded(
    tmp_path: Path, name: str, content: str | None, reason: str
) -> None:
    path = tmp_path / name
    if content is None:
        with path.open("wb") as fh:
            fh.truncate(2 * 1024 * 1024 + 1)  # one byte over the cap
    else:
        path.write_text(content)
    with pytest.raises(DefinitionError) as exc:
        Definitions.load(tmp_path)
    mine = [(p.file, p.reason) for p in exc.value.problems if p.file == str(path)]
    assert mine == [(str(path), reason)]


@pytest.mark.parametrize("kind", ["dev-zero symlink", "fifo"])
def test_only_regular_definition_files_are_read(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x.yaml"
    if kind == "fifo":
        os.mkfifo(path)  # opening it would block until a writer came
    else:
        path.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(DefinitionError) as exc:
        Definitions.load(tmp_path)
    mine = [(p.file, p.reason) for p in exc.value.problems if p.file == str(path)]
    assert mine == [(str(path), "not a regular file")]


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def test_alerts_initialise_a_database_only_when_told(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE mine (x)")
    conn.commit()
    conn.close()
    args = ["alerts", "--db", str(db), "--workflows", str(FIXTURES), "--now", "2025-03-03T09:00"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2
    assert refused.output.startswith(f"error: --db: {db} has no onestop tables")
    assert _tables(db) == {"mine"}
    done = CliRunner().invoke(app, [*args, "--init"])
    assert done.exit_code == 0, done.output
    assert {"mine", "dossiers", "events", "alembic_version"} <= _tables(db)


def test_an_unexpected_error_is_one_line_naming_the_full_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "o.db"
    Engine.open(f"sqlite:///{db}", FIXTURES, clock=ManualClock(NOW)).store.dispose()

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(reports, "full_report", boom)
    monkeypatch.setenv(cli_guard.CRASH_DIR_ENV, str(tmp_path))
    result = CliRunner().invoke(app, ["report", "--db", str(db), "--period", "2025"])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    (log,) = tmp_path.glob("onestop-error-*.log")
    assert line == f"error: unexpected RuntimeError: boom (full report in {log})"
    text = log.read_text()
    assert text.startswith("Traceback") and "RuntimeError: boom\nsecond line" in text
