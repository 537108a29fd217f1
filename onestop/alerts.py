"""Due-soon and overdue alerts, for whole dossiers and for the step an agency holds.

A sweep is one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` per kind over the ``(status, due)``
indexes: it reads only dossiers whose deadline is near or past, and the unique key
``(dossier, step, kind)`` makes every alert exist exactly once however many sweeps run or how
often the scheduler restarts. New alerts (and earlier ones not yet delivered) go to the
notifiers; a delivery failure is recorded on the alert row and retried by the next sweep.

Example:
    >>> from onestop.alerts import CallbackNotifier
    >>> seen = []
    >>> notifier = CallbackNotifier(seen.extend)
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection, Select, literal, select, update

from onestop.calendar import Calendar
from onestop.clock import Clock
from onestop.store import Store, clauses
from onestop.store.schema import alerts, dossiers

log = structlog.get_logger("onestop.alerts")

#: ``step_seq`` of an alert about the whole dossier.
WHOLE_DOSSIER = -1
#: Working days before a deadline that a sweep calls "due soon" unless told otherwise.
DUE_SOON_DAYS = 1.0
#: Give up re-delivering an alert after this many failed attempts.
MAX_ATTEMPTS = 10


class AlertKind(StrEnum):
    """What the alert says."""

    DUE_SOON = "due_soon"  # time to issue an apology letter if it will be late
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Alert:
    """One alert: a dossier (``step_seq == -1``) or one of its steps, due soon or overdue."""

    id: int
    dossier_id: int
    step_seq: int
    kind: str
    agency: str | None
    unit: str
    level: str
    procedure_code: str
    due_at: datetime
    raised_at: datetime

    @property
    def scope(self) -> str:
        """``dossier``, ``step``, or ``feedback`` (a citizen feedback item, negative id)."""
        if self.dossier_id < 0:
            return "feedback"
        return "dossier" if self.step_seq == WHOLE_DOSSIER else "step"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (no personal data: alerts never carry the applicant)."""
        data = asdict(self)
        data["scope"] = self.scope
        data["due_at"] = self.due_at.isoformat()
        data["raised_at"] = self.raised_at.isoformat()
        return data


class Notifier(Protocol):
    """Receives new alerts. Raise to signal failure: the alerts are retried on the next sweep."""

    def notify(self, batch: Sequence[Alert]) -> None:
        """Deliver ``batch``."""
        ...


class LogNotifier:
    """Writes each alert as a structured log event."""

    def notify(self, batch: Sequence[Alert]) -> None:
        """Log every alert at warning level."""
        for alert in batch:
            log.warning("dossier.alert", **alert.to_json())


class CallbackNotifier:
    """Calls a Python function with each batch of alerts."""

    def __init__(self, callback: Callable[[Sequence[Alert]], object]) -> None:
        self.callback = callback

    def notify(self, batch: Sequence[Alert]) -> None:
        """Pass the batch to the callback."""
        self.callback(batch)


