"""The event log: one row per state change, chained per dossier by a keyed hash, and its replay.

Each event stores ``HMAC-SHA-256(audit key, previous hash + canonical content)`` and the key's
public ``key_id``; the dossier row stores the hash of its latest event (moved in the same
version-checked UPDATE), so a dossier's state (its row and its steps) can be rebuilt by replaying
its events and any edit breaks the chain. Without the key (held outside the database) a forger
cannot re-chain what they edit. In development mode, and before migration 0011, the chain is a
plain ``sha256`` with ``key_id`` NULL, which anyone who can write to the database can recompute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from onestop.audit_key import AuditKey
from onestop.store.codec import from_json, to_json

GENESIS = ""
# One encoder for every event (``json.dumps`` with options builds a new one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical(event: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash covers: every field but its own hash, in a fixed form."""
    at: datetime = event["at"]
    body = {
        "dossier_id": int(event["dossier_id"]),
        "seq": int(event["seq"]),
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "trigger": event["trigger"],
        "from_status": event["from_status"],
        "to_status": event["to_status"],
        "step_index": int(event["step_index"]),
        "agency": event["agency"],
        "unit": event["unit"],
        "actor": event["actor"],
        "data": event["data"],
    }
    return _CANONICAL.encode(body).encode()


def chain_hash(previous: str, event: Mapping[str, Any], key: AuditKey | None = None) -> str:
    """The hash of ``event`` following an event whose hash is ``previous``: keyed with ``key``
    (HMAC-SHA-256), or a plain SHA-256 without one (development mode, events before keying)."""
    message = previous.encode() + canonical(event)
    return hashlib.sha256(message).hexdigest() if key is None else key.mac(message)


def event_row(
    after: Mapping[str, Any],
    previous_hash: str | None,
    trigger: str,
    before: str,
    changes: Mapping[str, Any],
    args: Mapping[str, Any],
    *,
    actor: str | None,
    at: datetime,
    unit: str | None,
    key: AuditKey | None,
    new_steps: Sequence[Mapping[str, Any]] = (),
    step_updates: Sequence[tuple[int, Mapping[str, Any]]] = (),
) -> dict[str, Any]:
    """The event of a command that took a dossier to ``after``, chained to its previous event.

    Args:
        after: The dossier row after the command (its ``version`` is the event's ``seq``).
        previous_hash: The dossier's chain head before the command (``None`` for a new one).
        trigger: The command's trigger.
        before: The status before.
        changes: The columns the command set (replayed to rebuild the row).
        args: The command's arguments, as recorded.
        actor: Who acted.
        at: When.
        unit: Where (intake unit of a new dossier).
        key: The audit key chaining the event (``None``: unkeyed, development mode).
        new_steps: The step rows the command inserted (recorded, so the steps can be
            rebuilt from the log and checked).
        step_updates: ``(seq, columns)`` of the step rows it updated.
    """
    event = {
        "dossier_id": after["id"],
        "seq": after["version"],
        "at": at,
        "trigger": trigger,
        "from_status": before,
        "to_status": after["status"],
        "step_index": after["step_index"],
        "agency": after["current_agency"],
        "unit": unit,
        "actor": actor,
        "data": {
            "set": to_json(changes),
            "args": to_json(args),
            "steps": [["new", to_json(step)] for step in new_steps]
            + [["set", seq, to_json(values)] for seq, values in step_updates],
        },
    }
    return sealed(event, previous_hash, key)


def sealed(
    event: dict[str, Any], previous_hash: str | None, key: AuditKey | None
) -> dict[str, Any]:
    """``event`` chained after the event whose hash is ``previous_hash`` (``None``: the first of
    its case): its key id and hash set, for a dossier's events and a feedback item's alike."""
    event["key_id"] = None if key is None else key.key_id
    event["hash"] = chain_hash(previous_hash or GENESIS, event, key)
    return event


def replay_rows(history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Rebuild a dossier row from its ``events`` rows, oldest first.

    Each event's ``data["set"]`` holds the column values its command set; the version is the
    number of events and the head hash the latest event's. The result equals the stored row when
    the log is complete and untampered.
    """
    row: dict[str, Any] = {}
    for ev in history:
        row.update(from_json(ev["data"]["set"]))
    row["version"] = len(history)
    if history:
        row["id"] = history[0]["dossier_id"]
        row["event_hash"] = history[-1]["hash"]
    return row


#: Step columns holding datetimes (events carry them as ISO strings).
STEP_DATETIMES = frozenset({"started_at", "due_at", "completed_at"})


def _step_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: datetime.fromisoformat(v) if k in STEP_DATETIMES and v is not None else v
        for k, v in values.items()
    }


def replay_steps(history: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, Any]] | None:
    """Rebuild a dossier's step rows (by ``seq``, without ``dossier_id``) from its ``events``
    rows, oldest first; ``None`` when its events predate step records (migration 0011)."""
    if any("steps" not in ev["data"] for ev in history):
        return None
    steps: dict[int, dict[str, Any]] = {}
    for ev in history:
        for op in ev["data"]["steps"]:
            if op[0] == "new":
                step = _step_values(op[1])
                steps[step["seq"]] = step
            else:
                steps[op[1]].update(_step_values(op[2]))
    return steps


def replay(history: Sequence[Any]) -> dict[str, Any]:
    """:func:`replay_rows` over :class:`onestop.Event` views (or anything with their fields)."""
    return replay_rows(
        [{"dossier_id": e.dossier_id, "data": e.data, "hash": e.hash} for e in history]
    )


def states(history: Iterable[Mapping[Any, Any]]) -> Iterator[dict[str, Any]]:
    """Each dossier's state after each of its ``events`` rows (ordered by dossier, then
    sequence): status, holder, appointment, clock stop and apologies, folded from the columns
    each event set."""
    current: Any = None
    state: dict[str, Any] = {}
    for ev in history:
        if ev["dossier_id"] != current:
            current, state = ev["dossier_id"], {"due_at": None, "paused_at": None, "apologies": 0}
        changed = from_json(ev["data"]["set"])
        state.update({k: changed[k] for k in ("due_at", "paused_at", "apologies") if k in changed})
        yield {
            "id": ev["id"],
            "dossier_id": current,
            "seq": ev["seq"],
            "at": ev["at"],
            "status": ev["to_status"],
            "agency": ev["agency"],
            **state,
        }
