"""Every path of the lifecycle, from receipt to return, on SQLite and PostgreSQL.

After each path the stored dossier row must equal the replay of its events.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from onestop import Engine, InvalidTransition, ManualClock, Status, Timeliness

from .helpers import assert_replays, dt, due_at, received_at


def walk_steps(engine: Engine, clock: ManualClock, dossier_id: int, hours: float = 1) -> None:
    d = engine.get(dossier_id)
    while d.step_index + 1 < d.step_count:
        clock.advance(timedelta(hours=hours))
        d = engine.complete_step(d.id, actor="officer")


def test_counter_path_with_rating(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("BIRTH", "W1", applicant={"name": "Trần Thị B", "id_number": "092012345678"})
    assert d.status is Status.RECEIVED and d.status_code == 2
    assert d.due_at == dt(2025, 2, 5, 9, 0)  # 3 working days across Tết 2025
    assert d.current_agency == "W1-DESK"
    walk_steps(engine, clock, d.id)
    d = engine.get(d.id)
    assert d.status is Status.PROCESSING and d.current_agency == "D1-BHXH"
    d = engine.resolve(d.id)
    assert d.status is Status.RESOLVED and d.timeliness is Timeliness.EARLY
    d = engine.return_result(d.id)
    assert d.status is Status.RETURNED and d.status_code == 10
    d = engine.rate(d.id, 5)
    assert d.rating == 5
    with pytest.raises(InvalidTransition, match="already been rated"):
        engine.rate(d.id, 4)
    steps = engine.steps(d.id)
    assert [s.agency for s in steps] == ["W1-DESK", "W1-JUS", "W1-POL", "D1-BHXH"]
    assert all(s.completed_at is not None for s in steps)
    assert [e.trigger for e in engine.history(d.id)] == [
        "receive",
        "complete_step",
        "complete_step",
        "complete_step",
        "resolve",
        "return_result",
        "rate",
    ]
    assert_replays(engine, d.id)


def test_online_submission_received_then_returned_online(
    engine: Engine, clock: ManualClock
) -> None:
    d = engine.submit_online("JUDICIAL", "C", reference="G22.99-250124-0001")
    assert d.status is Status.SUBMITTED and d.due_at is None and d.status_code == 1
    clock.advance(timedelta(days=4))  # Tuesday 28 Jan, Tết: received when the office reopens
    d = engine.receive_submitted(d.id, actor="desk-1")
    assert d.status is Status.RECEIVED
    assert d.due_at == engine.calendar.add_working_days(dt(2025, 2, 3, 7, 0), 10)
    walk_steps(engine, clock, d.id)
    d = engine.resolve(engine.get(d.id).id)
    d = engine.return_result(d.id)
    assert d.status is Status.RETURNED and d.return_method == "online"
    assert_replays(engine, d.id)


def test_online_submission_refused(engine: Engine) -> None:
    d = engine.submit_online("BIRTH", "W2")
    d = engine.refuse(d.id, "không thuộc thẩm quyền")
    assert d.status is Status.REFUSED and d.closed_at is not None
    assert engine.history(d.id)[-1].data["args"] == {"reason": "không thuộc thẩm quyền"}
    assert_replays(engine, d.id)


def test_refused_at_intake_is_kept_in_the_ledger(engine: Engine) -> None:
    d = engine.refuse_at_intake("LAND", "D1", "hồ sơ không đủ điều kiện")
    assert d.status is Status.REFUSED and d.received_at is None
    assert_replays(engine, d.id)


def test_online_submission_withdrawn(engine: Engine) -> None:
    d = engine.submit_online("LAND", "D2")
    d = engine.withdraw(d.id, reason="đổi ý")
    assert d.status is Status.WITHDRAWN
    assert_replays(engine, d.id)


def test_supplement_pauses_the_clock(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))  # Monday
    d = engine.receive("BIRTH", "W1")
    due = d.due_at
    assert due == dt(2025, 3, 6, 9, 0)
    clock.advance(timedelta(hours=1))
    d = engine.complete_step(d.id)
    d = engine.request_supplement(d.id, "thiếu giấy chứng sinh")
    assert d.status is Status.SUPPLEMENT_REQUESTED and d.status_code == 5
    clock.set(dt(2025, 3, 5, 10, 0))  # two working days later
    d = engine.supplement(d.id)
    assert d.status is Status.PROCESSING and d.step_index == 1
    # Paused Monday 10:00 to Wednesday 10:00: two working days later than Thursday 09:00.
    assert d.due_at == dt(2025, 3, 10, 9, 0)
    assert d.original_due_at == dt(2025, 3, 6, 9, 0)  # Form 01's appointment, kept on record
    walk_steps(engine, clock, d.id)
    d = engine.resolve(d.id)
    assert d.timeliness is Timeliness.EARLY
    assert_replays(engine, d.id)


def test_supplement_restart_rule_within_the_intake_check_window(
    engine: Engine, clock: ManualClock
) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))  # Monday; LAND: 10 working days, restart, 3-day window
    d = engine.receive("LAND", "D1")
    assert d.due_at == dt(2025, 3, 17, 9, 0)
    clock.advance(timedelta(hours=2))
    d = engine.complete_step(d.id)
    clock.set(dt(2025, 3, 5, 9, 0))  # two working days after receipt: inside the window
    d = engine.request_supplement(d.id, "thiếu hợp đồng công chứng")
    clock.set(dt(2025, 3, 12, 14, 0))
    d = engine.supplement(d.id)
    # The full 10 working days again from Wednesday 12 March 14:00, the review step's 6 too.
    assert d.due_at == dt(2025, 3, 26, 14, 0)
    assert d.step_due_at == dt(2025, 3, 20, 14, 0)
    assert d.original_due_at == dt(2025, 3, 17, 9, 0)
    assert engine.steps(d.id)[1].due_at == dt(2025, 3, 20, 14, 0)
    assert [e.data["args"].get("clock") for e in engine.history(d.id)[-2:]] == [
        "stopped",
        "restarted",
    ]
    assert_replays(engine, d.id)


def test_supplement_after_the_window_only_shifts(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    d = engine.receive("LAND", "D1")
    clock.advance(timedelta(hours=2))
    d = engine.complete_step(d.id)
    clock.set(dt(2025, 3, 7, 9, 0))  # window ended Thursday 09:00: the clock pauses instead
    d = engine.request_supplement(d.id, "thiếu hợp đồng công chứng")
    clock.set(dt(2025, 3, 12, 14, 0))
    d = engine.supplement(d.id)
    # Waiting time: Fri 09-17 (6 h), Mon and Tue (16 h), Wed 07-14 (5 h) = 27 office hours;
    # 17 March 09:00 + 27 h = 20 March 14:00.
    assert d.due_at == dt(2025, 3, 20, 14, 0)
    assert d.original_due_at == dt(2025, 3, 17, 9, 0)
    assert engine.history(d.id)[-1].data["args"]["clock"] == "shifted"
    assert_replays(engine, d.id)


def test_payment_pauses_and_records_online_payment(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    d = engine.receive("LAND", "D2", channel="online", return_method="online")
    due = due_at(d)
    walk_steps(engine, clock, d.id)
    d = engine.request_payment(d.id, 1_500_000, reason="thuế thu nhập cá nhân")
    assert d.status is Status.PAYMENT_REQUESTED and d.status_code == 6
    clock.advance(timedelta(days=1))  # Monday 3 Mar + 3h -> Tuesday: one working day paused
    d = engine.pay(d.id, online=True)
    assert d.fee_paid_online is True and d.status is Status.PROCESSING
    assert d.due_at == engine.calendar.add_working_days(due, 1)
    d = engine.resolve(d.id)
    assert d.timeliness is Timeliness.EARLY
    assert_replays(engine, d.id)


def test_suspend_resume_and_suspend_withdraw(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("LAND", "D1")
    d = engine.suspend(d.id, "chờ kết quả giải quyết tranh chấp")
    assert d.status is Status.SUSPENDED and d.status_code == 8
    with pytest.raises(InvalidTransition):
        engine.complete_step(d.id)
    clock.advance(timedelta(days=20))
    d = engine.resume(d.id)
    assert d.status is Status.RECEIVED
    assert due_at(d) > received_at(d) + timedelta(days=20)
    assert_replays(engine, d.id)
    other = engine.receive("LAND", "D1")
    other = engine.suspend(other.id, "tranh chấp")
    other = engine.withdraw(other.id)
    assert other.status is Status.WITHDRAWN and other.status_code == 7
    assert_replays(engine, other.id)


def test_withdrawn_during_processing(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("BUILD", "D2")
    clock.advance(timedelta(hours=1))
    d = engine.complete_step(d.id)
    d = engine.withdraw(d.id, reason="không xây nữa")
    assert d.status is Status.WITHDRAWN and d.timeliness is None
    with pytest.raises(InvalidTransition):
        engine.resolve(d.id)
    assert_replays(engine, d.id)


def test_postal_intake_and_return_by_post(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("LAND", "D1", channel="postal", return_method="post")
    assert d.intake_mode == "postal"
    walk_steps(engine, clock, d.id)
    d = engine.resolve(d.id)
    with pytest.raises(InvalidTransition, match="dispatch it first"):
        engine.return_result(d.id)
    d = engine.dispatch_post(d.id, tracking="EL123456789VN")
    assert d.status is Status.DISPATCHED and d.status_code == 9
    clock.advance(timedelta(days=3))
    d = engine.return_result(d.id)
    assert d.status is Status.RETURNED
    assert_replays(engine, d.id)


def test_dispatch_refused_when_result_is_collected(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("LAND", "D1")
    walk_steps(engine, clock, d.id)
    d = engine.resolve(d.id)
    with pytest.raises(InvalidTransition, match="not to be returned by post"):
        engine.dispatch_post(d.id)


def test_location_independent_intake(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("JUDICIAL", "C", intake_unit="W3")
    assert d.intake_mode == "location_independent"
    assert d.intake_unit == "W3" and d.competent_unit == "C"
    assert d.current_agency == "C-DESK"
    walk_steps(engine, clock, d.id)
    d = engine.resolve(d.id)
    assert d.level == "city"
    assert_replays(engine, d.id)


def test_apology_letter_counts_late(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    d = engine.receive("BIRTH", "W1")
    clock.set(dt(2025, 3, 5, 8, 0))  # more than one working day before the 6 Mar 09:00 due
    d = engine.apologise(d.id, dt(2025, 3, 10, 17, 0), "chờ xác minh")
    assert d.apologies == 1 and d.due_at == dt(2025, 3, 10, 17, 0)
    assert d.original_due_at == dt(2025, 3, 6, 9, 0)
    assert engine.history(d.id)[-1].data["args"]["notice_in_time"] is True
    with pytest.raises(InvalidTransition, match="reset the number of times"):
        engine.apologise(d.id, dt(2025, 3, 12, 17, 0), "lần hai")
    walk_steps(engine, clock, d.id)
    d = engine.resolve(d.id)  # well before the new date, still late
    assert d.timeliness is Timeliness.LATE
    assert_replays(engine, d.id)


def test_on_time_and_late_resolution(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    on_time = engine.receive("BIRTH", "W1")
    late = engine.receive("BIRTH", "W2")
    for d in (on_time, late):
        walk_steps(engine, clock, d.id)
    clock.set(dt(2025, 3, 6, 8, 30))  # the appointment day, before 09:00
    assert engine.resolve(on_time.id).timeliness is Timeliness.ON_TIME
    clock.set(dt(2025, 3, 6, 9, 30))
    assert engine.resolve(late.id).timeliness is Timeliness.LATE
    late_steps = [s for s in engine.steps(late.id) if s.timeliness == "late"]
    assert [s.agency for s in late_steps] == ["D1-BHXH"]


def test_single_step_procedure_and_cutoff(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 16, 0))  # after the 15:00 cut-off
    d = engine.receive("COPY", "W1")
    assert d.due_at == dt(2025, 3, 4, 17, 0)  # same-day, after 15:00: close of next working day
    assert d.status is Status.RECEIVED
    d = engine.resolve(d.id)
    d = engine.return_result(d.id)
    assert d.status is Status.RETURNED
    assert_replays(engine, d.id)


def test_desk_transfer_after_cutoff_starts_next_morning(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 14, 0))
    d = engine.receive("LAND", "D1")
    clock.set(dt(2025, 3, 3, 15, 30))
    d = engine.complete_step(d.id)
    assert d.step_due_at == engine.calendar.add_working_days(dt(2025, 3, 4, 7, 0), 6)


def test_rule_set_follows_receipt_date(engine: Engine, clock: ManualClock) -> None:
    before = engine.receive("COPY", "W1")
    clock.set(dt(2025, 7, 1, 8, 0))
    after = engine.receive("COPY", "W1")
    assert before.rule_set == "decree-61-2018"
    assert after.rule_set == "decree-118-2025"


def test_calendar_days_procedure(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("BUILD", "D1")
    assert d.due_at == dt(2025, 2, 10, 17, 0)  # 15 calendar days, Sat 8 Feb -> Mon 10 Feb


def test_open_dossiers_query(engine: Engine, clock: ManualClock) -> None:
    a = engine.receive("LAND", "D1")
    engine.receive("LAND", "D2")
    done = engine.receive("COPY", "W1")
    engine.resolve(done.id)
    assert {d.id for d in engine.open_dossiers(unit="D1")} == {a.id}
    assert len(engine.open_dossiers()) == 2
    assert [d.id for d in engine.open_dossiers(agency="D1-DESK")] == [a.id]
    later = due_at(a) + timedelta(minutes=1)
    assert a.id in {d.id for d in engine.open_dossiers(overdue_at=later)}
    assert engine.open_dossiers(overdue_at=clock.now()) == []


def test_batch_commits_once_and_isolates_refused_commands(
    engine: Engine, clock: ManualClock
) -> None:
    with engine.batch():
        d = engine.receive("LAND", "D1")
        assert engine.get(d.id).status is Status.RECEIVED  # reads see the batch
        with pytest.raises(InvalidTransition):
            engine.resolve(d.id)  # refused: changes nothing, the batch goes on
        d = engine.complete_step(d.id)
        others = [engine.receive("COPY", "W1") for _ in range(5)]
    assert engine.get(d.id).step_index == 1
    assert len(engine.history(d.id)) == 2
    for o in others:
        assert_replays(engine, o.id)
    with pytest.raises(RuntimeError, match="do not nest"), engine.batch(), engine.batch():
        pass


def test_batch_rolls_back_on_error(engine: Engine, clock: ManualClock) -> None:
    with pytest.raises(ZeroDivisionError), engine.batch():
        engine.receive("COPY", "W1")
        _ = 1 / 0
    assert engine.open_dossiers() == []
