"""National-portal synchronisation: the outbox written with the events, and the dispatcher that
delivers it to a fake portal under injected failures (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select, update

from onestop import VN_TZ, Calendar, Engine, ManualClock
from onestop.errors import InvalidTransition
from onestop.log import configure
from onestop.portal import SCHEMA_FILE
from onestop.scheduler import Schedule, SchedulerService
from onestop.store import from_json
from onestop.store.outbox import Failure, backlog, claim, messages, requeue_dead, settle
from onestop.store.schema import outbox
from onestop.sync import Dispatcher, HttpTransport, RetryPolicy
from onestop.testing_portal import MODES, FakePortal

from .conftest import FIXTURES

ROOT = Path(__file__).parent.parent
NAME, CITIZEN_ID, PHONE = "Nguyễn Văn Sync", "079123456789", "0909123456"
#: What the portal shows, written out here (the spec of onestop.portal.PORTAL_FIELDS).
SHOWN = ("status_code", "current_agency", "due_at", "resolved_at", "returned_at")


def populate(engine: Engine, clock: ManualClock, n: int) -> list[int]:
    """``n`` dossiers through varied paths (steps, supplements, payment, suspension, apology,
    withdrawal, refusal, postal return, ratings): some events change what the portal shows,
    some do not."""
    ids: list[int] = []
    applicant = {"name": NAME, "id_number": CITIZEN_ID, "phone": PHONE}
    for i in range(n):
        clock.advance(timedelta(minutes=7))
        path = i % 6
        if path == 0:
            d = engine.receive("JUDICIAL", "C", applicant=applicant)
            d = engine.complete_step(d.id)
            d = engine.complete_step(d.id)  # same agency: not shown
            d = engine.resolve(d.id)
            d = engine.return_result(d.id)
            d = engine.rate(d.id, 4)  # not shown
        elif path == 1:
            d = engine.receive("BIRTH", "W1", return_method="post", applicant=applicant)
            d = engine.request_supplement(d.id, "thiếu giấy chứng sinh")
            d = engine.supplement(d.id)
            while d.step_index + 1 < d.step_count:
                d = engine.complete_step(d.id)
            d = engine.resolve(d.id, outcome="denied")
            d = engine.dispatch_post(d.id)
            d = engine.return_result(d.id)
        elif path == 2:
            d = engine.submit_online("LAND", "D2", reference=f"G22-{i:04d}")
            d = engine.receive_submitted(d.id)
            d = engine.complete_step(d.id)
            d = engine.request_payment(d.id, 1_500_000)
            d = engine.pay(d.id, online=True)
        elif path == 3:
            d = engine.receive("COPY", "W2")
            assert d.due_at is not None
            d = engine.apologise(d.id, d.due_at + timedelta(days=3), "quá tải")
            d = engine.suspend(d.id, "tranh chấp")
            d = engine.withdraw(d.id)
        elif path == 4:
            d = engine.refuse_at_intake("BUILD", "D1", "thiếu bản vẽ")
        else:
            d = engine.submit_online("BIRTH", "W2")
            d = engine.withdraw(d.id, reason="đổi ý")
        ids.append(d.id)
    return ids


def expected_messages(engine: Engine, ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """The oracle: per dossier, (seq, portal code) of each event after which one of the
    columns the portal shows differs, found by folding the event log."""
    out: dict[int, list[tuple[int, int]]] = {}
    for dossier_id in ids:
        state: dict[str, Any] = {}
        shown: list[tuple[int, int]] = []
        for ev in engine.history(dossier_id):
            before = {k: state.get(k) for k in SHOWN}
            state.update(from_json(ev.data["set"]))
            if ev.seq == 1 or any(before[k] != state.get(k) for k in SHOWN):
                shown.append((ev.seq, int(state["status_code"])))
        out[dossier_id] = shown
    return out


def received_view(portal: FakePortal) -> dict[int, list[tuple[int, int]]]:
    """The receiver's deduplicated view: per dossier, (seq, code) in first-arrival order."""
    out: dict[int, list[tuple[int, int]]] = {}
    for payload in portal.deduplicated():
        out.setdefault(payload["dossier_id"], []).append((payload["seq"], payload["status_code"]))
    return out


def outbox_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(outbox).order_by(outbox.c.id))]


