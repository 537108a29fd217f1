"""Dependencies point one way: the pure core imports no SQLAlchemy and nothing above it; the
engine holds no SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "onestop"
CORE = [
    "_machine", "_secrets", "_yaml", "access", "arguments", "calendar", "catalog", "catalog_search",
    "clock", "deadlines", "defaults", "definitions", "directory", "dossier", "errors",
    "feedback", "feedback_access", "fields", "inputs", "intake", "lifecycle", "periods", "plans",
    "portal", "presentation", "reorganisation", "rules", "status", "timeline", "timeliness",
    "units", "vault",
]  # fmt: skip
ABOVE_CORE = ("onestop.store", "onestop.engine", "onestop.commands", "onestop.alerts",
              "onestop.scheduler", "onestop.audit", "onestop.reports", "onestop.rollups",
              "onestop.report_html", "onestop.sim", "onestop.cli", "onestop.cli_guard",
              "onestop.testing", "onestop.scorecard", "onestop.scorecard_html", "onestop.report_sections",
              "onestop.report_charts", "onestop.anchors", "onestop.audit_key", "onestop.sync",
              "onestop.testing_portal", "onestop.transfers", "onestop.feedback_alerts",
              "onestop.feedback_commands", "onestop.feedback_report", "onestop.satisfaction",
              "onestop.export_log", "onestop.export_xes", "onestop.export_ocel",
              "onestop.authority", "onestop.cli_catalog", "onestop.cli_common",
              "onestop.cli_database", "onestop.cli_export", "onestop.cli_feedback",
              "onestop.cli_report", "onestop.cli_scheduler", "onestop.cli_scorecard",
              "onestop.cli_security", "onestop.cli_simulate", "onestop.cli_staffing",
              "onestop.cli_sync",
              "onestop.recorder", "onestop.feedback_item", "onestop.feedback_pipeline",
              "onestop.feedback_intake", "onestop.feedback_handling",
              "onestop.feedback_rating", "onestop.alert_audit", "onestop.finding",
              "onestop.job_audit")  # fmt: skip


def imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("module", CORE)
def test_the_core_is_pure(module: str) -> None:
    names = imports(module)
    assert not {n for n in names if n.split(".")[0] == "sqlalchemy"}
    assert not {n for n in names if n.startswith(ABOVE_CORE)}


#: The engine layer: no SQL of its own.
ENGINE = [
    "engine", "commands", "feedback_commands", "authority", "recorder", "feedback_item",
    "feedback_pipeline", "feedback_intake", "feedback_handling", "feedback_rating",
]  # fmt: skip


@pytest.mark.parametrize("module", ENGINE)
def test_the_engine_holds_no_sql(module: str) -> None:
    names = imports(module)
    assert not {n for n in names if n.split(".")[0] == "sqlalchemy"}
    assert not {n for n in names if n.startswith("onestop.store.schema")}


def test_every_module_is_placed_in_a_layer() -> None:
    placed = set(CORE) | {m.removeprefix("onestop.") for m in ABOVE_CORE} | {
        "__init__", "__main__", "log",
    }  # fmt: skip
    assert {p.stem for p in PACKAGE.glob("*.py")} <= placed
