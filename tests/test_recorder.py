"""The event recorder: the audit key is resolved before anything is written, by every writer of
events (the engine's commands, a reorganisation's transfers, the feedback desk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from onestop import Calendar, Definitions, Engine, ManualClock
from onestop.errors import AuditKeyError, ValidationError
from onestop.feedback import FeedbackLaw
from onestop.feedback_commands import FeedbackDesk
from onestop.store import Store
from onestop.testing import fingerprint
from onestop.timeline import Timeline
from tests.helpers import dt

from .conftest import FIXTURES

ROOT = Path(__file__).parent.parent / "workflows"


@pytest.fixture
def keyless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONESTOP_AUDIT_KEY", raising=False)
    monkeypatch.delenv("ONESTOP_AUDIT_KEY_FILE", raising=False)


@pytest.mark.usefixtures("keyless")
def test_a_command_refused_for_want_of_a_key_leaves_nothing_in_a_batch_that_goes_on(
    db_url: str, clock: ManualClock, calendar: Calendar
) -> None:
    engine = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar)
    before = fingerprint(engine)
    # Inside a batch a plain receipt has no savepoint: the key must be known before the
    # dossier's row is inserted, or the batch would commit a row without its event.
    with engine.batch(), pytest.raises(AuditKeyError, match="onestop keygen"):
        engine.receive("LAND", "D1")
    assert fingerprint(engine) == before
    desk = FeedbackDesk(engine, FeedbackLaw.load(ROOT))
    with engine.batch(), pytest.raises(AuditKeyError, match="onestop keygen"):
        desk.receive(channel="portal", subject="procedure", unit="W1")
    assert fingerprint(engine) == before
    engine.store.dispose()


def test_a_reorganisation_refuses_a_malformed_actor_before_writing(
    db_url: str, calendar: Calendar
) -> None:
    defs = Definitions.load(ROOT)
    timeline = Timeline.of(defs)
    store = Store(db_url)
    store.migrate()
    for catalog in timeline.catalogs:
        store.sync_definitions(catalog)
    clock = ManualClock(dt(2025, 6, 30, 9, 0))
    city = Engine(store, timeline.catalogs[0], calendar, clock, timeline=timeline)
    district = city.receive("district.land-first", "92.BT")
    before = fingerprint(city)
    with pytest.raises(ValidationError, match=r"^actor\b.*U\+0000 \(control character\)"):
        city.reorganise("cantho-2025-merged", dt(2025, 7, 1), actor="ops\x00")
    assert fingerprint(city) == before
    # A well-formed actor is recorded on the transfer's event, as on every command's.
    city.reorganise("cantho-2025-merged", dt(2025, 7, 1), actor="  ops-1  ")
    assert [(e.trigger, e.actor) for e in city.history(district.id)] == [
        ("receive", None),
        ("transferred", "ops-1"),
    ]
    store.dispose()
