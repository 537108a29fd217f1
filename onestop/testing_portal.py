"""A fake national portal for tests: a threaded HTTP server on 127.0.0.1 that records the
messages it receives and fails on demand.

Each request takes the next mode from a script (:meth:`FakePortal.fail`), or from a seeded
random plan (:meth:`FakePortal.randomly`), else ``ok``:

* ``ok``: record the message, answer 200 with its ``Idempotency-Key`` echoed;
* ``error``: answer 500 without recording it;
* ``slow``: wait ``slow`` seconds, then as ``ok``;
* ``timeout``: record it, then wait ``hang`` seconds (longer than the client waits) before
  answering: processed, but the acknowledgement comes too late;
* ``drop``: record it, then close the connection without answering;
* ``duplicate_ack``: record it and write the acknowledgement twice on the connection (the
  second is a stray answer a client may take for its next message's).

Example:
    >>> with FakePortal() as portal:
    ...     portal.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

MODES = ("ok", "error", "slow", "timeout", "drop", "duplicate_ack")


class _QuietServer(ThreadingHTTPServer):
    """A server that does not print the connections its clients drop (timeouts, kills)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _check(modes: Iterable[str]) -> None:
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")


@dataclass(frozen=True)
class Received:
    """One message the portal processed (a redelivered one appears again)."""

    key: str
    payload: dict[str, Any]
    mode: str


class FakePortal:
    """The fake portal; start it with ``with FakePortal() as portal:`` (or :meth:`start`).

    Args:
        slow: Seconds a ``slow`` answer waits.
        hang: Seconds a ``timeout`` answer waits (make it longer than the client's timeout).
    """

    def __init__(self, slow: float = 0.02, hang: float = 0.5) -> None:
        self.slow, self.hang = slow, hang
        self._lock = threading.Lock()
        self._script: deque[str] = deque()
        self._random: tuple[random.Random, float, tuple[str, ...]] | None = None
        #: Every processed message, in arrival order (duplicates included).
        self.received: list[Received] = []
        #: How many requests got each mode.
        self.modes: Counter[str] = Counter()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- failures -------------------------------------------------------------------------------

    def fail(self, *modes: str) -> None:
        """Answer the next requests with these modes, in order (then as before).

        Raises:
            ValueError: If a mode is unknown.
        """
        _check(modes)
        with self._lock:
            self._script.extend(modes)

    def randomly(self, rate: float, modes: Iterable[str], seed: int = 0) -> None:
        """After the script, fail a share ``rate`` of requests with a mode drawn from ``modes``
        (a seeded generator: the same requests fail on every run).

        Raises:
            ValueError: If a mode is unknown.
        """
        chosen = tuple(modes)
        _check(chosen)
        with self._lock:
            self._random = (random.Random(seed), rate, chosen)

    def _next_mode(self) -> str:
        with self._lock:
            if self._script:
                mode = self._script.popleft()
            elif self._random is not None and self._random[0].random() < self._random[1]:
                rng, _, modes = self._random
                mode = rng.choice(modes)
            else:
                mode = "ok"
            self.modes[mode] += 1
            return mode

    def _record(self, payload: dict[str, Any], mode: str) -> None:
        with self._lock:
            self.received.append(Received(str(payload["key"]), payload, mode))

    # -- what it saw ----------------------------------------------------------------------------

    def deduplicated(self) -> list[dict[str, Any]]:
        """The messages as a receiver deduplicating on the key keeps them: first arrivals."""
        seen: set[str] = set()
        out = []
        with self._lock:
            for r in self.received:
                if r.key not in seen:
                    seen.add(r.key)
                    out.append(r.payload)
        return out

    @property
    def duplicates(self) -> int:
        """Messages received again after their first arrival."""
        with self._lock:
            return len(self.received) - len({r.key for r in self.received})

    @property
    def failures(self) -> int:
        """Requests answered with a failure mode (``slow`` is not one)."""
        with self._lock:
            return sum(n for m, n in self.modes.items() if m not in ("ok", "slow"))

    def by_dossier(self) -> dict[int, list[int]]:
        """Each dossier's message ``seq`` numbers in first-arrival order."""
        out: dict[int, list[int]] = {}
        for payload in self.deduplicated():
            out.setdefault(int(payload["dossier_id"]), []).append(int(payload["seq"]))
        return out

    # -- serving --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The endpoint to POST to.

        Raises:
            RuntimeError: If the portal is not started.
        """
        if self._server is None:
            raise RuntimeError("the fake portal is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/messages"

    def start(self) -> FakePortal:
        """Listen on an ephemeral port of 127.0.0.1 in a background thread."""
        portal = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real portal
            # Headers and body are written separately: without this, Nagle's algorithm and the
            # client's delayed ACK hold every answer back ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet

            def do_POST(self) -> None:  # noqa: N802 - the http.server convention
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length))
                mode = portal._next_mode()
                if mode == "error":
                    self._answer(500, payload, b'{"error":"injected"}')
                    return
                if mode == "slow":
                    time.sleep(portal.slow)
                portal._record(payload, mode)
                if mode == "timeout":
                    time.sleep(portal.hang)
                if mode == "drop":
                    self.close_connection = True
                    return
                self._answer(200, payload, b'{"status":"accepted"}')
                if mode == "duplicate_ack":
                    # Late enough that the client has read the first and sent its next request.
                    time.sleep(0.01)
                    self._answer(200, payload, b'{"status":"accepted"}')

            def _answer(self, status: int, payload: Mapping[str, Any], body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Idempotency-Key", str(payload.get("key", "")))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:  # the client gave up (timeout): nothing to answer
                    self.close_connection = True

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakePortal:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
