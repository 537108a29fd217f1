"""`onestop report` with no --period reports the year of the latest data, and says so."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from onestop import Engine, ManualClock
from onestop.cli import app

from .conftest import FIXTURES


def test_default_period_is_the_year_of_the_latest_event(tmp_path: Path, clock: ManualClock) -> None:
    db = tmp_path / "old.db"
    engine = Engine.open(f"sqlite:///{db}", FIXTURES, clock=clock)  # 24 January 2025
    d = engine.receive("COPY", "W1")
    engine.resolve(d.id)
    engine.store.dispose()
    result = CliRunner().invoke(app, ["report", "--db", str(db), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert "Năm 2025 (dữ liệu mới nhất" in result.stderr
    assert '"period": "2025"' in result.stdout
    assert '"resolved": 1' in result.stdout


def test_tables_name_units_from_the_definitions(tmp_path: Path, clock: ManualClock) -> None:
    db = tmp_path / "names.db"
    engine = Engine.open(f"sqlite:///{db}", FIXTURES, clock=clock)
    engine.resolve(engine.receive("COPY", "W2").id)
    engine.store.dispose()
    result = CliRunner().invoke(app, ["report", "--db", str(db), "--by", "unit,level"])
    assert result.exit_code == 0, result.output
    assert "Phường Hai" in result.stdout and "commune" in result.stdout
    assert "W2" not in result.stdout  # the name replaces the code
