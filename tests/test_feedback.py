"""Citizen feedback on the engine: every path, time limits written out by hand, typed refusals
that change nothing, the access policy, the shared log verified; on both backends.

Limits (workflows/feedback.yaml, Decree 20/2008 as amended by Decree 92/2017): classification 5
working days, handling 10, one extension of 10; counted from the next office opening after
receipt (07:00-11:00, 13:00-17:00).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
import structlog

from onestop import Engine, ManualClock
from onestop._machine import Transition
from onestop.access import Actor, Forbidden
from onestop.alerts import AlertSweeper
from onestop.audit import verify
from onestop.errors import DefinitionError, InvalidTransition, UnknownFeedback, ValidationError
from onestop.feedback import EDGES, FeedbackLaw, FeedbackLifecycle, check_graph, is_overdue
from onestop.feedback_access import FeedbackPolicy
from onestop.feedback_commands import FeedbackDesk
from tests.helpers import dt, fingerprint

LAW = FeedbackLaw.load(Path(__file__).parent.parent / "workflows")


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    # A CLI test run before may leave structlog writing to its runner's closed stderr; refusals
    # here log warnings.
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def desk(engine: Engine) -> Iterator[FeedbackDesk]:
    yield FeedbackDesk(engine, LAW)


def test_within_competence_answered_on_time_published_rated(
    desk: FeedbackDesk, clock: ManualClock
) -> None:
    clock.set(dt(2025, 3, 3, 9))  # Monday
    item = desk.receive(channel="hotline", subject="procedure", unit="W1", topic="civil_status")
    assert item.status == "received"
    assert item.due_at == dt(2025, 3, 10, 9)  # 4, 5, 6, 7, 10 March
    assert item.law == "decree-92-2017"
    clock.set(dt(2025, 3, 4, 10))
    item = desk.accept(item.id)
    assert item.due_at == dt(2025, 3, 17, 9)  # ten working days from receipt
    assert item.outcome == "within_competence"
    item = desk.assign(item.id, "cb-07")
    clock.set(dt(2025, 3, 17, 9))
    item = desk.answer(item.id)
    assert (item.status, item.timeliness) == ("answered", "on_time")
    clock.set(dt(2025, 3, 18, 8))
    item = desk.publish(item.id)
    assert item.published_at == dt(2025, 3, 18, 8)
    item = desk.rate(item.id, 5, "zalo", comment="Cảm ơn cán bộ")
    item = desk.close(item.id)
    assert (item.status, item.rating, item.version) == ("closed", 5, 7)
    triggers = [e.trigger for e in desk.history(item.id)]
    assert triggers == ["receive", "accept", "assign", "answer", "publish", "rate", "close"]
    # The comment is kept out of the event chain.
    assert "Cảm ơn" not in str([e.data for e in desk.history(item.id)])
    assert verify(desk.engine.store) == []


def test_answered_a_day_early(desk: FeedbackDesk, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9))
    item = desk.accept(desk.receive(channel="portal", subject="regulation", unit="W1").id)
    item = desk.assign(item.id, "cb-07")
    clock.set(dt(2025, 3, 14, 16, 59))
    assert desk.answer(item.id).timeliness == "early"


def test_forwarded_across_the_may_holidays(desk: FeedbackDesk, clock: ManualClock) -> None:
    # Friday 25 April 2025 16:00: Saturday 26 April is worked (swapped for 2 May); 30 April,
    # 1 and 2 May are off. Five working days: 26, 28, 29 April, 5, 6 May.
    clock.set(dt(2025, 4, 25, 16))
    item = desk.receive(channel="counter", subject="regulation", unit="D1")
    assert item.due_at == dt(2025, 5, 6, 16)
    clock.set(dt(2025, 5, 6, 15))
    item = desk.forward(item.id, "C-JUS", reason="thuộc thẩm quyền Sở Tư pháp")
    assert (item.status, item.forwarded_to, item.timeliness) == ("forwarded", "C-JUS", "on_time")
    with pytest.raises(InvalidTransition):
        desk.assign(item.id, "cb-01")


def test_forwarded_late(desk: FeedbackDesk, clock: ManualClock) -> None:
    clock.set(dt(2025, 4, 25, 16))
    item = desk.receive(channel="counter", subject="regulation", unit="D1")
    clock.set(dt(2025, 5, 6, 16, 1))
    assert desk.forward(item.id, "C-JUS").timeliness == "late"


def test_rejected_with_a_reason(desk: FeedbackDesk, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9))
    item = desk.receive(channel="mail", subject="procedure", unit="W1", anonymous=True)
    clock.set(dt(2025, 3, 3, 11))
    item = desk.reject(item.id, "anonymous")
    assert (item.status, item.reject_reason, item.timeliness) == ("rejected", "anonymous", "early")
    with pytest.raises(ValidationError, match="reason"):
        desk.reject(desk.receive(channel="mail", subject="procedure", unit="W1").id, "rude")


def test_answered_late_after_an_extension(desk: FeedbackDesk, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9))
    item = desk.accept(desk.receive(channel="portal", subject="procedure", unit="W1").id)
    item = desk.assign(item.id, "cb-07")
    clock.set(dt(2025, 3, 14, 10))  # the working day before the limit: notice in time
    item = desk.extend(item.id, "cần xác minh với cơ quan khác")
    assert (item.due_at, item.original_due_at) == (dt(2025, 3, 31, 9), dt(2025, 3, 17, 9))
    assert desk.history(item.id)[-1].data["args"]["notice_in_time"] is True
    before = fingerprint(desk.engine)
    with pytest.raises(InvalidTransition, match="extended"):
        desk.extend(item.id, "lần hai")
    assert fingerprint(desk.engine) == before
    clock.set(dt(2025, 3, 28, 9))  # before the new limit: still late, as after an apology
    assert desk.answer(item.id).timeliness == "late"
    assert verify(desk.engine.store) == []


def test_extension_notice_late_is_recorded(desk: FeedbackDesk, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9))
    item = desk.accept(desk.receive(channel="portal", subject="procedure", unit="W1").id)
    clock.set(dt(2025, 3, 17, 8))  # the limit's own day: too late for the notice
    desk.extend(item.id, "quá tải")
    assert desk.history(item.id)[-1].data["args"]["notice_in_time"] is False


def test_invalid_transitions_are_typed_and_change_nothing(
    desk: FeedbackDesk, clock: ManualClock
) -> None:
    clock.set(dt(2025, 3, 3, 9))
    item = desk.receive(channel="portal", subject="procedure", unit="W1")
    before = fingerprint(desk.engine)
    refusals: list[Callable[[], object]] = [
        lambda: desk.answer(item.id),
        lambda: desk.publish(item.id),
        lambda: desk.close(item.id),
        lambda: desk.assign(item.id, "cb-01"),
        lambda: desk.rate(item.id, 4, "zalo"),
    ]
    for refused in refusals:
        with pytest.raises(InvalidTransition):
            refused()
    with pytest.raises(UnknownFeedback):
        desk.accept(item.id + 1)
    with pytest.raises(ValidationError, match="channel"):
        desk.receive(channel="pigeon", subject="procedure", unit="W1")
    with pytest.raises(ValidationError, match="topic"):
        desk.receive(channel="portal", subject="procedure", unit="W1", topic="astrology")
    assert fingerprint(desk.engine) == before


def test_overdue_and_due_soon_from_the_core(desk: FeedbackDesk, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9))
    late = desk.receive(channel="portal", subject="procedure", unit="W1")  # due 10 March 09:00
    clock.set(dt(2025, 3, 5, 9))
    desk.receive(channel="portal", subject="procedure", unit="W1")  # due 12 March 09:00
    overdue = desk.open_items(overdue_at=dt(2025, 3, 10, 9, 1))
    assert [i.id for i in overdue] == [late.id]
    assert desk.open_items(overdue_at=dt(2025, 3, 10, 9)) == []  # at the limit: not yet
    soon = desk.open_items(due_soon=(dt(2025, 3, 11, 9), dt(2025, 3, 12, 9)))
    assert [i.id for i in soon] == [late.id + 1]


def test_law_versions_by_day_of_receipt() -> None:
    assert LAW.in_force(date(2017, 9, 24)).name == "decree-20-2008"
    assert LAW.in_force(date(2017, 9, 25)).name == "decree-92-2017"
    assert LAW.in_force(date(2017, 9, 25)).limits.classify.assumed is False
    assert LAW.in_force(date(2017, 9, 25)).limits.handle.assumed is True


def test_lifecycle_is_checked_when_built() -> None:
    FeedbackLifecycle()
    dead_end = (*EDGES, Transition("park", ("accepted",), "parked"))
    with pytest.raises(DefinitionError, match="parked: a dead end"):
        check_graph(["new", *{s for e in dead_end for s in (*e.sources, e.dest) if s}], dead_end)
    leaves_final = (*EDGES, Transition("reopen", ("closed",), "received"))
    with pytest.raises(DefinitionError, match="final status has a transition 'reopen'"):
        FeedbackLifecycle(leaves_final)


def _actor(user: str, agency: str, *roles: str) -> Actor:
    return Actor(user_id=user, agency=agency, roles=frozenset(roles))


def test_who_may_read_an_officer_conduct_complaint(engine: Engine, clock: ManualClock) -> None:
    desk = FeedbackDesk(engine, LAW, policy=FeedbackPolicy())
    clock.set(dt(2025, 3, 3, 9))
    desk_officer = _actor("mc-01", "W1-DESK", "desk")
    complaint = desk.receive(
        channel="counter", subject="officer_conduct", unit="W1", actor=desk_officer
    )
    ordinary = desk.receive(channel="counter", subject="procedure", unit="W1", actor=desk_officer)
    colleague = _actor("tp-01", "W1-JUS", "specialist")
    with pytest.raises(Forbidden):
        desk.get(complaint.id, actor=colleague)
    with pytest.raises(Forbidden):
        desk.history(complaint.id, actor=desk_officer)
    assert desk.get(ordinary.id, actor=colleague).id == ordinary.id
    assert desk.get(complaint.id, actor=_actor("ct-01", "W1-LEAD", "leader")).id == complaint.id
    city_inspector = _actor("tt-01", "C-LEAD", "inspector")
    assert desk.get(complaint.id, actor=city_inspector).id == complaint.id
    with pytest.raises(Forbidden):  # an inspector of another district
        desk.get(complaint.id, actor=_actor("tt-02", "D2-LEAD", "inspector"))
    with pytest.raises(Forbidden):  # another commune's staff, ordinary feedback
        desk.get(ordinary.id, actor=_actor("mc-02", "W2-DESK", "desk"))
    # The worklist is filtered the same way: each sees only what they may read.
    assert [i.id for i in desk.open_items(actor=colleague)] == [ordinary.id]
    assert [i.id for i in desk.open_items(actor=city_inspector)] == [complaint.id]
    assert desk.open_items(actor=_actor("mc-02", "W2-DESK", "desk")) == []
    with pytest.raises(Forbidden):  # with a policy, an unnamed caller sees nothing
        desk.open_items()
    before = fingerprint(engine)
    with pytest.raises(Forbidden):
        desk.accept(complaint.id, actor=desk_officer)
    assert fingerprint(engine) == before
    assert desk.accept(complaint.id, actor=city_inspector).status == "accepted"


def test_who_may_receive_handle_and_extend_ordinary_feedback(
    engine: Engine, clock: ManualClock
) -> None:
    """Ordinary feedback received at W1 and placed with W1-JUS: the W1 desk receives, W1-JUS
    handles, W1's leader extends; a leader of another commune may not read a complaint."""
    desk = FeedbackDesk(engine, LAW, policy=FeedbackPolicy())
    clock.set(dt(2025, 3, 3, 9))
    w1_desk, w2_desk = _actor("mc-01", "W1-DESK", "desk"), _actor("mc-02", "W2-DESK", "desk")
    w1_jus = _actor("tp-01", "W1-JUS", "specialist")
    w1_lead, w2_lead = _actor("ct-01", "W1-LEAD", "leader"), _actor("ct-02", "W2-LEAD", "leader")
    before = fingerprint(engine)
    with pytest.raises(Forbidden, match="not at the desk of W1"):
        desk.receive(channel="counter", subject="procedure", unit="W1", actor=w2_desk)
    assert fingerprint(engine) == before
    item = desk.receive(
        channel="counter", subject="procedure", unit="W1", agency="W1-JUS", actor=w1_desk
    )
    complaint = desk.receive(channel="counter", subject="officer_conduct", unit="W1", actor=w1_desk)
    before = fingerprint(engine)
    refusals: list[tuple[str, Callable[[], object]]] = [
        ("with W1-JUS, not with W1-DESK", lambda: desk.accept(item.id, actor=w1_desk)),
        ("needs the leader role at W1", lambda: desk.extend(item.id, "x", actor=w1_jus)),
        ("needs the leader role at W1", lambda: desk.extend(item.id, "x", actor=w2_lead)),
        ("only the inspectorate and the leaders of W1",
         lambda: desk.get(complaint.id, actor=w2_lead)),
    ]  # fmt: skip
    for message, refused in refusals:
        with pytest.raises(Forbidden, match=message):
            refused()
    assert fingerprint(engine) == before
    assert desk.accept(item.id, actor=w1_jus).status == "accepted"
    assert desk.extend(item.id, "cần xác minh", actor=w1_lead).extensions == 1


