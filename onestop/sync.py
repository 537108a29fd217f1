"""The sync dispatcher: delivers the outbox's messages to the national portal over HTTP.

At least once, in order per dossier: each round claims the head of every due dossier queue
(:func:`onestop.store.outbox.claim`), POSTs each message as JSON with its idempotency key, and
records the round in one transaction. A failed attempt is retried after an exponential backoff
with jitter; after ``max_attempts`` the message becomes a dead letter, which holds back the
later messages of its dossier until ``onestop sync retry`` requeues it. Delivery runs outside
any database transaction, so commands never wait for the portal.

Example:
    >>> policy = RetryPolicy(base=2.0, cap=60.0, max_attempts=5)
    >>> [policy.ceiling(n) for n in (1, 2, 3, 6)]
    [2.0, 4.0, 8.0, 60.0]
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Protocol

import structlog

from onestop.clock import Clock
from onestop.store import Store
from onestop.store.outbox import Claimed, Failure, claim, settle

log = structlog.get_logger("onestop.sync")

#: The header carrying a message's idempotency key (sent, and echoed by a receiver's ack).
KEY_HEADER = "Idempotency-Key"


class DeliveryError(Exception):
    """A message was not acknowledged (HTTP error status, network failure, wrong ack)."""


class Transport(Protocol):
    """Sends one message; returns when the receiver acknowledged it.

    Raises:
        DeliveryError: When it did not.
    """

    def send(self, message: Mapping[str, Any]) -> None: ...  # pragma: no cover

    def close(self) -> None: ...  # pragma: no cover


class HttpTransport:
    """POSTs messages as JSON to an HTTP(S) endpoint over one kept-alive connection.

    A 2xx response acknowledges the message. A receiver may echo the ``Idempotency-Key``
    header in its response; if it names another message (a stray, duplicated response on the
    connection) the attempt fails and the connection is dropped.

    Args:
        endpoint: ``http://`` or ``https://`` URL.
        timeout: Seconds to wait for the connection and for the response.
        headers: Extra headers (e.g. an authorization token).

    Raises:
        ValueError: If ``endpoint`` is not an HTTP(S) URL with a host.
    """

    def __init__(
        self, endpoint: str, timeout: float = 10.0, headers: Mapping[str, str] | None = None
    ) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{endpoint!r} is not an http:// or https:// URL with a host")
        self.endpoint, self.timeout = endpoint, timeout
        self._parts = parts
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = dict(headers or {})
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._parts.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._parts.hostname or "", self._parts.port, timeout=self.timeout)
        return self._conn

    def send(self, message: Mapping[str, Any]) -> None:
        """POST ``message``; return on a 2xx acknowledgement of it.

        Raises:
            DeliveryError: On a non-2xx status, a network error or timeout, or an
                acknowledgement naming another message.
        """
        key = str(message["key"])
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", KEY_HEADER: key, **self._headers}
        conn = self._connection()
        try:
            conn.request("POST", self._path, body, headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if response.will_close:
            self.close()
        if not 200 <= response.status < 300:
            raise DeliveryError(f"HTTP {response.status} {response.reason}")
        echoed = response.getheader(KEY_HEADER)
        if echoed is not None and echoed != key:
            self.close()
            raise DeliveryError(f"acknowledgement names {echoed!r}, not this message")

    def close(self) -> None:
        """Drop the connection (the next message opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed message again, and when to give up.

    Attempt ``n`` failing waits ``ceiling(n) / 2 + U(0, ceiling(n) / 2)`` seconds ("equal
    jitter": never less than half the backoff, so a burst of failures spreads out without
    retrying at once), where ``ceiling(n) = min(cap, base × 2^(n−1))``.

    Attributes:
        base: Seconds of the first backoff ceiling.
        cap: The longest backoff ceiling.
        max_attempts: Attempts before the message becomes a dead letter.
    """

    base: float = 2.0
    cap: float = 15 * 60.0
    max_attempts: int = 12

    def ceiling(self, attempts: int) -> float:
        """The backoff ceiling after ``attempts`` failed attempts."""
        return float(min(self.cap, self.base * 2 ** (attempts - 1)))

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after ``attempts`` failed attempts."""
        ceiling = self.ceiling(attempts)
        return ceiling / 2 + rng.random() * ceiling / 2


@dataclass
class SyncTotals:
    """What a dispatcher did: rounds run, messages claimed, delivered, failed attempts, and
    messages that became dead letters."""

    rounds: int = 0
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0

    def add(self, other: SyncTotals) -> None:
        """Add another run's counts to these."""
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        """The counts as a dict."""
        return asdict(self)


class Dispatcher:
    """Delivers the outbox's messages through a transport.

    Args:
        store: The database holding the outbox.
        transport: How messages are sent (:class:`HttpTransport`).
        clock: The source of time for claims and backoffs.
        policy: Retries and dead letters.
        rng: Randomness of the jitter (seed it in tests).
        batch: Messages claimed per round (one per dossier).
        claim_ttl: Seconds a claim lasts; a round stops sending before it ends, leaving room
            for one more attempt's ``timeout``.
        timeout: The longest one attempt can take (the transport's timeout).
        holder: This dispatcher's identity (default: a random one).
    """

    def __init__(
        self,
        store: Store,
        transport: Transport,
        clock: Clock,
        *,
        policy: RetryPolicy = RetryPolicy(),
        rng: random.Random | None = None,
        batch: int = 200,
        claim_ttl: float = 120.0,
        timeout: float = 10.0,
        holder: str | None = None,
    ) -> None:
        self.store, self.transport, self.clock, self.policy = store, transport, clock, policy
        self.rng = rng or random.Random()
        self.batch, self.claim_ttl, self.timeout = batch, claim_ttl, timeout
        self.holder = holder or f"sync-{uuid.uuid4().hex[:12]}"

    def run_round(self) -> SyncTotals:
        """Claim the due heads of the dossiers' queues, send them, record the outcome."""
        start = self.clock.now()
        claimed = claim(self.store, self.holder, start, self.claim_ttl, self.batch)
        totals = SyncTotals(rounds=1, claimed=len(claimed))
        if not claimed:
            return totals
        # Stop sending while one more attempt still ends inside the claim.
        last_start = start + timedelta(seconds=self.claim_ttl - self.timeout)
        delivered: list[Claimed] = []
        failed: list[Failure] = []
        unsent: list[Claimed] = []
        for i, message in enumerate(claimed):
            if self.clock.now() >= last_start:
                unsent = claimed[i:]
                break
            try:
                self.transport.send(message.payload)
            except Exception as exc:  # noqa: BLE001 - any failure is an attempt to retry
                failed.append(self._failure(message, exc))
            else:
                delivered.append(message)
        settle(self.store, self.holder, self.clock.now(), delivered, failed, unsent)
        totals.delivered = len(delivered)
        totals.failed = len(failed)
        totals.dead = sum(1 for f in failed if f.retry_at is None)
        if failed:
            log.warning(
                "sync.failed_attempts", failed=len(failed), dead=totals.dead, holder=self.holder
            )
        return totals

    def _failure(self, message: Claimed, exc: Exception) -> Failure:
        attempts = message.attempts + 1
        error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        if attempts >= self.policy.max_attempts:
            log.error("sync.dead_letter", key=message.payload["key"], attempts=attempts)
            return Failure(message.id, attempts, error, None)
        wait = self.policy.delay(attempts, self.rng)
        return Failure(message.id, attempts, error, self.clock.now() + timedelta(seconds=wait))

    def drain(self, max_rounds: int | None = None) -> SyncTotals:
        """Run rounds until no message is due (or ``max_rounds``): everything deliverable now
        is delivered, or waits for its retry."""
        totals = SyncTotals()
        while max_rounds is None or totals.rounds < max_rounds:
            done = self.run_round()
            totals.add(done)
            if done.claimed == 0 or done.delivered + done.failed == 0:
                break
        return totals

    def run_forever(self, stop: threading.Event, poll: float = 1.0) -> SyncTotals:
        """Drain, then wait ``poll`` seconds, until ``stop`` is set."""
        totals = SyncTotals()
        try:
            while not stop.is_set():
                totals.add(self.drain())
                stop.wait(poll)
        finally:
            self.transport.close()
        return totals
