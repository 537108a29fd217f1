"""Due-soon and overdue alerts: exactly once, per dossier and per step, delivered or retried."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from onestop import Engine, ManualClock
from onestop.alerts import Alert, AlertSweeper, CallbackNotifier, WebhookNotifier
from onestop.store.schema import alerts

from .helpers import dt


def keys(found: Iterable[Alert]) -> set[tuple[int, int, str]]:
    return {(a.dossier_id, a.step_seq, a.kind) for a in found}


def test_due_soon_then_overdue_exactly_once(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))  # Monday
    d = engine.receive("BIRTH", "W1")  # due Thu 6 Mar 09:00; desk step (half a day) Mon 15:00
    received: list[Alert] = []
    sweeper = AlertSweeper(
        engine.store, engine.clock, engine.calendar, [CallbackNotifier(received.extend)]
    )
    assert keys(sweeper.sweep()) == {(d.id, 0, "due_soon")}  # desk step: half a day left
    clock.set(dt(2025, 3, 3, 10, 0))
    assert sweeper.sweep() == []
    clock.set(dt(2025, 3, 3, 15, 30))
    assert keys(sweeper.sweep()) == {(d.id, 0, "overdue")}
    engine.complete_step(d.id)  # now at the justice step, due Tue 15:30
    clock.set(dt(2025, 3, 5, 10, 0))  # within one working day of the 6 Mar 09:00 appointment
    found = keys(sweeper.sweep())
    assert (d.id, -1, "due_soon") in found and (d.id, 1, "overdue") in found
    clock.set(dt(2025, 3, 6, 9, 30))
    assert (d.id, -1, "overdue") in keys(sweeper.sweep())
    for _ in range(3):
        assert sweeper.sweep() == []
    # A fresh sweeper (a restarted scheduler) raises nothing new either.
    assert AlertSweeper(engine.store, engine.clock, engine.calendar).sweep() == []
    with engine.store.engine.connect() as conn:
        rows = conn.execute(select(alerts.c.dossier_id, alerts.c.step_seq, alerts.c.kind)).all()
    assert len(rows) == len(set(rows)) == 5
    assert len(received) == 5
    assert all(a.agency for a in received if a.step_seq >= 0)


def test_paused_and_closed_dossiers_do_not_fall_due(engine: Engine, clock: ManualClock) -> None:
    clock.set(dt(2025, 3, 3, 9, 0))
    paused = engine.receive("LAND", "D1")
    engine.request_supplement(paused.id, "thiếu giấy tờ")
    done = engine.receive("COPY", "W1")
    engine.resolve(done.id)
    clock.set(dt(2025, 4, 1, 9, 0))
    assert AlertSweeper(engine.store, engine.clock, engine.calendar).sweep() == []


class _Hook(BaseHTTPRequestHandler):
    fail_first = 0
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            type(self).bodies.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


# The webhook's URL and its handler class (whose class attributes the test sets and reads).
Hook = tuple[str, type[_Hook]]


@pytest.fixture
def hook() -> Iterator[Hook]:
    handler = type("Hook", (_Hook,), {"fail_first": 0, "bodies": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", handler
    server.shutdown()


def test_webhook_retries_with_backoff(engine: Engine, clock: ManualClock, hook: Hook) -> None:
    url, handler = hook
    handler.fail_first = 2
    sleeps: list[float] = []
    notifier = WebhookNotifier(url, retries=3, backoff=0.5, sleep=sleeps.append)
    d = engine.receive("COPY", "W1")
    clock.advance(timedelta(days=3))
    AlertSweeper(engine.store, engine.clock, engine.calendar, [notifier]).sweep()
    assert sleeps == [0.5, 1.0]
    assert len(handler.bodies) == 1
    sent = handler.bodies[0]["alerts"]
    assert {(a["dossier_id"], a["kind"]) for a in sent} == {(d.id, "overdue")}
    assert "applicant" not in json.dumps(sent)
    with engine.store.engine.connect() as conn:
        row = conn.execute(select(alerts)).mappings().all()
    assert all(r["delivered_at"] is not None and r["last_error"] is None for r in row)


def test_webhook_failure_recorded_then_redelivered(
    engine: Engine, clock: ManualClock, hook: Hook
) -> None:
    url, handler = hook
    handler.fail_first = 10
    notifier = WebhookNotifier(url, retries=1, backoff=0.01, sleep=lambda s: None)
    engine.receive("COPY", "W1")
    clock.advance(timedelta(days=3))
    sweeper = AlertSweeper(engine.store, engine.clock, engine.calendar, [notifier])
    new = sweeper.sweep()
    assert len(new) == 2  # dossier and its only step are overdue
    with engine.store.engine.connect() as conn:
        rows = conn.execute(select(alerts)).mappings().all()
    assert all(r["delivered_at"] is None and "503" in r["last_error"] for r in rows)
    assert all(r["attempts"] == 1 for r in rows)
    handler.fail_first = 0
    clock.advance(timedelta(minutes=15))
    assert sweeper.sweep() == []  # nothing new...
    assert len(handler.bodies) == 1 and len(handler.bodies[0]["alerts"]) == 2  # ...but delivered
    with engine.store.engine.connect() as conn:
        assert all(r["delivered_at"] is not None for r in conn.execute(select(alerts)).mappings())


def test_webhook_refuses_non_http_url() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookNotifier("file:///etc/passwd")