def test_overdue_predicate_only_for_items_being_handled() -> None:
    limit, later = dt(2025, 3, 10, 9), dt(2025, 3, 20, 9)
    assert [is_overdue(s, limit, later) for s in ("received", "accepted", "assigned")] == [
        True,
        True,
        True,
    ]
    assert [is_overdue(s, limit, later) for s in ("answered", "forwarded", "closed")] == [
        False,
        False,
        False,
    ]


def test_due_soon_and_overdue_alerts_once_each(desk: FeedbackDesk, clock: ManualClock) -> None:
    engine = desk.engine
    clock.set(dt(2025, 3, 3, 9))
    item = desk.receive(channel="portal", subject="procedure", unit="W1")  # limit 10 March 09:00
    answered = desk.assign(desk.accept(desk.receive(channel="mail", subject="regulation",
                                                    unit="D1").id).id, "x")  # fmt: skip
    desk.answer(answered.id)
    sweeper = AlertSweeper(engine.store, engine.clock, engine.calendar)
    assert sweeper.sweep(dt(2025, 3, 7, 8, 59)) == []  # horizon 10 March 08:59: not yet
    soon = sweeper.sweep(dt(2025, 3, 7, 10))  # horizon: Monday 10 March 10:00
    assert [(a.dossier_id, a.kind, a.unit, a.procedure_code, a.due_at) for a in soon] == [
        (-item.id, "due_soon", "W1", "feedback", dt(2025, 3, 10, 9))
    ]
    assert soon[0].scope == "feedback"
    assert sweeper.sweep(dt(2025, 3, 7, 11)) == []
    assert sweeper.sweep(dt(2025, 3, 10, 9)) == []  # at the limit: not overdue yet
    late = sweeper.sweep(dt(2025, 3, 10, 9, 1))
    assert [(a.dossier_id, a.kind) for a in late] == [(-item.id, "overdue")]
    assert sweeper.sweep(dt(2025, 3, 20, 9)) == []


