"""The definitions ship with the package: a wheel installed anywhere runs the demo, and
``onestop init`` copies them for a city to edit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onestop.cli import app
from onestop.defaults import copy_definitions, scenario_path, workflows_dir
from onestop.errors import ValidationError

ROOT = Path(__file__).parent.parent
runner = CliRunner()


def test_every_subpackage_is_listed_for_the_wheel() -> None:
    # pyproject.toml lists its packages (the definitions are mapped in from outside onestop/);
    # a new subpackage missing there would be missing from the wheel.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in ROOT.glob("onestop/**/__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    mapped = config["tool"]["setuptools"]["package-dir"]
    assert mapped == {
        "onestop._bundled.workflows": "workflows",
        "onestop._bundled.simulations": "simulations",
    }


def test_wheel_in_a_fresh_venv_runs_the_demo_from_an_empty_directory(tmp_path: Path) -> None:
    """Build the wheel, install it into a fresh venv, run ``onestop demo`` (5 days at 1 % of the
    volume) and ``onestop catalog check`` from an empty directory.

    For speed the venv is created with ``--system-site-packages`` and the wheel installed with
    ``--no-deps`` (the dependencies come from this interpreter's site-packages). That cannot
    hide a packaging fault: the test checks that ``onestop`` and its definitions are imported
    from the venv's own site-packages (the wheel's files), not from the source tree or an
    editable install of it, and nothing puts the source tree on ``sys.path`` (the command runs
    in an empty directory with PYTHONPATH unset).
    """
    source = tmp_path / "src"  # a clean copy: the build writes build/ and *.egg-info
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    for name in ("onestop", "workflows", "simulations"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    dist = tmp_path / "dist"

    def run(*args: str | Path, cwd: Path = tmp_path) -> str:
        done = subprocess.run(
            [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, source)
    (wheel,) = dist.glob("onestop-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
        "--no-index", "--ignore-installed", wheel)  # fmt: skip
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    where = run(
        python,
        "-c",
        "import onestop, onestop.defaults as d; print(onestop.__file__); "
        "print(d.workflows_dir()); print(d.scenario_path('cantho-2024'))",
        cwd=empty,
    ).split()
    site = (venv / "lib").resolve()
    assert all(Path(w).resolve().is_relative_to(site) for w in where), where
    assert Path(where[1]).parts[-3:] == ("onestop", "_bundled", "workflows")

    demo = run(venv / "bin" / "onestop", "demo", "--days", "5", "--scale", "0.01", cwd=empty)
    assert "On-time by level, 2024-03-01 to" in demo
    assert "database: onestop-demo.db" in demo
    assert (empty / "onestop-demo.db").is_file()
    check = run(venv / "bin" / "onestop", "catalog", "check", cwd=empty)
    assert "all definitions valid" in check
    assert "Procedures of cantho-2024: " in check
    alerts = run(venv / "bin" / "onestop", "alerts", "--now", "2024-03-07T09:00", cwd=empty)
    assert "New alerts at 2024-03-07 09:00" in alerts


def test_a_bundled_scenario_is_found_by_name_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = ROOT / "simulations" / "two-tier-2025.yaml"
    assert scenario_path("two-tier-2025") == expected
    assert scenario_path("simulations/two-tier-2025.yaml") == expected
    assert workflows_dir() == ROOT / "workflows"
    with pytest.raises(
        ValidationError, match="not a bundled scenario .*cantho-2024.*two-tier-2025"
    ):
        scenario_path("cantho-2042")
    mine = tmp_path / "simulations" / "two-tier-2025.yaml"  # a file of that name wins
    mine.parent.mkdir()
    mine.write_text("name: mine\n")
    assert scenario_path("simulations/two-tier-2025.yaml") == Path("simulations/two-tier-2025.yaml")


def test_init_copies_the_definitions_for_a_city_to_edit(tmp_path: Path) -> None:
    target = tmp_path / "mycity"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    # The oracle: the repository's own YAML files, listed here with find's glob.
    shipped = sorted(
        p.relative_to(ROOT)
        for kind in ("workflows", "simulations")
        for p in (ROOT / kind).rglob("*.yaml")
    )
    assert Path("workflows/units/cantho-2024.yaml") in shipped
    assert Path("simulations/two-tier-2025.yaml") in shipped
    assert f"copied {len(shipped)} definition files" in result.output
    assert sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file()) == shipped
    for rel in shipped:
        assert (target / rel).read_bytes() == (ROOT / rel).read_bytes()
    check = runner.invoke(app, ["catalog", "check", str(target / "workflows")])
    assert check.exit_code == 0 and "all definitions valid" in check.output

    edited = target / "workflows" / "onestop.yaml"
    edited.write_text("default_unit_set: mine\n")
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 2
    assert again.output.strip().splitlines() == [
        f"error: {target} is not empty (pass --force to write into it)"
    ]
    assert edited.read_text() == "default_unit_set: mine\n"  # refused: nothing written
    forced = runner.invoke(app, ["init", str(target), "--force"])
    assert forced.exit_code == 0
    assert edited.read_text() == (ROOT / "workflows" / "onestop.yaml").read_text()

    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ValidationError, match="is a file, not a directory"):
        copy_definitions(a_file)
