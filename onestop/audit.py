"""Tamper evidence: a hash chain per dossier, daily anchors across dossiers, and verification.

Each event stores ``sha256(previous hash + canonical content)``; the dossier row stores the hash
of its latest event. Editing an event breaks its chain; deleting or inserting one breaks the
sequence or the chain; deleting a dossier's latest event leaves the row's head hash pointing
nowhere. A daily *anchor* hashes every event of a day in order, so rewriting a whole dossier
consistently still changes the day's anchor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from onestop.periods import Period
from onestop.store import Store, replay_rows
from onestop.store.event_log import GENESIS, chain_hash
from onestop.store.schema import anchors, dossiers, events


@dataclass(frozen=True)
class Finding:
    """One sign of tampering.

    Attributes:
        dossier_id: The dossier concerned (``None`` for an anchor).
        seq: The first event that does not check out (``None`` when not about one event).
        problem: ``edited``, ``deleted``, ``inserted``, ``row_edited`` or ``anchor_mismatch``.
        detail: What exactly failed.
    """

    dossier_id: int | None
    seq: int | None
    problem: str
    detail: str

    def __str__(self) -> str:
        where = f"dossier {self.dossier_id}" if self.dossier_id is not None else "anchor"
        at = f" event {self.seq}" if self.seq is not None else ""
        return f"{where}{at}: {self.problem} ({self.detail})"


def _by_dossier(conn: Connection) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    rows = conn.execute(select(events).order_by(events.c.dossier_id, events.c.seq)).mappings()
    current: list[dict[str, Any]] = []
    for row in rows:
        if current and current[0]["dossier_id"] != row["dossier_id"]:
            yield current[0]["dossier_id"], current
            current = []
        current.append(dict(row))
    if current:
        yield current[0]["dossier_id"], current


def _check_chain(dossier_id: int, history: list[dict[str, Any]]) -> Finding | None:
    previous = GENESIS
    for i, event in enumerate(history):
        expected = i + 1
        if event["seq"] > expected:
            return Finding(dossier_id, expected, "deleted", f"event {expected} is missing")
        if chain_hash(previous, event) != event["hash"]:
            after = history[i + 1] if i + 1 < len(history) else None
            original = {**after, "seq": after["seq"] - 1} if after is not None else None
            if original is not None and chain_hash(previous, original) == original["hash"]:
                # The next event, at its original number, chains from the one before this
                # one: this event was slipped in and the later ones renumbered.
                return Finding(dossier_id, event["seq"], "inserted", "not part of the chain")
            return Finding(dossier_id, event["seq"], "edited", "content does not match its hash")
        previous = event["hash"]
    return None


def verify(store: Store) -> list[Finding]:
    """Recompute every chain, compare every row with its replay, and check every anchor.

    Args:
        store: The database to check.

    Returns:
        The first finding per dossier, then anchor mismatches; empty when all is intact.
    """
    with store.read() as uow:
        return _verify(uow.conn)


def _verify(conn: Connection) -> list[Finding]:
    findings: list[Finding] = []
    heads = {r.id: r for r in conn.execute(select(dossiers))}
    seen: set[int] = set()
    for dossier_id, history in _by_dossier(conn):
        seen.add(dossier_id)
        found = _check_chain(dossier_id, history)
        row = heads.get(dossier_id)
        if found is None and row is None:
            found = Finding(dossier_id, None, "inserted", "events of a dossier that does not exist")
        if found is None and row is not None and row.event_hash != history[-1]["hash"]:
            found = Finding(
                dossier_id, history[-1]["seq"] + 1, "deleted", "the latest events are missing"
            )
        if found is None and row is not None:
            rebuilt = replay_rows(history)
            stored = dict(row._mapping)
            diff = sorted(k for k in rebuilt if k in stored and rebuilt[k] != stored[k])
            if diff:
                found = Finding(dossier_id, None, "row_edited", f"columns {', '.join(diff)}")
        if found:
            findings.append(found)
    for dossier_id in sorted(set(heads) - seen):
        findings.append(Finding(dossier_id, 1, "deleted", "the dossier has no events"))
    for anchor in conn.execute(select(anchors).order_by(anchors.c.day)).mappings():
        count, digest = _day_digest(conn, anchor["day"])
        if (count, digest) != (anchor["events"], anchor["hash"]):
            findings.append(
                Finding(None, None, "anchor_mismatch",
                        f"events of {anchor['day']} changed since they were anchored")
            )  # fmt: skip
    return findings


def _day_digest(conn: Connection, day: date) -> tuple[int, str]:
    """How many events happened on ``day`` (local) and the hash over their hashes, in order."""
    start, end = Period(day, day, day.isoformat()).bounds
    digest = hashlib.sha256()
    count = 0
    for (value,) in conn.execute(
        select(events.c.hash).where(events.c.at >= start, events.c.at < end).order_by(events.c.id)
    ):
        digest.update(value.encode())
        count += 1
    return count, digest.hexdigest()


def anchor_day(store: Store, day: date, now: datetime) -> dict[str, Any]:
    """Store (or refresh) the anchor of ``day``; run it once the day is over.

    Args:
        store: The database.
        day: The local day whose events are anchored.
        now: When the anchor is computed.
    """
    with store.begin() as conn:
        count, digest = _day_digest(conn, day)
        conn.execute(delete(anchors).where(anchors.c.day == day))
        conn.execute(insert(anchors).values(day=day, events=count, hash=digest, computed_at=now))
    return {"day": day.isoformat(), "events": count, "hash": digest}


__all__ = ["Finding", "anchor_day", "verify"]
