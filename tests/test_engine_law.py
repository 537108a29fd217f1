"""The engine applies the deadline law end to end (expected values written by hand)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from onestop import Engine, InvalidTransition, ManualClock, Status, Timeliness
from onestop.errors import DefinitionError, ValidationError
from onestop.lifecycle import _check_graph
from onestop.status import FINAL_STATUSES

from .helpers import assert_replays, dt, fingerprint


def to_last_step(engine: Engine, clock: ManualClock, dossier_id: int) -> None:
    d = engine.get(dossier_id)
    while d.step_index + 1 < d.step_count:
        clock.advance(timedelta(minutes=30))
        d = engine.complete_step(dossier_id)


@pytest.mark.parametrize(
    ("received", "due", "step_due"),
    [
        (dt(2025, 3, 4, 7, 30), dt(2025, 3, 4, 17, 0), dt(2025, 3, 4, 13, 30)),
        # 14:00 + 4 office hours would be 08:00 next day: capped at the appointment.
        (dt(2025, 3, 4, 14, 0), dt(2025, 3, 4, 17, 0), dt(2025, 3, 4, 17, 0)),
        # After 15:00: the step starts next morning, the dossier is due at its close.
        (dt(2025, 3, 4, 15, 30), dt(2025, 3, 5, 17, 0), dt(2025, 3, 5, 11, 0)),
    ],
)
def test_same_day_copy(
    engine: Engine, clock: ManualClock, received: datetime, due: datetime, step_due: datetime
) -> None:
    clock.set(received)
    d = engine.receive("COPY", "W1")
    assert (d.due_at, d.step_due_at) == (due, step_due)


def test_one_supplement_request_then_a_reasoned_one_that_does_not_stop_the_clock(
    engine: Engine, clock: ManualClock
) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    d = engine.receive("BIRTH", "W1")
    d = engine.request_supplement(d.id, "thiếu giấy chứng sinh")
    assert d.paused_at == dt(2025, 3, 3, 9, 0) and d.supplements_requested == 1
    clock.set(dt(2025, 3, 4, 9, 0))
    d = engine.supplement(d.id)
    assert d.due_at == dt(2025, 3, 7, 9, 0)  # one working day of waiting, shifted
    before = fingerprint(engine)
    with pytest.raises(ValidationError, match="extra_reason"):
        engine.request_supplement(d.id, "thiếu tờ khai")
    assert fingerprint(engine) == before
    d = engine.request_supplement(d.id, "thiếu tờ khai", extra_reason="giấy tờ mới phát sinh")
    assert d.status is Status.SUPPLEMENT_REQUESTED
    assert d.paused_at is None and d.supplements_requested == 2
    args = engine.history(d.id)[-1].data["args"]
    assert args["extra_reason"] == "giấy tờ mới phát sinh" and args["clock"] == "running"
    clock.set(dt(2025, 3, 6, 9, 0))
    d = engine.supplement(d.id)
    assert d.due_at == dt(2025, 3, 7, 9, 0)  # the clock ran: nothing shifted
    assert_replays(engine, d.id)


def test_an_overdue_dossier_stays_late_after_a_supplement(
    engine: Engine, clock: ManualClock
) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))  # LAND: 10 working days, restart rule
    d = engine.receive("LAND", "D1")
    assert d.due_at == dt(2025, 3, 17, 9, 0)
    clock.set(dt(2025, 3, 24, 9, 0))  # five working days overdue
    d = engine.complete_step(d.id)
    d = engine.request_supplement(d.id, "thiếu hợp đồng công chứng")
    assert engine.history(d.id)[-1].data["args"]["on_supplement"] == "shift"
    clock.set(dt(2025, 3, 25, 9, 0))
    d = engine.supplement(d.id)
    assert d.due_at == dt(2025, 3, 18, 9, 0)  # shifted by one working day, still past
    assert d.original_due_at == dt(2025, 3, 17, 9, 0)
    to_last_step(engine, clock, d.id)
    d = engine.resolve(d.id)
    assert d.timeliness is Timeliness.LATE


def test_apology_notice_recorded_by_the_day(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    d = engine.receive("BIRTH", "W1")  # due Thursday 6 March 09:00
    other = engine.receive("BIRTH", "W2")
    clock.set(dt(2025, 3, 5, 16, 0))  # three office hours before, but the day before
    d = engine.apologise(d.id, dt(2025, 3, 12, 9, 0), "cần xác minh thêm")
    assert engine.history(d.id)[-1].data["args"]["notice_in_time"] is True
    clock.set(dt(2025, 3, 6, 7, 0))  # on the appointment day itself: late notice
    engine.apologise(other.id, dt(2025, 3, 12, 9, 0), "cần xác minh thêm")
    assert engine.history(other.id)[-1].data["args"]["notice_in_time"] is False


def test_rating_is_a_fact_on_a_returned_dossier(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("COPY", "W1")
    d = engine.resolve(d.id)
    with pytest.raises(InvalidTransition, match="only a returned dossier"):
        engine.rate(d.id, 5)
    assert "rate" not in engine.catalog.lifecycle(engine.catalog.get("COPY")).triggers


def test_final_statuses_have_no_way_out(engine: Engine) -> None:
    for proc in engine.catalog.all_versions():
        life = engine.catalog.lifecycle(proc)
        for final in FINAL_STATUSES & life.statuses:
            from onestop.lifecycle import Facts

            assert life.allowed(Facts(final.value, steps=len(proc.route.steps))) == []
    from onestop._machine import Transition

    graph = {"new": {"returned"}, "returned": {"returned"}}
    edges = [
        Transition("receive", ("new",), "returned"),
        Transition("rate", ("returned",), None),
    ]
    with pytest.raises(DefinitionError, match="final status 'returned' has a transition 'rate'"):
        _check_graph("X", graph, edges)
