"""Authorization: who may run which trigger on which dossier; denials change nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from onestop import Actor, Calendar, Engine, Forbidden, ManualClock, OneStopPolicy

from .conftest import FIXTURES
from .helpers import due_at, fingerprint

DESK_D1 = Actor(user_id="desk-d1", agency="D1-DESK", roles=frozenset({"desk"}))
DESK_D2 = Actor(user_id="desk-d2", agency="D2-DESK", roles=frozenset({"desk"}))
DESK_W1 = Actor(user_id="desk-w1", agency="W1-DESK", roles=frozenset({"desk"}))
LAND_D1 = Actor(user_id="land-d1", agency="D1-LAND", roles=frozenset({"specialist"}))
LAND_D2 = Actor(user_id="land-d2", agency="D2-LAND", roles=frozenset({"specialist"}))
TAX_D1 = Actor(user_id="tax-d1", agency="D1-TAX", roles=frozenset({"specialist"}))
LEAD_D1 = Actor(user_id="lead-d1", agency="D1-LEAD", roles=frozenset({"leader"}))
LEAD_D2 = Actor(user_id="lead-d2", agency="D2-LEAD", roles=frozenset({"leader"}))
CITIZEN = Actor(user_id="citizen-1", roles=frozenset({"applicant"}))


@pytest.fixture
def guarded(db_url: str, clock: ManualClock, calendar: Calendar) -> Iterator[Engine]:
    engine = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar, policy=OneStopPolicy())
    yield engine
    engine.store.dispose()


def at_step(engine: Engine, clock: ManualClock, step: int) -> int:
    """A LAND dossier at D1, moved to ``step`` by the right people."""
    d = engine.receive("LAND", "D1", actor=DESK_D1)
    holders = {0: DESK_D1, 1: LAND_D1, 2: TAX_D1}
    while d.step_index < step:
        clock.advance(timedelta(hours=1))
        d = engine.complete_step(d.id, actor=holders[d.step_index])
    return d.id


# (who, command, allowed) on a LAND dossier of D1 held by D1-LAND (step 1)
MATRIX: list[tuple[str, Actor | None, Callable[[Engine, int], Any], bool]] = [
    (
        "land specialist completes own step",
        LAND_D1,
        lambda e, d: e.complete_step(d, actor=LAND_D1),
        True,
    ),
    (
        "other district's land specialist",
        LAND_D2,
        lambda e, d: e.complete_step(d, actor=LAND_D2),
        False,
    ),
    (
        "tax specialist before the tax step",
        TAX_D1,
        lambda e, d: e.complete_step(d, actor=TAX_D1),
        False,
    ),
    (
        "desk cannot do step work",
        DESK_D1,
        lambda e, d: e.request_supplement(d, "x", actor=DESK_D1),
        False,
    ),
    (
        "specialist asks a supplement",
        LAND_D1,
        lambda e, d: e.request_supplement(d, "x", actor=LAND_D1),
        True,
    ),
    (
        "leader of D1 apologises",
        LEAD_D1,
        lambda e, d: e.apologise(d, due_at(e.get(d)) + timedelta(days=3), "x", actor=LEAD_D1),
        True,
    ),
    (
        "leader of D2 may not",
        LEAD_D2,
        lambda e, d: e.apologise(d, due_at(e.get(d)) + timedelta(days=3), "x", actor=LEAD_D2),
        False,
    ),
    (
        "specialist may not apologise",
        LAND_D1,
        lambda e, d: e.apologise(d, due_at(e.get(d)) + timedelta(days=3), "x", actor=LAND_D1),
        False,
    ),
    ("desk of D1 records a withdrawal", DESK_D1, lambda e, d: e.withdraw(d, actor=DESK_D1), True),
    ("desk of D2 may not", DESK_D2, lambda e, d: e.withdraw(d, actor=DESK_D2), False),
    ("no actor at all", None, lambda e, d: e.complete_step(d), False),
    (
        "a plain user id is not enough",
        None,
        lambda e, d: e.complete_step(d, actor="land-d1"),
        False,
    ),
]


@pytest.mark.parametrize("name, who, command, allowed", MATRIX, ids=[m[0] for m in MATRIX])
def test_matrix_on_a_step(
    guarded: Engine,
    clock: ManualClock,
    name: str,
    who: Actor | None,
    command: Callable[[Engine, int], Any],
    allowed: bool,
) -> None:
    d = at_step(guarded, clock, 1)
    before = fingerprint(guarded)
    if allowed:
        command(guarded, d)
        assert guarded.history(d)[-1].actor == (who.user_id if who else None)
    else:
        with pytest.raises(Forbidden):
            command(guarded, d)
        assert fingerprint(guarded) == before


def test_intake_at_own_unit_and_location_independent(guarded: Engine) -> None:
    guarded.receive("LAND", "D1", actor=DESK_D1)
    with pytest.raises(Forbidden, match="not at the intake unit"):
        guarded.receive("LAND", "D1", actor=DESK_D2)
    # JUDICIAL is location-independent: the W1 desk receives it for the city.
    d = guarded.receive("JUDICIAL", "C", intake_unit="W1", actor=DESK_W1)
    assert d.intake_unit == "W1"
    with pytest.raises(Forbidden):
        guarded.receive("JUDICIAL", "C", intake_unit="W1", actor=DESK_D1)
    with pytest.raises(Forbidden, match="needs the desk role"):
        guarded.receive("LAND", "D1", actor=LAND_D1)


def test_applicant_submits_desk_receives_leader_resolves_desk_returns(
    guarded: Engine, clock: ManualClock
) -> None:
    d = guarded.submit_online("LAND", "D1", actor=CITIZEN)
    with pytest.raises(Forbidden):
        guarded.receive_submitted(d.id, actor=CITIZEN)
    guarded.receive_submitted(d.id, actor=DESK_D1)
    d_id = d.id
    for holder in (DESK_D1, LAND_D1, TAX_D1):
        clock.advance(timedelta(hours=1))
        guarded.complete_step(d_id, actor=holder)
    with pytest.raises(Forbidden):
        guarded.resolve(d_id, actor=LEAD_D2)
    guarded.resolve(d_id, actor=LEAD_D1)
    with pytest.raises(Forbidden):
        guarded.return_result(d_id, actor=DESK_D2)
    assert guarded.return_result(d_id, actor=DESK_D1).status.value == "returned"


def test_denials_are_logged(guarded: Engine, clock: ManualClock) -> None:
    import io
    import json
    from contextlib import redirect_stderr

    from onestop.log import configure

    d = at_step(guarded, clock, 1)
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        configure(json=True, level="INFO")
        with pytest.raises(Forbidden):
            guarded.complete_step(d, actor=LAND_D2)
    configure(json=False, level="WARNING")
    [record] = [json.loads(x) for x in buffer.getvalue().splitlines() if "forbidden" in x]
    assert record["user"] == "land-d2" and record["dossier_id"] == d
