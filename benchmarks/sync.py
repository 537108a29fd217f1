"""The national-portal outbox: delivery throughput to a loopback fake portal, and what writing
the outbox costs durable commands (on vs off), each beside its floor measured in the same run."""

from __future__ import annotations

import http.client
import json
import os
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from benchmarks.figures import _engine, _loops
from benchmarks.harness import Figure
from onestop import Engine
from onestop.clock import SystemClock
from onestop.store.outbox import messages
from onestop.sync import Dispatcher, HttpTransport
from onestop.testing import reset_postgres
from onestop.testing_portal import FakePortal


def _filled(loops: int) -> tuple[Engine, list[dict[str, Any]]]:
    """A SQLite engine after ``loops`` receive → complete → resolve → return loops, and the
    payloads of the messages they wrote."""
    engine, _ = _engine(f"sqlite:///{tempfile.mkdtemp()}/sync.db")
    _loops(engine, loops)
    return engine, messages(engine.store)


def _raw_posts(url: str, payloads: list[dict[str, Any]]) -> float:
    """The floor: the same messages encoded and POSTed one after the other on one kept-alive
    connection, with no database (messages/s)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    t0 = time.perf_counter()
    for payload in payloads:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": payload["key"]}
        conn.request("POST", parts.path, body, headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    elapsed = time.perf_counter() - t0
    conn.close()
    return len(payloads) / elapsed


def delivery(quick: bool, repeats: int) -> Figure:
    """Outbox messages delivered per second to the fake portal on loopback (SQLite; claims,
    HTTP and the recorded acknowledgements). Floor: raw POSTs of the same messages to the same
    server on one connection, no database."""
    loops = 100 if quick else 500
    samples: list[float] = []
    floors: list[float] = []
    messages = 0
    for _ in range(repeats):
        engine, payloads = _filled(loops)
        messages = len(payloads)
        with FakePortal() as portal:
            floors.append(_raw_posts(portal.url, payloads))
            transport = HttpTransport(portal.url, timeout=10)
            dispatcher = Dispatcher(engine.store, transport, SystemClock(), batch=200)
            t0 = time.perf_counter()
            totals = dispatcher.drain()
            samples.append(totals.delivered / (time.perf_counter() - t0))
            transport.close()
            assert totals.delivered == messages == len(portal.deduplicated())
        engine.store.dispose()
    value, floor = statistics.median(samples), statistics.median(floors)
    return Figure(
        "outbox delivery msg/s (SQLite → loopback)",
        value,
        floor,
        "msg/s",
        True,
        "≤ 2× raw POSTs",
        floor / value <= 2,
        {"messages": messages, "samples": samples, "floor_samples": floors},
    )


def _durable_rate(url: str, loops: int, outbox_on: bool, pg: bool) -> float:
    if pg:
        reset_postgres(url)
    engine, _ = _engine(url)
    engine.store.outbox = outbox_on
    _loops(engine, 10)  # warm caches
    t0 = time.perf_counter()
    commands = _loops(engine, loops)
    rate = commands / (time.perf_counter() - t0)
    engine.store.dispose()
    return rate


def cost(quick: bool, repeats: int) -> list[Figure]:
    """Durable commands/s with the outbox written vs without (same loops, runs interleaved,
    medians). Floor: the same commands with the outbox off. Goal: within 10 %."""
    loops = 150 if quick else 1000
    figures = []
    backends: list[tuple[str, str | None]] = [("SQLite WAL", None)]
    pg_url = os.environ.get("ONESTOP_PG_URL")
    if pg_url:
        backends.append(("PostgreSQL", pg_url))
    for label, url in backends:
        on: list[float] = []
        off: list[float] = []
        runs = max(repeats, 3)
        for i in range(runs):
            # Alternate which goes first, so neither always runs on a warmer machine.
            order = [True, False] if i % 2 == 0 else [False, True]
            for outbox_on in order:
                target = url or f"sqlite:///{tempfile.mkdtemp()}/cost.db"
                rate = _durable_rate(target, loops, outbox_on, url is not None)
                (on if outbox_on else off).append(rate)
        value, floor = statistics.median(on), statistics.median(off)
        figures.append(
            Figure(
                f"durable cmd/s with outbox ({label})",
                value,
                floor,
                "cmd/s",
                True,
                "within 10 % of outbox off",
                value >= 0.9 * floor,
                {
                    "loops": loops,
                    "on": on,
                    "off": off,
                    "slowdown": 1 - value / floor,
                    # Each run beside its neighbour: steadier than the medians on a busy machine.
                    "paired_slowdown": 1
                    - statistics.median(a / b for a, b in zip(on, off, strict=True)),
                },
            )
        )
    return figures


#: The figures this module adds to ``python -m benchmarks``.
SYNC: dict[str, Callable[[bool, int], Figure | list[Figure]]] = {
    "outbox-delivery": delivery,
    "outbox-cost": cost,
}
