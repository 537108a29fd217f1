"""Daily anchors: one sealed record per past day, chained day to day, kept in the database and
appended to a file that an operator copies off the machine.

An anchor seals a day's events: how many there were and the SHA-256 of their hashes in log
order, chained to the previous day's anchor and sealed with HMAC-SHA-256 under the audit key
(:mod:`onestop.audit_key`), which the database does not hold. So a forger with write access to
the database cannot recompute the anchors of a day they rewrote, nor remove a day without
breaking the chain; with the external file they cannot even remove the newest days, or
everything. Anchors are written once: a day is anchored only when it is over, every day from
the first event on (days without events too), and an anchored day is never rewritten.

The anchor file holds one JSON object per line (:meth:`Anchor.line`), each chained to the line
before by ``prev``; :func:`read_anchor_file` reads it back for :func:`onestop.audit.verify`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from onestop.audit_key import AuditKey
from onestop.clock import local_date
from onestop.errors import AnchorError, ValidationError
from onestop.periods import Period
from onestop.store import Store
from onestop.store.schema import anchors, events

if TYPE_CHECKING:
    from onestop.store.unit_of_work import UnitOfWork

#: ``prev`` of the first anchor.
GENESIS = ""
#: ``key_id`` of anchors written before anchors were keyed and chained (their hash is the digest).
LEGACY = "sha256-v1"
#: ``key_id`` of anchors written without a key (development only: anyone can recompute them).
UNKEYED = "unkeyed"


@dataclass(frozen=True)
class Anchor:
    """One day's seal.

    Attributes:
        day: The local day.
        events: How many events happened that day.
        digest: SHA-256 of the day's event hashes in log (id) order.
        prev: The previous day's anchor hash (:data:`GENESIS` for the first).
        hash: The seal: HMAC-SHA-256 of the fields above under the key named by ``key_id``.
        key_id: The audit key's fingerprint (or :data:`UNKEYED`, :data:`LEGACY`).
    """

    day: date
    events: int
    digest: str
    prev: str
    hash: str
    key_id: str

    def line(self) -> str:
        """The anchor as one line of the anchor file (JSON, keys sorted)."""
        return json.dumps({**asdict(self), "day": self.day.isoformat()}, sort_keys=True)


def _message(day: date, count: int, digest: str, prev: str) -> bytes:
    return f"onestop-anchor-v2|{day.isoformat()}|{count}|{digest}|{prev}".encode()


def seal(day: date, count: int, digest: str, prev: str, key: AuditKey | None) -> Anchor:
    """The anchor of ``day`` after the anchor whose hash is ``prev``.

    Args:
        day: The day.
        count: Its number of events.
        digest: SHA-256 of their hashes in log order (:func:`day_digest`).
        prev: The previous anchor's hash.
        key: The audit key (``None`` only in development: the seal is then a plain SHA-256).
    """
    message = _message(day, count, digest, prev)
    if key is None:
        return Anchor(day, count, digest, prev, hashlib.sha256(message).hexdigest(), UNKEYED)
    return Anchor(day, count, digest, prev, key.mac(message), key.key_id)


def expected_hash(anchor: Anchor, digest: str, count: int, key: AuditKey | None) -> str | None:
    """The hash ``anchor`` should carry for a day whose events now give ``count`` and
    ``digest``; ``None`` when it cannot be checked (made with a key that is not at hand)."""
    if anchor.key_id == LEGACY:
        return digest if count == anchor.events else ""
    if anchor.key_id == UNKEYED:
        return seal(anchor.day, count, digest, anchor.prev, None).hash
    if key is None or key.key_id != anchor.key_id:
        return None
    return seal(anchor.day, count, digest, anchor.prev, key).hash


def day_digest(uow: UnitOfWork, day: date) -> tuple[int, str]:
    """How many events happened on ``day`` (local) and SHA-256 over their hashes by id."""
    start, end = Period(day, day, day.isoformat()).bounds
    digest = hashlib.sha256()
    count = 0
    for (value,) in uow.conn.execute(
        select(events.c.hash).where(events.c.at >= start, events.c.at < end).order_by(events.c.id)
    ):
        digest.update(value.encode())
        count += 1
    return count, digest.hexdigest()


def stored_anchors(uow: UnitOfWork) -> list[Anchor]:
    """The anchors in the database, by day."""
    rows = uow.conn.execute(select(anchors).order_by(anchors.c.day)).mappings()
    return [Anchor(r["day"], r["events"], "", r["prev_hash"], r["hash"], r["key_id"]) for r in rows]


def last_anchored_day(store: Store) -> date | None:
    """The last day anchored in the database (``None``: none yet)."""
    with store.begin() as conn:
        last: date | None = conn.execute(select(func.max(anchors.c.day))).scalar()
    return last


def _first_event_day(uow: UnitOfWork) -> date | None:
    first = uow.conn.execute(select(func.min(events.c.at))).scalar()
    return None if first is None else local_date(first)


def anchor_through(
    store: Store,
    through: date,
    now: datetime,
    key: AuditKey | None,
    *,
    file: Path | None = None,
    strict: bool = True,
) -> list[Anchor]:
    """Anchor every day not yet anchored, from the day after the last anchor (or the first
    event's day) through ``through``, in one transaction; then append them to ``file``.

    Args:
        store: The database.
        through: The last day to anchor; it must be over (before ``now``'s local date).
        now: The current instant.
        key: The audit key (``None`` only in development).
        file: The external anchor file to append to (created if missing).
        strict: Refuse (rather than do nothing) when ``through`` is already anchored.

    Returns:
        The new anchors (empty when there was nothing to anchor).

    Raises:
        AnchorError: If ``through`` is not over, or (``strict``) is already anchored, or a
            concurrent writer anchored the same days first.
    """
    if through >= local_date(now):
        raise AnchorError(f"{through.isoformat()} is not over yet: anchor days once they end")
    try:
        with store.write() as uow:
            existing = stored_anchors(uow)
            if existing and existing[-1].day >= through:
                if strict:
                    raise AnchorError(
                        f"{through.isoformat()} is already anchored (anchors run through "
                        f"{existing[-1].day.isoformat()}; an anchor is never rewritten)"
                    )
                return []
            start = existing[-1].day + timedelta(days=1) if existing else _first_event_day(uow)
            prev = existing[-1].hash if existing else GENESIS
            new: list[Anchor] = []
            day = start
            while day is not None and day <= through:
                count, digest = day_digest(uow, day)
                anchor = seal(day, count, digest, prev, key)
                uow.conn.execute(
                    insert(anchors).values(
                        day=day, events=count, hash=anchor.hash, prev_hash=prev,
                        key_id=anchor.key_id, computed_at=now,
                    )
                )  # fmt: skip
                new.append(anchor)
                prev = anchor.hash
                day += timedelta(days=1)
    except IntegrityError:
        raise AnchorError("another process anchored these days at the same time") from None
    if file is not None and new:
        append_to_file(file, new)
    return new


def append_to_file(file: Path, new: list[Anchor]) -> None:
    """Append anchors to the external anchor file, one line each, flushed to disk.

    Raises:
        ValidationError: If the file cannot be written.
    """
    try:
        with file.open("a", encoding="utf-8") as out:
            out.writelines(a.line() + "\n" for a in new)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise ValidationError("anchors", f"{file}: cannot append ({exc.strerror})") from None


def read_anchor_file(file: Path) -> Iterator[tuple[int, Anchor | str]]:
    """The anchor file's lines: ``(line number, anchor)``, or ``(line number, problem)`` for a
    line that is not an anchor.

    Raises:
        ValidationError: If the file cannot be read.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("anchors", f"{file}: cannot read ({exc})") from None
    for number, line in enumerate(text.splitlines(), 1):
        try:
            data: Any = json.loads(line)
            yield number, Anchor(
                day=date.fromisoformat(data["day"]), events=int(data["events"]),
                digest=str(data["digest"]), prev=str(data["prev"]), hash=str(data["hash"]),
                key_id=str(data["key_id"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            yield number, "not an anchor line"
