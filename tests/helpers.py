"""Test helpers: the ones onestop ships to users (``onestop.testing``), a datetime maker,
typed reads of the dossier times that are only set once a dossier has been received, and
variants of the fixture scenarios."""

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from onestop import VN_TZ, Dossier, Engine, ManualClock
from onestop.testing import assert_replays, fingerprint

__all__ = [
    "assert_replays",
    "dt",
    "due_at",
    "fingerprint",
    "finish",
    "received_at",
    "scenario_variant",
]

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"


def dt(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An aware datetime in Vietnam's time zone."""
    return datetime(year, month, day, hour, minute, second, tzinfo=VN_TZ)


def due_at(dossier: Dossier) -> datetime:
    """The appointment of a received dossier; fails the test if the dossier has none."""
    if dossier.due_at is None:
        raise AssertionError(f"dossier {dossier.id} ({dossier.status.value}) has no due_at")
    return dossier.due_at


def received_at(dossier: Dossier) -> datetime:
    """When a received dossier was received; fails the test if it has not been."""
    if dossier.received_at is None:
        raise AssertionError(f"dossier {dossier.id} ({dossier.status.value}) has no received_at")
    return dossier.received_at


def finish(engine: Engine, clock: ManualClock, dossier_id: int, at: datetime) -> None:
    """Hand a dossier over to its last step, then resolve it at ``at``."""
    d = engine.get(dossier_id)
    while d.step_index + 1 < d.step_count:
        d = engine.complete_step(d.id)
    clock.set(at)
    engine.resolve(d.id)


def scenario_variant(tmp_path: Path, base: str, name: str, **fields: Any) -> Path:
    """The fixture scenario ``base`` (e.g. ``"mmc"``) with top-level ``fields`` replaced,
    written as ``tmp_path/name.yaml``; its workflows are the fixture definitions unless
    ``workflows`` is given."""
    data = yaml.safe_load((SCENARIOS / f"{base}.yaml").read_text())
    data.update({"workflows": str(SCENARIOS.parent / "workflows"), **fields})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
