"""The outbox's SQL: claiming messages for a dispatcher, settling their attempts, the backlog,
requeuing dead letters, and the synchronisation KPI.

Messages are written by the unit of work in the event's transaction
(:meth:`onestop.store.UnitOfWork.append_message`). A dispatcher claims only the *head* of each
dossier's queue: a pending message with no undelivered message before it (a dead letter blocks
its dossier until it is requeued), so message n+1 of a dossier is never sent before n is
acknowledged. A claim is a lease (``claimed_by``, ``claimed_until``) taken in a short
transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer): delivery runs
outside any transaction, so it never holds a lock a command waits for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, or_, select, update

from onestop.clock import local_date
from onestop.errors import ValidationError
from onestop.periods import Period
from onestop.portal import DOSSIER_FIELDS, STATE_FIELDS, message_key, portal_message
from onestop.store import Store, clauses
from onestop.store.schema import dossiers, outbox

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
#: What a message is built from: the outbox row and the dossier's intake columns.
_MESSAGE = (
    outbox.c.id,
    outbox.c.dossier_id,
    outbox.c.seq,
    outbox.c.attempts,
    outbox.c.created_at,
    outbox.c.trigger,
    *(outbox.c[name] for name in STATE_FIELDS),
    *(dossiers.c[name] for name in DOSSIER_FIELDS),
)


def _payload(row: Any) -> dict[str, Any]:
    values = row._mapping
    return portal_message(
        values["dossier_id"],
        values["seq"],
        values["created_at"],
        values["trigger"],
        values,
        values,
    )


@dataclass(frozen=True)
class Claimed:
    """A message claimed by a dispatcher.

    Attributes:
        id: The outbox row.
        dossier_id: Its dossier.
        seq: The event it reports.
        attempts: Attempts made before this one.
        payload: The message (JSON-ready).
    """

    id: int
    dossier_id: int
    seq: int
    attempts: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """A failed attempt: the message's attempts now, when to retry (``None``: dead letter)."""

    id: int
    attempts: int
    error: str
    retry_at: datetime | None


@dataclass(frozen=True)
class Backlog:
    """What ``onestop sync status`` shows.

    Attributes:
        pending: Messages not delivered yet, not dead.
        dead: Dead letters (gave up; ``onestop sync retry`` requeues them).
        delivered: Messages acknowledged by the portal.
        claimed: Pending messages under a dispatcher's unexpired claim.
        oldest_pending_at: When the oldest undelivered message (pending or dead) was written.
        dead_letters: Up to 20 dead letters: ``id``, ``key``, ``attempts``, ``last_error``.
    """

    pending: int
    dead: int
    delivered: int
    claimed: int
    oldest_pending_at: datetime | None
    dead_letters: list[dict[str, Any]]


def _heads(now: datetime, limit: int) -> Select[Any]:
    o = outbox.c
    earlier = outbox.alias("earlier")
    at = clauses.instant(now)
    return (
        select(*_MESSAGE)
        .join_from(outbox, dossiers, dossiers.c.id == o.dossier_id)
        .where(
            o.delivered_at.is_(None),
            o.state == PENDING,
            or_(o.next_attempt_at.is_(None), o.next_attempt_at <= at),
            or_(o.claimed_until.is_(None), o.claimed_until <= at),
            ~exists().where(
                earlier.c.dossier_id == o.dossier_id,
                earlier.c.seq < o.seq,
                earlier.c.delivered_at.is_(None),
            ),
        )
        # Oldest first. "+ 0": SQLite would otherwise walk the whole table in id order rather
        # than the index of undelivered rows and a sort of those.
        .order_by(o.id + 0)
        .limit(limit)
    )