def drain_all(dispatcher: Dispatcher, clock: ManualClock, rounds: int = 40) -> None:
    """Drain, moving the clock past every backoff, until nothing is left (bounded)."""
    for _ in range(rounds):
        dispatcher.drain()
        state = backlog(dispatcher.store, clock.now())
        if state.pending == 0:
            return
        clock.advance(timedelta(seconds=dispatcher.policy.cap))
    raise AssertionError(f"still pending after {rounds} drains: {state}")


@pytest.fixture
def portal() -> Iterator[FakePortal]:
    # The dispatcher logs its failures: to this test's stderr, not to a stream an earlier CLI
    # test (CliRunner) configured and closed.
    configure(json=False, level="WARNING")
    with FakePortal(slow=0.01, hang=0.3) as p:
        yield p
    configure(json=False, level="WARNING")


def dispatcher_for(
    engine: Engine, portal: FakePortal, clock: ManualClock, **kwargs: Any
) -> Dispatcher:
    policy = kwargs.pop("policy", RetryPolicy(base=1.0, cap=8.0, max_attempts=50))
    transport = HttpTransport(portal.url, timeout=0.15)
    return Dispatcher(
        engine.store,
        transport,
        clock,
        policy=policy,
        rng=random.Random(7),
        timeout=0.15,
        **kwargs,
    )


# -- the outbox -------------------------------------------------------------------------------


def test_messages_follow_what_the_portal_shows(engine: Engine, clock: ManualClock) -> None:
    d = engine.receive("JUDICIAL", "C")
    for _ in range(2):
        clock.advance(timedelta(hours=1))
        d = engine.complete_step(d.id)
    d = engine.resolve(d.id)
    d = engine.return_result(d.id)
    engine.rate(d.id, 5)
    got = [(m["seq"], m["trigger"], m["status_code"], m["agency"]) for m in messages(engine.store)]
    # The second hand-over stays with C-JUS and the rating shows nothing new: no message.
    assert got == [
        (1, "receive", 2, "C-DESK"),
        (2, "complete_step", 4, "C-JUS"),
        (4, "resolve", 9, "C-JUS"),
        (5, "return_result", 10, "C-JUS"),
    ]
    first = messages(engine.store)[0]
    assert first["key"] == f"tiny/{d.id}/1"
    # 10 working days from Friday 24 January 2025 09:00: Tết (25 Jan – 2 Feb) is off, then
    # 3–7 and 10–14 February.
    assert first["appointment_at"] == "2025-02-14T09:00:00+07:00"
    assert first["received_at"] == "2025-01-24T09:00:00+07:00"


def test_every_message_matches_the_contract_and_carries_no_personal_data(
    engine: Engine, clock: ManualClock
) -> None:
    ids = populate(engine, clock, 12)
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    sent = messages(engine.store)
    expected = expected_messages(engine, ids)
    assert [(m["dossier_id"], m["seq"], m["status_code"]) for m in sent] == sorted(
        ((d, seq, code) for d, shown in expected.items() for seq, code in shown),
        key=lambda t: (t[0], t[1]),
    )
    for m in sent:
        validator.validate(m)
        text = json.dumps(m, ensure_ascii=False)
        for secret in (NAME, CITIZEN_ID, PHONE):
            assert secret not in text
    codes = {m["status_code"] for m in sent}
    assert codes == {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}