def test_idempotency_keys_replay_the_first_result(desk: FeedbackDesk, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9))
    first = desk.receive(channel="portal", subject="procedure", unit="W1", idempotency_key="r-1")
    again = desk.receive(channel="portal", subject="procedure", unit="W1", idempotency_key="r-1")
    assert again == first
    desk.assign(desk.accept(first.id).id, "x")
    clock.set(dt(2025, 3, 5, 9))
    answered = desk.answer(first.id, idempotency_key="a-1")
    before = fingerprint(desk.engine)
    clock.set(dt(2025, 3, 6, 9))
    assert desk.answer(first.id, idempotency_key="a-1") == answered
    assert fingerprint(desk.engine) == before
    with pytest.raises(ValidationError, match="idempotency_key"):
        desk.publish(first.id, idempotency_key="a-1")
    assert verify(desk.engine.store) == []


def test_feedback_is_received_where_the_city_is_organised_on_the_day(tmp_path: Path) -> None:
    # The bundled definitions serve the 2024 city and the merged city from 1 July 2025: like a
    # dossier, feedback goes to the unit set in force on its day.
    from onestop import AbolishedUnit

    clock = ManualClock(dt(2025, 6, 30, 9))
    engine = Engine.open(f"sqlite:///{tmp_path / 'fb.db'}", clock=clock, dev=True)
    desk = FeedbackDesk(engine, LAW)
    before = desk.receive(channel="counter", subject="procedure", unit="92.NK")
    assert (before.unit, before.level) == ("92.NK", "district")
    clock.set(dt(2026, 11, 24, 9))
    item = desk.receive(channel="counter", subject="procedure", unit="92.NINHKIEU")
    assert (item.unit, item.agency, item.level) == ("92.NINHKIEU", "92.NINHKIEU.DESK", "commune")
    with pytest.raises(AbolishedUnit, match="92.NINHKIEU"):  # district Ninh Kiều, abolished
        desk.receive(channel="counter", subject="procedure", unit="92.NK")
    engine.store.dispose()