def claim(store: Store, holder: str, now: datetime, ttl: float, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` messages, each the head of its dossier's queue and due, oldest
    first, for ``ttl`` seconds.

    Args:
        store: The database.
        holder: The dispatcher's identity.
        now: The dispatcher's time.
        ttl: How long the claim lasts (deliveries stop before it ends).
        limit: How many messages at most.
    """
    query = _heads(now, limit)
    if store.dialect == "postgresql":
        # Two dispatchers never take the same row; neither waits for the other's claim.
        query = query.with_for_update(skip_locked=True, of=outbox)
    with store.begin() as conn:
        rows = conn.execute(query).all()
        if not rows:
            return []
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_([r.id for r in rows]))
            .values(claimed_by=holder, claimed_until=now + timedelta(seconds=ttl))
        )
    return [Claimed(r.id, r.dossier_id, r.seq, r.attempts, _payload(r)) for r in rows]


def settle(
    store: Store,
    holder: str,
    now: datetime,
    delivered: Sequence[Claimed],
    failed: Sequence[Failure],
    unsent: Sequence[Claimed],
) -> None:
    """Record a round's outcome in one transaction and release its claims.

    An acknowledgement is recorded whoever holds the claim now (the portal has the message);
    a failure only while the claim is still ours (else another dispatcher's record stands).

    Args:
        store: The database.
        holder: The dispatcher's identity.
        now: When the round ended.
        delivered: Messages the portal acknowledged.
        failed: Failed attempts.
        unsent: Claimed messages not attempted (the claim ran short).
    """
    o = outbox.c
    released = {"claimed_by": None, "claimed_until": None}
    with store.begin() as conn:
        if delivered:
            conn.execute(
                update(outbox)
                .where(o.id.in_([m.id for m in delivered]), o.delivered_at.is_(None))
                .values(
                    state=DELIVERED,
                    delivered_at=now,
                    attempts=o.attempts + 1,
                    last_error=None,
                    **released,
                )
            )
        for f in failed:
            conn.execute(
                update(outbox)
                .where(o.id == f.id, o.claimed_by == holder, o.delivered_at.is_(None))
                .values(
                    state=PENDING if f.retry_at is not None else DEAD,
                    attempts=f.attempts,
                    last_error=f.error[:500],
                    next_attempt_at=f.retry_at,
                    **released,
                )
            )
        if unsent:
            conn.execute(
                update(outbox)
                .where(o.id.in_([m.id for m in unsent]), o.claimed_by == holder)
                .values(**released)
            )


def backlog(store: Store, now: datetime) -> Backlog:
    """The outbox's backlog and dead letters at ``now``."""
    o = outbox.c
    at = clauses.instant(now)
    undelivered = o.delivered_at.is_(None)
    with store.read() as uow:
        conn = uow.conn
        pending, dead, claimed, oldest = conn.execute(
            select(
                func.count().filter(o.state == PENDING),
                func.count().filter(o.state == DEAD),
                func.count().filter(o.state == PENDING, o.claimed_until > at),
                func.min(o.created_at),
            ).where(undelivered)
        ).one()
        delivered = conn.execute(select(func.count()).where(o.delivered_at.is_not(None))).scalar()
        letters = conn.execute(
            select(o.id, o.dossier_id, o.seq, o.attempts, o.last_error, dossiers.c.unit_set)
            .join_from(outbox, dossiers, dossiers.c.id == o.dossier_id)
            .where(undelivered, o.state == DEAD)
            .order_by(o.id)
            .limit(20)
        ).all()
    return Backlog(
        pending=int(pending),
        dead=int(dead),
        delivered=int(delivered or 0),
        claimed=int(claimed),
        oldest_pending_at=oldest,
        dead_letters=[
            {
                "id": r.id,
                "key": message_key(r.unit_set, r.dossier_id, r.seq),
                "attempts": r.attempts,
                "last_error": r.last_error,
            }
            for r in letters
        ],
    )


def messages(store: Store) -> list[dict[str, Any]]:
    """Every message as it is sent, oldest first (for tests, benchmarks and inspection)."""
    query = (
        select(*_MESSAGE)
        .join_from(outbox, dossiers, dossiers.c.id == outbox.c.dossier_id)
        .order_by(outbox.c.id)
    )
    with store.read() as uow:
        return [_payload(r) for r in uow.conn.execute(query)]


def requeue_dead(store: Store, ids: Sequence[int] | None = None) -> int:
    """Make dead letters pending again (all, or those of ``ids``), with fresh attempts.

    Returns:
        How many were requeued.

    Raises:
        ValidationError: If one of ``ids`` is no message, or not a dead letter; then none is
            requeued.
    """
    o = outbox.c
    where = [o.state == DEAD, o.delivered_at.is_(None)]
    if ids is not None:
        where.append(o.id.in_(list(ids)))
    with store.begin() as conn:
        if ids is not None:
            rows = conn.execute(select(o.id, o.state).where(o.id.in_(list(ids))))
            found = {row.id: row.state for row in rows}
            for id_ in ids:
                if id_ not in found:
                    raise ValidationError("id", f"no outbox message has id {id_}")
                if found[id_] != DEAD:
                    raise ValidationError(
                        "id", f"message {id_} is not a dead letter (it is {found[id_]})"
                    )
        result = conn.execute(
            update(outbox)
            .where(*where)
            .values(state=PENDING, attempts=0, next_attempt_at=None, last_error=None)
        )
    return int(result.rowcount)


def acknowledged(keys: Sequence[Any], period: Period, as_of: datetime) -> Select[Any]:
    """SQL: per ``keys`` (``dossiers`` columns), the dossiers received in ``period`` (by
    ``as_of``) and how many of them had their status at ``as_of`` acknowledged by the portal.

    A dossier's status at ``as_of`` is acknowledged when its latest message written by then was
    delivered by then. Messages are delivered in order, so that is when the latest message
    delivered by then is the latest written by then (none is delivered before it is written).
    A dossier without a message (received while the outbox was off) is not synchronised.
    """
    o = outbox.c
    at = clauses.instant(as_of)
    per_dossier = (
        select(
            o.dossier_id,
            func.max(case((o.created_at <= at, o.seq))).label("shown"),
            func.max(case((o.delivered_at <= at, o.seq))).label("acked"),
        )
        .group_by(o.dossier_id)
        .subquery("per_dossier")
    )
    d = dossiers.c
    synced = and_(per_dossier.c.acked.is_not(None), per_dossier.c.acked == per_dossier.c.shown)
    return (
        select(*keys, func.count(), func.coalesce(func.sum(case((synced, 1), else_=0)), 0))
        .select_from(dossiers.outerjoin(per_dossier, per_dossier.c.dossier_id == d.id))
        .where(d.received_on.between(period.start, min(period.end, local_date(as_of))))
        .group_by(*keys)
    )
