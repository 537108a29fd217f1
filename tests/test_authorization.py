"""Authorization from the staff directory, on commands and on queries; scoped idempotency keys.

The access matrix below is written out by hand: each operation, as each user, on a LAND
dossier of district D1 (intake and competent unit D1), in the state where the operation is
legal for the lifecycle. ``Y`` allowed, ``N`` refused (:class:`Forbidden`, nothing changed);
for ``get: personal data``, ``P`` shown, ``-`` hidden, ``N`` refused; for ``open_dossiers``,
``Y`` listed, ``N`` not listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from onestop import (
    VN_TZ,
    Actor,
    Calendar,
    Engine,
    Forbidden,
    IdempotencyKeyReused,
    ManualClock,
    OneStopPolicy,
    StaffDirectory,
)
from onestop.log import configure
from onestop.store.officers import end_officer, load_directory
from onestop.store.schema import dossier_steps, dossiers, events, idempotency_keys, personal_data

from .conftest import FIXTURES
from .helpers import fingerprint

STAFF = {
    "desk-d1": ("D1-DESK", ["desk"]),
    "desk-d2": ("D2-DESK", ["desk"]),
    "land-d1": ("D1-LAND", ["specialist"]),
    "land-d2": ("D2-LAND", ["specialist"]),
    "tax-d1": ("D1-TAX", ["specialist"]),
    "lead-d1": ("D1-LEAD", ["leader"]),
    "lead-d2": ("D2-LEAD", ["leader"]),
    "priv-d1": ("D1-DESK", ["privacy"]),
    "mon-c": ("C-LEAD", ["monitor"]),
    "mon-d2": ("D2-LEAD", ["monitor"]),
}
USERS = [*STAFF, "citizen-1", "citizen-2"]
COLUMNS = "desk-d1 desk-d2 land-d1 land-d2 tax-d1 lead-d1 lead-d2 priv-d1 mon-c mon-d2 citizen-1 citizen-2"
MATRIX = """
get                    Y N Y N Y Y N Y Y N Y N
get: personal data     P N P N P P N P - N P N
history                Y N Y N Y Y N Y Y N Y N
steps                  Y N Y N Y Y N Y Y N Y N
open_dossiers          Y N Y N Y Y N Y Y N Y N
receive                Y N N N N N N N N N N N
complete_step          N N Y N N N N N N N N N
request_supplement     N N Y N N N N N N N N N
resolve                N N N N N Y N N N N N N
rate                   Y N N N N N N N N N Y N
correct_personal_data  Y N N N N N N Y N N N N
erase_personal_data    N N N N N N N Y N N N N
"""
EXPECTED: dict[str, dict[str, str]] = {}
for _line in MATRIX.strip().splitlines():
    _words = _line.split()
    _n = len(COLUMNS.split())
    EXPECTED[" ".join(_words[:-_n])] = dict(zip(COLUMNS.split(), _words[-_n:], strict=True))
assert list(EXPECTED["get"]) == list(STAFF) + ["citizen-1", "citizen-2"]

APPLICANT = {"name": "Trần Thị Bích", "id_number": "092085001234", "phone": "0912345678"}
START = datetime(2025, 1, 1, tzinfo=VN_TZ)


def directory() -> StaffDirectory:
    return StaffDirectory.from_data(
        {
            "officers": [
                {"user_id": u, "name": u, "agency": a, "roles": r, "valid_from": "2025-01-01"}
                for u, (a, r) in STAFF.items()
            ]
        }
    )


@pytest.fixture(autouse=True)
def _logs_to_this_test() -> None:
    """Refusals log warnings: to this test's stderr, whatever stream an earlier test's CLI run
    left structlog writing to (closed since)."""
    configure(json=False, level="WARNING")


@pytest.fixture
def guarded(db_url: str, clock: ManualClock, calendar: Calendar) -> Iterator[Engine]:
    engine = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar, directory=True)
    with engine.store.begin() as conn:
        load_directory(conn, directory())
    yield engine
    engine.store.dispose()


def at_review(e: Engine, clock: ManualClock) -> int:
    """Submitted online by citizen-1, received by the D1 desk, held by D1-LAND (step 1)."""
    d = e.submit_online("LAND", "D1", applicant=APPLICANT, actor="citizen-1")
    e.receive_submitted(d.id, actor="desk-d1")
    clock.advance(timedelta(hours=1))
    e.complete_step(d.id, actor="desk-d1")
    return d.id


def at_signature(e: Engine, clock: ManualClock) -> int:
    d = at_review(e, clock)
    for who in ("land-d1", "tax-d1"):
        clock.advance(timedelta(hours=1))
        e.complete_step(d, actor=who)
    return d


def returned(e: Engine, clock: ManualClock) -> int:
    d = at_signature(e, clock)
    clock.advance(timedelta(hours=1))
    e.resolve(d, actor="lead-d1")
    e.return_result(d, actor="desk-d1")
    return d


Op = Callable[[Engine, int, str], Any]
# operation: (the dossier's state, what the user does)
OPERATIONS: dict[str, tuple[Callable[[Engine, ManualClock], int], Op]] = {
    "get": (at_review, lambda e, d, u: e.get(d, actor=u)),
    "get: personal data": (at_review, lambda e, d, u: e.get(d, actor=u).applicant_phone),
    "history": (at_review, lambda e, d, u: e.history(d, actor=u)),
    "steps": (at_review, lambda e, d, u: e.steps(d, actor=u)),
    "open_dossiers": (at_review, lambda e, d, u: d in [x.id for x in e.open_dossiers(actor=u)]),
    "receive": (at_review, lambda e, d, u: e.receive("LAND", "D1", actor=u)),
    "complete_step": (at_review, lambda e, d, u: e.complete_step(d, actor=u)),
    "request_supplement": (at_review, lambda e, d, u: e.request_supplement(d, "x", actor=u)),
    "resolve": (at_signature, lambda e, d, u: e.resolve(d, actor=u)),
    "rate": (returned, lambda e, d, u: e.rate(d, 5, actor=u)),
    "correct_personal_data": (
        at_review,
        lambda e, d, u: e.correct_applicant(d, {"phone": "0987654321"}, actor=u),
    ),
    "erase_personal_data": (at_review, lambda e, d, u: e.erase_applicant(d, actor=u)),
}


def written(engine: Engine) -> list[Any]:
    """Every row of the tables a command or query could write (cheaper than a fingerprint of
    all tables, taken twice per cell)."""
    with engine.store.engine.connect() as conn:
        return [
            sorted(map(repr, conn.execute(select(t))))
            for t in (dossiers, events, dossier_steps, idempotency_keys, personal_data)
        ]


def test_access_matrix(guarded: Engine, clock: ManualClock) -> None:
    seen: dict[str, dict[str, str]] = {}
    for op, (prepare, run) in OPERATIONS.items():
        d = prepare(guarded, clock)
        row = seen[op] = {}
        for user in USERS:
            before = written(guarded)
            try:
                result = run(guarded, d, user)
            except Forbidden:
                row[user] = "N"
                assert written(guarded) == before, f"{op} refused to {user} changed the database"
                continue
            if op == "get: personal data":
                row[user] = {APPLICANT["phone"]: "P", None: "-"}[result]
            elif op == "open_dossiers":
                row[user] = "Y" if result else "N"
            else:
                row[user] = "Y"
            if written(guarded) != before:  # it changed the dossier: the next user gets another
                d = prepare(guarded, clock)
    assert seen == EXPECTED


def test_an_agency_of_another_unit_sees_the_dossier_it_holds_and_no_more(
    guarded: Engine, clock: ManualClock
) -> None:
    """A BIRTH bundle of ward W1 ends at D1's social insurance office (a district agency: its
    unit is not the dossier's). That office sees the dossier it holds; D2's does not. A city
    monitor with the privacy role sees it but may not correct or erase its personal data: the
    city neither received nor decides it."""
    staff = {
        "desk-w1": ("W1-DESK", ["desk"]),
        "jus-w1": ("W1-JUS", ["specialist"]),
        "pol-w1": ("W1-POL", ["specialist"]),
        "bhxh-d1": ("D1-BHXH", ["specialist"]),
        "bhxh-d2": ("D2-BHXH", ["specialist"]),
        "audit-c": ("C-LEAD", ["monitor", "privacy"]),
    }
    officers = [
        {"user_id": u, "name": u, "agency": a, "roles": r, "valid_from": "2025-01-01"}
        for u, (a, r) in staff.items()
    ]
    with guarded.store.begin() as conn:
        load_directory(conn, StaffDirectory.from_data({"officers": officers}))
    d = guarded.receive("BIRTH", "W1", applicant=APPLICANT, actor="desk-w1").id
    for who in ("desk-w1", "jus-w1", "pol-w1"):
        clock.advance(timedelta(hours=1))
        guarded.complete_step(d, actor=who)

    def sees(user: str) -> tuple[bool, bool]:
        """(may get the dossier, finds it in open_dossiers)."""
        listed = d in [x.id for x in guarded.open_dossiers(actor=user)]
        try:
            guarded.get(d, actor=user)
        except Forbidden:
            return False, listed
        return True, listed

    assert guarded.get(d, actor="desk-w1").current_agency == "D1-BHXH"
    assert [sees(u) for u in ("bhxh-d1", "bhxh-d2", "audit-c")] == [
        (True, True), (False, False), (True, True),
    ]  # fmt: skip
    before = fingerprint(guarded)
    with pytest.raises(Forbidden, match="which did not receive or decide"):
        guarded.correct_applicant(d, {"phone": "0987654321"}, actor="audit-c")
    with pytest.raises(Forbidden, match="which did not receive or decide"):
        guarded.erase_applicant(d, actor="audit-c")
    assert fingerprint(guarded) == before


def test_a_desk_officer_who_adds_leader_to_her_roles_cannot_resolve(
    guarded: Engine, clock: ManualClock
) -> None:
    d = at_signature(guarded, clock)
    before = fingerprint(guarded)
    boasting = Actor(user_id="desk-d1", agency="D1-DESK", roles=frozenset({"desk", "leader"}))
    with pytest.raises(Forbidden, match="directory gives roles \\['desk'\\]"):
        guarded.resolve(d, actor=boasting)
    # Claiming another agency's leader does not work either, nor reading with such a claim.
    posing = Actor(user_id="desk-d1", agency="D1-LEAD", roles=frozenset({"leader"}))
    with pytest.raises(Forbidden):
        guarded.resolve(d, actor=posing)
    with pytest.raises(Forbidden):
        guarded.get(
            d, actor=Actor(user_id="citizen-2", agency="D1-LEAD", roles=frozenset({"leader"}))
        )
    assert fingerprint(guarded) == before
    # The true claim (the directory's) is accepted.
    honest = Actor(user_id="lead-d1", agency="D1-LEAD", roles=frozenset({"leader"}))
    assert guarded.resolve(d, actor=honest).outcome == "approved"


def test_roles_are_looked_up_at_the_command_instant(guarded: Engine, clock: ManualClock) -> None:
    d = guarded.receive("LAND", "D1", actor="desk-d1")
    with guarded.store.begin() as conn:
        end_officer(conn, "desk-d1", clock.now() + timedelta(hours=1))
    guarded.complete_step(d.id, actor="desk-d1")  # still staff
    clock.advance(timedelta(hours=2))
    with pytest.raises(Forbidden):  # now only an applicant account, without any dossier
        guarded.receive("LAND", "D1", actor="desk-d1")
    with pytest.raises(Forbidden):
        guarded.get(d.id, actor="desk-d1")
    assert guarded.open_dossiers(actor="desk-d1") == []


def test_no_user_no_access(guarded: Engine, clock: ManualClock) -> None:
    d = guarded.receive("LAND", "D1", actor="desk-d1")
    for call in (
        lambda: guarded.get(d.id),
        lambda: guarded.history(d.id),
        lambda: guarded.steps(d.id),
        lambda: guarded.open_dossiers(),
        lambda: guarded.complete_step(d.id),
        lambda: guarded.receive("LAND", "D1"),
    ):
        with pytest.raises(Forbidden, match="name the acting user"):
            call()


def test_a_loaded_directory_is_enforced_by_every_engine_opened_later(
    guarded: Engine, db_url: str, clock: ManualClock, calendar: Calendar
) -> None:
    later = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar)
    try:
        assert later.authority.directory is True
        with pytest.raises(Forbidden):
            later.receive("LAND", "D1")
    finally:
        later.store.dispose()


def test_the_desk_rating_is_marked_as_on_the_applicants_behalf(
    guarded: Engine, clock: ManualClock
) -> None:
    by_desk, by_citizen = returned(guarded, clock), returned(guarded, clock)
    guarded.rate(by_desk, 4, actor="desk-d1")
    guarded.rate(by_citizen, 5, actor="citizen-1")
    desk_event = guarded.history(by_desk, actor="desk-d1")[-1]
    own_event = guarded.history(by_citizen, actor="citizen-1")[-1]
    assert desk_event.data["args"] == {
        "score": 4,
        "rated_by": "desk",
        "on_behalf_of_applicant": True,
    }
    assert own_event.data["args"] == {"score": 5, "rated_by": "applicant"}
    # The applicant's account is not in the chain: the event names the vault reference.
    ref = guarded.get(by_citizen, actor="citizen-1").applicant_ref
    assert own_event.actor == f"applicant:{ref}" and desk_event.actor == "desk-d1"


# -- idempotency keys ------------------------------------------------------------------------


def test_a_key_replays_only_for_its_user_command_and_dossier(
    guarded: Engine, clock: ManualClock
) -> None:
    d1 = guarded.receive("LAND", "D1", actor="desk-d1", idempotency_key="k")
    assert guarded.receive("LAND", "D1", actor="desk-d1", idempotency_key="k").id == d1.id
    # Another user's "k": their own command, not desk-d1's dossier.
    d2 = guarded.receive("LAND", "D2", actor="desk-d2", idempotency_key="k")
    assert (d2.id != d1.id, d2.competent_unit) == (True, "D2")
    # The same key on another dossier: the command runs there.
    e1 = guarded.receive("LAND", "D1", actor="desk-d1")
    step_a = guarded.complete_step(d1.id, actor="desk-d1", idempotency_key="s")
    step_b = guarded.complete_step(e1.id, actor="desk-d1", idempotency_key="s")
    assert (step_a.id, step_a.step_index, step_b.id, step_b.step_index) == (d1.id, 1, e1.id, 1)
    # A retry after the dossier moved on (desk-d1 may no longer complete it) gets its result.
    again = guarded.complete_step(d1.id, actor="desk-d1", idempotency_key="s")
    assert (again.version, again.step_index) == (step_a.version, 1)


def test_someone_elses_key_never_returns_their_row(guarded: Engine, clock: ManualClock) -> None:
    d = guarded.receive("LAND", "D1", actor="desk-d1", idempotency_key="secret-k")
    guarded.complete_step(d.id, actor="desk-d1", idempotency_key="step-k")
    before = fingerprint(guarded)
    # desk-d2 replays both keys on the D1 dossier: refused, as for any command of hers there.
    with pytest.raises(Forbidden):
        guarded.complete_step(d.id, actor="desk-d2", idempotency_key="step-k")
    with pytest.raises(Forbidden):  # and the create key is hers alone: a receive at D1 is not
        guarded.receive("LAND", "D1", actor="desk-d2", idempotency_key="secret-k")
    # land-d1 may act on it: with desk-d1's key, her own command runs (no replay).
    assert fingerprint(guarded) == before
    mine = guarded.complete_step(d.id, actor="land-d1", idempotency_key="step-k")
    assert (mine.step_index, mine.current_agency) == (2, "D1-TAX")
    assert guarded.history(d.id, actor="land-d1")[-1].actor == "land-d1"


def test_a_key_reused_with_other_arguments_is_refused(guarded: Engine, clock: ManualClock) -> None:
    d = at_review(guarded, clock)
    guarded.request_supplement(d, "missing the land certificate", actor="land-d1",
                               idempotency_key="ask")  # fmt: skip
    before = fingerprint(guarded)
    with pytest.raises(IdempotencyKeyReused, match=f"'request_supplement' on dossier {d}"):
        guarded.request_supplement(d, "missing the tax form", actor="land-d1",
                                   idempotency_key="ask")  # fmt: skip
    assert fingerprint(guarded) == before
    guarded.receive("LAND", "D1", actor="desk-d1", idempotency_key="r", applicant=APPLICANT)
    before = fingerprint(guarded)
    other = {**APPLICANT, "phone": "0911111111"}
    with pytest.raises(IdempotencyKeyReused, match="on a new dossier"):
        guarded.receive("LAND", "D1", actor="desk-d1", idempotency_key="r", applicant=other)
    assert fingerprint(guarded) == before


def test_embedded_with_a_policy_only_the_owner_rates(
    db_url: str, clock: ManualClock, calendar: Calendar
) -> None:
    """Without a directory the caller's Actors are trusted, but ownership still comes from the
    vault: an applicant Actor rates only the dossier it submitted."""
    engine = Engine.open(
        db_url, FIXTURES, clock=clock, calendar=calendar, policy=OneStopPolicy(), directory=False
    )
    try:
        staff = {u: Actor(user_id=u, agency=a, roles=frozenset(r)) for u, (a, r) in STAFF.items()}
        mine = Actor(user_id="citizen-1", roles=frozenset({"applicant"}))
        other = Actor(user_id="citizen-2", roles=frozenset({"applicant"}))
        d = engine.submit_online("LAND", "D1", actor=mine).id
        engine.receive_submitted(d, actor=staff["desk-d1"])
        for who in ("desk-d1", "land-d1", "tax-d1"):
            clock.advance(timedelta(hours=1))
            engine.complete_step(d, actor=staff[who])
        engine.resolve(d, actor=staff["lead-d1"])
        engine.return_result(d, actor=staff["desk-d1"])
        with pytest.raises(Forbidden, match="only their own dossier"):
            engine.rate(d, 1, actor=other)
        assert engine.rate(d, 5, actor=mine).rating == 5
    finally:
        engine.store.dispose()
