"""The onestop command: demo, report formats, and one clear line for bad arguments."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onestop import Engine
from onestop.cli import app
from onestop.scheduler import Lease

runner = CliRunner()
WORKFLOWS = Path(__file__).parent.parent / "workflows"  # what the demo database was built with


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = runner.invoke(
        app, ["demo", "--db", str(db), "--days", "5", "--scale", "0.03", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "On-time by level" in result.output
    assert "tỷ lệ hồ sơ giải quyết đúng hẹn cấp thành phố" in result.output
    return db


def test_demo_is_reproducible(demo_db: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.db"
    result = runner.invoke(
        app, ["demo", "--db", str(again), "--days", "5", "--scale", "0.03", "--seed", "3"]
    )
    assert result.exit_code == 0
    a = runner.invoke(app, ["report", "--db", str(demo_db), "--period", "2024", "-f", "json"])
    b = runner.invoke(app, ["report", "--db", str(again), "--period", "2024", "-f", "json"])
    assert json.loads(a.output)["rows"] == json.loads(b.output)["rows"]


def test_report_json_shape(demo_db: Path) -> None:
    result = runner.invoke(app, ["report", "--db", str(demo_db), "--period", "2024", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["period"] == "2024"
    assert [r["level"] for r in data["rows"]] == ["city", "district", "commune"]
    for row in data["rows"]:
        assert row["resolved"] == row["early"] + row["on_time"] + row["late"]
        assert 0 <= row["on_time_rate"] <= 1
        assert {"open_overdue", "on_time_rate"} <= set(row)


def test_report_csv_text_and_file(demo_db: Path, tmp_path: Path) -> None:
    csv_out = tmp_path / "r.csv"
    result = runner.invoke(
        app,
        [
            "report",
            "--db",
            str(demo_db),
            "--by",
            "level,field",
            "--period",
            "2024-Q1",
            "-f",
            "csv",
            "--out",
            str(csv_out),
        ],
    )
    assert result.exit_code == 0, result.output
    header = csv_out.read_text().splitlines()[0]
    assert header.startswith("level,field,resolved,early,on_time,late,on_time_rate")
    text = runner.invoke(app, ["report", "--db", str(demo_db), "--period", "2024", "-f", "text"])
    assert text.output.startswith("Năm 2024: tỷ lệ hồ sơ giải quyết đúng hẹn cấp thành phố đạt ")
    en = runner.invoke(
        app, ["report", "--db", str(demo_db), "--period", "2024", "-f", "text", "--lang", "en"]
    )
    assert en.output.startswith("2024: dossiers resolved on time reached ")


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "--db", "nowhere.db"], "--db: nowhere.db does not exist"),
        (["report", "--period", "2024-Q7"], "period: '2024-Q7' is not a year"),
        (["report", "-f", "pdf"], "--format: 'pdf' is not one of"),
        (["report", "--by", "colour"], "unknown dimension 'colour'"),
        (["demo", "--start", "yesterday"], "--start: 'yesterday' is not a date"),
    ],
)
def test_bad_arguments_give_one_line(
    demo_db: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "--db" not in args and args[0] == "report":
        args = [*args, "--db", str(demo_db)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_help_has_examples() -> None:
    commands = (["demo"], ["report"], ["catalog", "check"], ["alerts"], ["simulate"],
                ["scheduler", "run"], ["verify"])  # fmt: skip
    for cmd in commands:
        result = runner.invoke(app, [*cmd, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.output


def test_alerts_command_sweeps_once(demo_db: Path) -> None:
    first = runner.invoke(app, ["alerts", "--db", str(demo_db), "--now", "2024-04-15T09:00"])
    assert first.exit_code == 0, first.output
    assert "New alerts at 2024-04-15 09:00" in first.output
    again = runner.invoke(app, ["alerts", "--db", str(demo_db), "--now", "2024-04-15T09:00"])
    assert "New alerts at 2024-04-15 09:00: 0" in again.output
    bad = runner.invoke(app, ["alerts", "--db", str(demo_db), "--now", "tomorrow"])
    assert bad.exit_code == 2 and "--now: 'tomorrow' is not an ISO datetime" in bad.output


def test_report_html_file(demo_db: Path, tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    result = runner.invoke(
        app, ["report", "--db", str(demo_db), "--period", "2024", "-f", "html", "--out", str(page)]
    )
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "Năm 2024" in html
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no network


def test_scheduler_run_stops_cleanly_on_sigterm(demo_db: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import create_engine, text

    db = tmp_path / "sched.db"
    db.write_bytes(demo_db.read_bytes())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "onestop",
            "scheduler",
            "run",
            "--db",
            str(db),
            "--sweep-minutes",
            "0.01",
            "--reports-dir",
            str(tmp_path / "reports"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ONESTOP_AUDIT_KEY": "5a" * 32},
    )
    engine = create_engine(f"sqlite:///{db}")
    try:
        deadline = time.monotonic() + 60
        runs = 0
        while time.monotonic() < deadline and runs == 0:
            time.sleep(0.2)
            with engine.connect() as conn:
                has = conn.execute(
                    text("select count(*) from sqlite_master where name='job_runs'")
                ).scalar()
                runs = (
                    conn.execute(text("select count(*) from job_runs")).scalar_one() if has else 0
                )
        assert runs > 0
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stopped = datetime.now(UTC)
    assert proc.returncode == 0, output
    assert "scheduler stopped" in output
    holder_id = re.search(r"scheduler (\S+) waiting for the lease", output)
    assert holder_id, output
    with engine.connect() as conn:
        leases = conn.execute(text("select name, holder, expires_at from scheduler_leases")).all()
    engine.dispose()
    # Released: the one lease row is still the stopped instance's, but expired already (while
    # it ran, every renewal pushed the expiry 60 s past the renewal), so nobody holds it.
    assert [(name, holder) for name, holder, _ in leases] == [("scheduler", holder_id[1])]
    expires = datetime.fromisoformat(leases[0][2]).replace(tzinfo=UTC)  # SQLite keeps UTC
    assert expires < stopped, (expires, stopped)
    # And so a successor takes it over at once, not after the 60 s TTL.
    successor = Engine.open(f"sqlite:///{db}", WORKFLOWS, migrate=False)
    try:
        assert Lease(successor.store, successor.clock, holder="successor", ttl=60).acquire()
    finally:
        successor.store.dispose()


def test_an_older_schema_is_refused_until_migrated(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from onestop.store import _MIGRATIONS, Store

    db = tmp_path / "old.db"
    store = Store(f"sqlite:///{db}")
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008")  # the schema of the version before field names
    store.dispose()
    runner = CliRunner()
    refused = runner.invoke(app, ["report", "--db", str(db), "--period", "2024"])
    assert refused.exit_code == 2
    assert "schema is at revision 0008, this onestop reads" in refused.output
    assert "run `onestop migrate`" in refused.output
    done = runner.invoke(app, ["migrate", "--db", str(db)])
    assert done.exit_code == 0 and "schema 0008 → " in done.output
    assert runner.invoke(app, ["report", "--db", str(db), "--period", "2024"]).exit_code == 0
    assert "up to date" in runner.invoke(app, ["migrate", "--db", str(db)]).output