def test_the_contract_refuses_a_bad_message(engine: Engine) -> None:
    engine.receive("COPY", "W1")
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    message = messages(engine.store)[0]
    for broken in (
        {**message, "status_code": 11},
        {**message, "applicant_name": NAME},
        {k: v for k, v in message.items() if k != "key"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_a_batch_writes_messages_only_for_commands_that_succeed(
    engine: Engine, clock: ManualClock
) -> None:
    with engine.batch():
        a = engine.receive("COPY", "W1")
        with pytest.raises(InvalidTransition, match="return_result"):
            engine.return_result(a.id)  # refused: not resolved
        engine.resolve(a.id)
    assert [(m["seq"], m["status_code"]) for m in messages(engine.store)] == [
        (1, 2),
        (2, 9),
    ]


def test_no_outbox_no_messages(db_url: str, clock: ManualClock, calendar: Calendar) -> None:
    engine = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar)
    engine.store.outbox = False
    engine.receive("COPY", "W1")
    assert outbox_rows(engine) == []
    engine.store.dispose()


# -- delivery ---------------------------------------------------------------------------------


def test_under_injected_failures_nothing_is_lost_or_reordered(
    engine: Engine, clock: ManualClock, portal: FakePortal
) -> None:
    ids = populate(engine, clock, 18)
    # Every failure mode first, the stray acknowledgement right before a refusal (taking it
    # for the refused message's would lose that message), then 30 % random failures.
    portal.fail("duplicate_ack", "error", "drop", "timeout", "slow", "duplicate_ack", "drop")
    portal.randomly(0.3, [m for m in MODES if m != "ok"], seed=3)
    dispatcher = dispatcher_for(engine, portal, clock, batch=10)
    drain_all(dispatcher, clock)
    expected = expected_messages(engine, ids)
    total = sum(len(v) for v in expected.values())
    assert received_view(portal) == expected  # nothing lost, nothing extra, in order
    for seqs in portal.by_dossier().values():
        assert seqs == sorted(seqs)
    state = backlog(engine.store, clock.now())
    assert (state.pending, state.dead, state.delivered) == (0, 0, total)
    # The run really was under fire: every mode was injected, and redeliveries happened.
    assert set(portal.modes) == set(MODES)
    assert portal.failures >= 20
    assert portal.duplicates >= 5
    print(
        f"\nmessages {total}, requests {sum(portal.modes.values())}, failures injected "
        f"{portal.failures}, duplicates received {portal.duplicates}, losses 0"
    )


def test_a_dead_letter_holds_its_dossier_back_until_requeued(
    engine: Engine, clock: ManualClock, portal: FakePortal
) -> None:
    a = engine.receive("COPY", "W1")
    engine.resolve(a.id)
    b = engine.receive("COPY", "W2")
    portal.fail("error", "ok", "error")  # a's first message twice; b's in between
    policy = RetryPolicy(base=1.0, cap=1.0, max_attempts=2)
    dispatcher = dispatcher_for(engine, portal, clock, policy=policy)
    dispatcher.drain()
    clock.advance(timedelta(seconds=5))
    dispatcher.drain()
    clock.advance(timedelta(seconds=5))
    dispatcher.drain()
    assert received_view(portal) == {b.id: [(1, 2)]}  # a's resolution waits behind its dead letter
    state = backlog(engine.store, clock.now())
    assert (state.pending, state.dead, state.delivered) == (1, 1, 1)
    assert state.dead_letters[0]["key"] == f"tiny/{a.id}/1"
    assert state.dead_letters[0]["attempts"] == 2
    assert state.dead_letters[0]["last_error"] == "HTTP 500 Internal Server Error"
    assert requeue_dead(engine.store) == 1
    # Requeued with fresh attempts: one more failure is a retry, not a dead letter again.
    portal.fail("error")
    dispatcher.drain()
    state = backlog(engine.store, clock.now())
    assert (state.pending, state.dead, state.delivered) == (2, 0, 1)
    clock.advance(timedelta(seconds=5))
    dispatcher.drain()
    assert received_view(portal) == {b.id: [(1, 2)], a.id: [(1, 2), (2, 9)]}


def test_a_late_failure_does_not_undo_another_dispatchers_claim(
    engine: Engine, clock: ManualClock
) -> None:
    """Dispatcher a's claim ran out while its attempt hung; b claimed the message. a's failure,
    recorded after that, must neither release b's claim (a third would send it again) nor
    count an attempt or kill the message."""
    engine.receive("COPY", "W1")
    t0 = clock.now()
    [mine] = claim(engine.store, "a", t0, ttl=10, limit=5)
    assert claim(engine.store, "b", t0 + timedelta(seconds=5), ttl=10, limit=5) == []
    [theirs] = claim(engine.store, "b", t0 + timedelta(seconds=11), ttl=10, limit=5)
    assert theirs.id == mine.id
    late = Failure(mine.id, attempts=50, error="timed out", retry_at=None)  # would be dead
    settle(engine.store, "a", t0 + timedelta(seconds=12), [], [late], [])
    [row] = outbox_rows(engine)
    assert (row["state"], row["attempts"], row["claimed_by"], row["last_error"]) == (
        "pending", 0, "b", None,
    )  # fmt: skip
    assert claim(engine.store, "c", t0 + timedelta(seconds=13), ttl=10, limit=5) == []
    settle(engine.store, "b", t0 + timedelta(seconds=14), [theirs], [], [])
    state = backlog(engine.store, t0 + timedelta(seconds=14))
    assert (state.pending, state.dead, state.delivered) == (0, 0, 1)


def test_a_round_stops_sending_while_one_more_attempt_would_outlast_its_claim(
    engine: Engine, clock: ManualClock
) -> None:
    """Claim 10 s, attempts up to 4 s: a round sends while the clock is before 6 s. Each send
    here takes 3 s, so two go out (at 0 and 3 s); the other three are released unsent, for the
    next round, not left to an expired claim another dispatcher could take mid-send."""
    for unit in ("W1", "W2", "W3", "W1", "W2"):
        engine.receive("COPY", unit)
    sent: list[int] = []

    class Slow:
        def send(self, message: Any) -> None:
            sent.append(message["dossier_id"])
            clock.advance(timedelta(seconds=3))

        def close(self) -> None:
            pass

    dispatcher = Dispatcher(engine.store, Slow(), clock, claim_ttl=10, timeout=4)
    totals = dispatcher.run_round()
    assert (totals.claimed, totals.delivered, totals.failed) == (5, 2, 0)
    assert sent == [1, 2]
    state = backlog(engine.store, clock.now())
    assert (state.pending, state.claimed, state.delivered) == (3, 0, 2)
    assert [r["claimed_by"] for r in outbox_rows(engine)] == [None] * 5


class FixedRandom(random.Random):
    """A 'random' source that always returns the same value."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_is_exponential_with_jitter(
    engine: Engine, clock: ManualClock, portal: FakePortal
) -> None:
    engine.receive("COPY", "W1")
    portal.fail("error", "error", "error")
    t0 = clock.now()
    transport = HttpTransport(portal.url, timeout=1)
    policy = RetryPolicy(base=2.0, cap=60.0, max_attempts=10)
    dispatcher = Dispatcher(engine.store, transport, clock, policy=policy, rng=FixedRandom(0.5))
    waits = []
    for _ in range(3):
        dispatcher.drain()
        retry_at = outbox_rows(engine)[0]["next_attempt_at"]
        waits.append((retry_at - clock.now()).total_seconds())
        clock.set(retry_at - timedelta(microseconds=1))
        assert dispatcher.drain().claimed == 0  # not before its time
        clock.set(retry_at)
    # ceiling 2, 4, 8 s; half fixed plus half × 0.5.
    assert waits == [1.5, 3.0, 6.0]
    assert dispatcher.drain().delivered == 1
    assert clock.now() - t0 == timedelta(seconds=10.5)
    low = RetryPolicy(base=2.0, cap=60.0).delay(7, FixedRandom(0.0))
    high = RetryPolicy(base=2.0, cap=60.0).delay(7, FixedRandom(1.0))
    assert (low, high) == (30.0, 60.0)  # capped at 60, jitter in [30, 60]


def test_two_dispatchers_never_send_one_message_twice(
    db_url: str, engine: Engine, clock: ManualClock, portal: FakePortal
) -> None:
    ids = populate(engine, clock, 12)
    from onestop.store import Store

    stores = [Store(db_url), Store(db_url)]
    dispatchers = [
        Dispatcher(s, HttpTransport(portal.url, timeout=5), clock, batch=3, timeout=5)
        for s in stores
    ]
    portal.randomly(1.0, ["slow"])  # every answer a little late: the two overlap
    threads = [threading.Thread(target=d.drain) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in dispatchers:  # one may have stopped early when the other held every head
        d.drain()
    assert received_view(portal) == expected_messages(engine, ids)
    assert portal.duplicates == 0  # no message was claimed by both
    for s in stores:
        s.dispose()


def test_delivery_never_blocks_commands(engine: Engine, clock: ManualClock) -> None:
    engine.receive("COPY", "W1")
    sending, release = threading.Event(), threading.Event()

    class Stalled:
        def send(self, message: Any) -> None:
            sending.set()
            release.wait(30)

        def close(self) -> None:
            pass

    dispatcher = Dispatcher(engine.store, Stalled(), clock)
    worker = threading.Thread(target=dispatcher.run_round)
    worker.start()
    assert sending.wait(30)
    try:
        # While a message is in flight, commands run (a held lock would time out here).
        d = engine.receive("COPY", "W2")
        engine.resolve(d.id)
    finally:
        release.set()
        worker.join()
    assert backlog(engine.store, clock.now()).delivered == 1


def test_the_scheduler_runs_the_sync_job_under_its_lease(
    engine: Engine, clock: ManualClock, calendar: Calendar, portal: FakePortal, tmp_path: Path
) -> None:
    ids = populate(engine, clock, 3)
    dispatcher = dispatcher_for(engine, portal, clock)
    service = SchedulerService(
        engine.store,
        clock,
        calendar,
        reports_dir=tmp_path,
        schedule=Schedule(sync_seconds=5),
        dispatcher=dispatcher,
    )
    result = service.run_job("sync")
    expected = expected_messages(engine, ids)
    assert result["delivered"] == sum(len(v) for v in expected.values())
    assert received_view(portal) == expected
    rival = SchedulerService(engine.store, clock, calendar, dispatcher=dispatcher)
    assert rival.run_job("sync") is None  # the lease is held: the rival does nothing


def test_a_killed_dispatcher_loses_nothing(
    db_url: str, engine: Engine, clock: ManualClock, portal: FakePortal
) -> None:
    ids = populate(engine, clock, 8)
    portal.slow = 0.03
    portal.randomly(1.0, ["slow"])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "onestop", "sync", "run", "--db", db_url, "--endpoint",
         portal.url, "--once", "--batch", "50"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(3000):  # until it is mid-batch (bounded: 30 s)
            if len(portal.received) >= 4 or proc.poll() is not None:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    sent_before = len(portal.received)
    assert 4 <= sent_before < sum(len(v) for v in expected_messages(engine, ids).values())
    with engine.store.engine.connect() as conn:
        claimed = conn.execute(select(outbox.c.id).where(outbox.c.claimed_by.is_not(None))).all()
    assert claimed  # it died holding claims
    # A restarted dispatcher, once the dead one's claims have expired, finishes the work.
    later = ManualClock(datetime.now(VN_TZ) + timedelta(hours=1))
    portal.randomly(0.0, ["slow"])
    restart = dispatcher_for(engine, portal, later)
    drain_all(restart, later)
    assert received_view(portal) == expected_messages(engine, ids)
    assert backlog(engine.store, later.now()).pending == 0


def test_sync_commands(engine: Engine, clock: ManualClock, portal: FakePortal) -> None:
    from typer.testing import CliRunner

    from onestop.cli import app

    url = engine.store.url.render_as_string(hide_password=False)
    a = engine.receive("COPY", "W1")
    engine.resolve(a.id)
    with engine.store.begin() as conn:  # the first message gave up already
        conn.execute(
            update(outbox)
            .where(outbox.c.seq == 1)
            .values(state="dead", attempts=12, last_error="HTTP 503 Service Unavailable")
        )
    runner = CliRunner()
    status = runner.invoke(app, ["sync", "status", "--db", url, "--json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert (data["pending"], data["dead"], data["delivered"]) == (1, 1, 0)
    assert data["oldest_undelivered_at"] == "2025-01-24T09:00:00+07:00"
    assert data["dead_letters"][0]["last_error"] == "HTTP 503 Service Unavailable"
    table = runner.invoke(app, ["sync", "status", "--db", url])
    assert "HTTP 503 Service Unavailable" in table.stdout
    run = runner.invoke(app, ["sync", "run", "--db", url, "--endpoint", portal.url, "--once"])
    assert run.exit_code == 0
    assert portal.received == []  # the dead letter holds the dossier back
    retry = runner.invoke(app, ["sync", "retry", "--db", url])
    assert "requeued 1 dead letter" in retry.stdout
    runner.invoke(app, ["sync", "run", "--db", url, "--endpoint", portal.url, "--once"])
    assert [p["seq"] for p in portal.deduplicated()] == [1, 2]
    bad = runner.invoke(app, ["sync", "run", "--db", url, "--endpoint", "ftp://x", "--once"])
    assert bad.exit_code == 2
    secret = runner.invoke(
        app, ["sync", "run", "--db", url, "--endpoint", portal.url, "--header", "tok3n-s3cret"]
    )
    assert secret.exit_code == 2 and "tok3n-s3cret" not in secret.output


def test_sync_retry_of_a_named_id_that_is_no_dead_letter_is_refused(engine: Engine) -> None:
    from typer.testing import CliRunner

    from onestop.cli import app

    url = engine.store.url.render_as_string(hide_password=False)
    a = engine.receive("COPY", "W1")
    engine.resolve(a.id)
    with engine.store.begin() as conn:
        first, second = conn.execute(select(outbox.c.id).order_by(outbox.c.seq)).scalars()
        conn.execute(update(outbox).where(outbox.c.id == first).values(state="dead"))
    missing = second + 1000
    runner = CliRunner()
    unknown = runner.invoke(app, ["sync", "retry", "--db", url, "--id", str(missing)])
    assert unknown.exit_code == 2
    assert unknown.output == f"error: --id: no outbox message has id {missing}\n"
    live = runner.invoke(app, ["sync", "retry", "--db", url, "--id", str(first), "--id",
                               str(second)])  # fmt: skip
    assert live.exit_code == 2
    assert live.output == f"error: --id: message {second} is not a dead letter (it is pending)\n"
    # Refused whole: the dead letter named beside the live message is still dead.
    assert backlog(engine.store, engine.clock.now()).dead == 1
    done = runner.invoke(app, ["sync", "retry", "--db", url, "--id", str(first)])
    assert done.exit_code == 0 and done.output == "requeued 1 dead letter(s)\n"


# -- the synchronisation KPI ------------------------------------------------------------------


def test_the_kpi_counts_dossiers_whose_current_status_the_portal_acknowledged(
    engine: Engine, clock: ManualClock, calendar: Calendar, portal: FakePortal
) -> None:
    from onestop.periods import Period
    from onestop.reports import full_report
    from onestop.scorecard import scorecard

    clock.set(datetime(2025, 1, 24, 9, 0, tzinfo=VN_TZ))
    a = engine.receive("COPY", "W1")
    b = engine.receive("COPY", "W2")
    engine.resolve(b.id)
    clock.set(datetime(2025, 1, 24, 9, 10, tzinfo=VN_TZ))
    dispatcher_for(engine, portal, clock).drain()  # a received, b received and resolved
    clock.set(datetime(2025, 1, 24, 9, 20, tzinfo=VN_TZ))
    engine.receive("JUDICIAL", "C")  # never delivered
    clock.set(datetime(2025, 1, 24, 10, 0, tzinfo=VN_TZ))
    engine.resolve(a.id)  # the portal has not heard of it
    january = Period.parse("2025-01")

    def shares(as_of: datetime) -> list[tuple[str, str | None, int, int]]:
        report = full_report(engine.store, january, as_of=as_of)
        return [(s.level, s.unit, s.dossiers, s.acknowledged) for s in report.sync or []]

    assert shares(datetime(2025, 1, 31, 17, 0, tzinfo=VN_TZ)) == [
        ("city", None, 1, 0),
        ("city", "C", 1, 0),
        ("commune", None, 2, 1),
        ("commune", "W1", 1, 0),  # its resolution is not acknowledged
        ("commune", "W2", 1, 1),
    ]
    # As of 09:30 a's status then (received) was acknowledged; c was not.
    assert shares(datetime(2025, 1, 24, 9, 30, tzinfo=VN_TZ)) == [
        ("city", None, 1, 0),
        ("city", "C", 1, 0),
        ("commune", None, 2, 2),
        ("commune", "W1", 1, 1),
        ("commune", "W2", 1, 1),
    ]
    from onestop.report_html import render_html

    page = render_html(full_report(engine.store, january))
    assert 'id="sync"' in page and "50,00 %" in page  # the commune level, 1 of 2
    # Before anything was delivered: none.
    assert shares(datetime(2025, 1, 24, 9, 5, tzinfo=VN_TZ))[2] == ("commune", None, 2, 0)
    card = scorecard(engine.store, january, "level", calendar)
    by_level = {r.key: r.scores["1.3"] for r in card.rows}
    assert (by_level["commune"].value, by_level["commune"].points) == (0.5, None)
    assert (by_level["city"].numerator, by_level["city"].denominator) == (0, 1)