class WebhookNotifier:
    """POSTs ``{"alerts": [...]}`` as JSON to a URL, retrying with exponential backoff.

    Args:
        url: The endpoint.
        retries: Attempts after the first one.
        backoff: Seconds before the first retry; doubled each time.
        timeout: Seconds per request.
        sleep: Injected for tests (default ``time.sleep``).
    """

    def __init__(
        self,
        url: str,
        *,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        self.url, self.retries, self.backoff, self.timeout, self.sleep = (
            url,
            retries,
            backoff,
            timeout,
            sleep,
        )

    def notify(self, batch: Sequence[Alert]) -> None:
        """POST the batch; raise the last error if every attempt fails."""
        body = json.dumps({"alerts": [a.to_json() for a in batch]}).encode()
        delay = self.backoff
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(
                self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    if 200 <= response.status < 300:
                        return
                    error: Exception = RuntimeError(f"HTTP {response.status}")
            except (urllib.error.URLError, OSError) as exc:
                error = exc
            log.info("webhook.retry", attempt=attempt + 1, error=str(error))
            if attempt < self.retries:
                self.sleep(delay)
                delay *= 2
        raise RuntimeError(f"webhook {self.url} failed after {self.retries + 1} attempts: {error}")


class AlertSweeper:
    """Finds dossiers and steps that are due soon or overdue, and raises each alert once.

    "Overdue" and "due soon" are :func:`onestop.timeliness.is_overdue` and
    :func:`~onestop.timeliness.is_due_soon`, in their SQL form.

    Args:
        store: The database.
        clock: The source of time.
        calendar: The working calendar (for the due-soon horizon).
        notifiers: Who hears about new alerts.
        due_soon_days: Working days before the deadline that count as "due soon" (default 1:
            the latest time to issue an apology letter).
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        calendar: Calendar,
        notifiers: Sequence[Notifier] = (),
        due_soon_days: float = DUE_SOON_DAYS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.calendar = calendar
        self.notifiers = list(notifiers)
        self.due_soon_days = due_soon_days

    def _raise(
        self, conn: Connection, kind: AlertKind, step: bool, now: datetime, threshold: datetime
    ) -> list[Alert]:
        due = dossiers.c.step_due_at if step else dossiers.c.due_at
        if kind is AlertKind.OVERDUE:
            where = clauses.overdue(due, now)
        else:
            where = clauses.due_soon(due, now, threshold)
        source = select(
            dossiers.c.id,
            dossiers.c.step_index if step else literal(WHOLE_DOSSIER),
            literal(kind.value),
            dossiers.c.current_agency,
            dossiers.c.competent_unit,
            dossiers.c.level,
            dossiers.c.procedure_code,
            due,
            literal(now, alerts.c.raised_at.type),
            literal(0),
        ).where(where)
        return _insert_alerts(self.store, conn, source)

    def sweep(self, now: datetime | None = None) -> list[Alert]:
        """Raise every alert now due and deliver the undelivered ones.

        Args:
            now: Sweep time (default: the clock).

        Returns:
            The alerts raised by this sweep (not earlier ones re-delivered).
        """
        now = now or self.clock.now()
        threshold = self.calendar.add_working_days(now, self.due_soon_days)
        new: list[Alert] = []
        with self.store.begin() as conn:
            for kind in (AlertKind.OVERDUE, AlertKind.DUE_SOON):
                for step in (False, True):
                    new += self._raise(conn, kind, step, now, threshold)
            # Citizen feedback's time limits, in the same table (imported here: it builds on
            # this module).
            from onestop.feedback_alerts import raise_feedback_alerts

            new += raise_feedback_alerts(self.store, conn, now, threshold)
        log.info("alerts.sweep", new=len(new), at=now.isoformat())
        self.deliver(now)
        return sorted(new, key=lambda a: (a.due_at, a.dossier_id, a.step_seq, a.kind))

    def deliver(self, now: datetime) -> int:
        """Send undelivered alerts to every notifier; record success or the error.

        Returns:
            How many alerts were delivered.
        """
        if not self.notifiers:
            return 0
        with self.store.begin() as conn:
            rows = conn.execute(
                select(*_ALERT_COLUMNS)
                .where(alerts.c.delivered_at.is_(None), alerts.c.attempts < MAX_ATTEMPTS)
                .order_by(alerts.c.id)
            ).mappings()
            batch = [Alert(**dict(r)) for r in rows]
        if not batch:
            return 0
        ids = [a.id for a in batch]
        try:
            for notifier in self.notifiers:
                notifier.notify(batch)
        except Exception as exc:  # noqa: BLE001 - any notifier failure is recorded and retried
            log.error("alerts.delivery_failed", count=len(batch), error=str(exc)[:200])
            with self.store.begin() as conn:
                conn.execute(
                    update(alerts)
                    .where(alerts.c.id.in_(ids))
                    .values(attempts=alerts.c.attempts + 1, last_error=str(exc)[:500])
                )
            return 0
        with self.store.begin() as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id.in_(ids))
                .values(delivered_at=now, attempts=alerts.c.attempts + 1, last_error=None)
            )
        return len(batch)


#: The columns an alert sweep's SELECT gives, in order.
_RAISED_COLUMNS = [
    "dossier_id",
    "step_seq",
    "kind",
    "agency",
    "unit",
    "level",
    "procedure_code",
    "due_at",
    "raised_at",
    "attempts",
]


def _insert_alerts(store: Store, conn: Connection, source: Select[Any]) -> list[Alert]:
    """Insert the alerts ``source`` selects (its columns in the order of ``_RAISED_COLUMNS``),
    skipping those already raised (one per case, step and kind); the new ones."""
    stmt = (
        store.insert_or_skip(alerts, "dossier_id", "step_seq", "kind")
        .from_select(_RAISED_COLUMNS, source)
        .returning(*_ALERT_COLUMNS)
    )
    return [Alert(**dict(r)) for r in conn.execute(stmt).mappings()]


_ALERT_COLUMNS = [
    alerts.c.id,
    alerts.c.dossier_id,
    alerts.c.step_seq,
    alerts.c.kind,
    alerts.c.agency,
    alerts.c.unit,
    alerts.c.level,
    alerts.c.procedure_code,
    alerts.c.due_at,
    alerts.c.raised_at,
]
