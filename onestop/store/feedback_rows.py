"""Feedback items' rows and their events in the shared, hash-chained event log.

A feedback item's events are ``events`` rows whose ``dossier_id`` is minus the item's id: the
feedback id space of the one log. They are chained like a dossier's (``sha256(previous hash +
canonical content)``, the head on the item's row, moved in the same version-checked UPDATE),
anchored with the day's other events, and verified by :mod:`onestop.audit` against the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update

from onestop.audit_key import AuditKey
from onestop.errors import StaleVersion, UnknownFeedback
from onestop.feedback import OPEN
from onestop.store.codec import to_json
from onestop.store.event_log import sealed
from onestop.store.schema import events, feedback_cases, satisfaction
from onestop.store.unit_of_work import UnitOfWork

_F = feedback_cases.c


def event_case_id(feedback_id: int) -> int:
    """The ``events.dossier_id`` of a feedback item's events."""
    return -feedback_id


def feedback_event(
    after: Mapping[str, Any],
    previous_hash: str | None,
    trigger: str,
    before: str,
    changes: Mapping[str, Any],
    args: Mapping[str, Any],
    *,
    actor: str | None,
    at: datetime,
    key: AuditKey | None,
) -> dict[str, Any]:
    """The event of a command that took a feedback item to ``after``, chained to its previous
    event (the same canonical form and keyed hash as a dossier's, :func:`event_log.chain_hash`;
    a feedback item has no steps)."""
    event = {
        "dossier_id": event_case_id(after["id"]),
        "seq": after["version"],
        "at": at,
        "trigger": trigger,
        "from_status": before,
        "to_status": after["status"],
        "step_index": 0,
        "agency": after["agency"],
        "unit": after["unit"] if previous_hash is None else None,
        "actor": actor,
        "data": {"set": to_json(changes), "args": to_json(args), "steps": []},
    }
    return sealed(event, previous_hash, key)


def append(uow: UnitOfWork, event: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    """Append a feedback event to the shared log (inside a batch, with the batch's events)."""
    uow.append_event(
        event, {"due_at": after["due_at"], "paused_at": None, "apologies": after["extensions"]}
    )


def insert_case(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert a new item at version 1; its id."""
    result = conn.execute(insert(feedback_cases).values(**values, version=1).returning(_F.id))
    return int(result.scalar_one())


def set_head(conn: Connection, feedback_id: int, value: str) -> None:
    """Set a new item's chain head (its first event needs the id the insert gave)."""
    conn.execute(update(feedback_cases).where(_F.id == feedback_id).values(event_hash=value))


def load_case(conn: Connection, feedback_id: int, *, lock: bool = False) -> dict[str, Any]:
    """The item's row (locked until the transaction ends with ``lock`` on PostgreSQL).

    Raises:
        UnknownFeedback: If there is none.
    """
    query = select(feedback_cases).where(_F.id == feedback_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise UnknownFeedback(f"no feedback item {feedback_id}")
    return dict(row)


def update_case(
    conn: Connection, feedback_id: int, version: int, values: Mapping[str, Any]
) -> None:
    """Apply ``values`` if the row is still at ``version``, and bump it.

    Raises:
        StaleVersion: If another command changed the item since it was read.
    """
    done = conn.execute(
        update(feedback_cases)
        .where(_F.id == feedback_id, _F.version == version)
        .values(**values, version=version + 1)
    )
    if done.rowcount != 1:
        actual = conn.execute(select(_F.version).where(_F.id == feedback_id)).scalar()
        raise StaleVersion(feedback_id, version, actual)


def history(conn: Connection, feedback_id: int) -> list[dict[str, Any]]:
    """The item's events, oldest first."""
    query = (
        select(events)
        .where(events.c.dossier_id == event_case_id(feedback_id))
        .order_by(events.c.seq)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def heads_query() -> Select[Any]:
    """Every item's row under its events' case id (minus its id), by case id, for
    verification."""
    columns = [(-_F.id).label("id") if c.name == "id" else c for c in feedback_cases.columns]
    return select(*columns).order_by(_F.id.desc())


def insert_rating(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert one satisfaction answer."""
    conn.execute(insert(satisfaction).values(**values))


def open_cases(conn: Connection) -> list[dict[str, Any]]:
    """Items still being handled, by time limit (the worklist)."""
    query = (
        select(feedback_cases)
        .where(_F.status.in_(sorted(s.value for s in OPEN)))
        .order_by(_F.due_at, _F.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def reference_taken(conn: Connection, reference: str) -> bool:
    """Whether an item already carries this external reference."""
    return conn.execute(select(_F.id).where(_F.reference == reference)).first() is not None
