"""What the national public-service portal shows of a dossier, and the message that tells it.

The portal shows a dossier's status code (1–10, :data:`onestop.status.PORTAL_CODES`), the agency
holding it, its appointment date, and the dates of its result and of its return. An event that
changes one of these (:func:`changes_portal`) writes one outbox message
(:func:`portal_message`) in the same transaction as the event; the sync dispatcher delivers the
messages in order per dossier. The message carries codes and dates only: no applicant, no staff.
On the command's path only :func:`portal_state` runs (a few columns copied); the JSON message is
built when it is sent.

Example:
    >>> before = {"status_code": 2, "current_agency": "A", "due_at": None, "resolved_at": None,
    ...           "returned_at": None}
    >>> changes_portal(before, {**before, "status_code": 4}), changes_portal(before, before)
    (True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from onestop.status import PORTAL_CODES

#: The dossier columns the portal shows: an event that changes one of them is synchronised.
PORTAL_FIELDS: tuple[str, ...] = (
    "status_code",
    "current_agency",
    "due_at",
    "resolved_at",
    "returned_at",
)
#: Version of the message contract (``schema`` field; the JSON schema's ``const``).
CONTRACT = "onestop.portal-message/1"
_CODES = {status.value: code for status, code in PORTAL_CODES.items()}
#: The JSON schema of a message, shipped with the package.
SCHEMA_FILE = Path(__file__).parent / "schemas" / "portal-message.schema.json"


def changes_portal(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a command that took a dossier row from ``before`` to ``after`` changes what the
    portal shows (a new dossier's ``before`` has no status code: always).

    Args:
        before: The dossier row before the command (:data:`onestop.store.EMPTY_ROW` for a new
            dossier).
        after: The row after it.
    """
    return any(before[name] != after[name] for name in PORTAL_FIELDS)


def message_key(unit_set: str, dossier_id: int, seq: int) -> str:
    """The idempotency key of a dossier's message for its event ``seq``: the same on every
    attempt, different for every event, and unique across the unit sets sending to a portal."""
    return f"{unit_set}/{dossier_id}/{seq}"


#: The dossier's columns that change over its life and the message carries: stored with each
#: message (their values after its event).
STATE_FIELDS: tuple[str, ...] = (
    "status",
    "current_agency",
    "due_at",
    "received_at",
    "resolved_at",
    "returned_at",
    "outcome",
    "timeliness",
)
#: The columns set once at intake that the message carries (read from the dossier row when the
#: message is sent).
DOSSIER_FIELDS: tuple[str, ...] = (
    "reference",
    "unit_set",
    "procedure_code",
    "procedure_version",
    "field",
    "level",
    "competent_unit",
    "intake_unit",
    "channel",
)


def portal_state(after: Mapping[str, Any]) -> dict[str, Any]:
    """What an outbox message stores of the dossier after its event: :data:`STATE_FIELDS`
    (the rest of the message is built when it is sent, by :func:`portal_message`)."""
    return {name: after[name] for name in STATE_FIELDS}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def portal_message(
    dossier_id: int,
    seq: int,
    at: datetime,
    trigger: str,
    state: Mapping[str, Any],
    dossier: Mapping[str, Any],
) -> dict[str, Any]:
    """The message for the portal about one event (JSON-ready; see ``SCHEMA_FILE``).

    Args:
        dossier_id: The dossier.
        seq: The event's sequence number in the dossier (its version).
        at: When the event happened.
        trigger: The command's trigger.
        state: The dossier's :data:`STATE_FIELDS` after the event.
        dossier: The dossier's :data:`DOSSIER_FIELDS`.
    """
    status = state["status"]
    return {
        "schema": CONTRACT,
        "key": message_key(dossier["unit_set"], dossier_id, seq),
        "dossier_id": dossier_id,
        "reference": dossier["reference"],
        "seq": seq,
        "status_code": _CODES[status],
        "status": status,
        "trigger": trigger,
        "occurred_at": at.isoformat(),
        "unit_set": dossier["unit_set"],
        "procedure_code": dossier["procedure_code"],
        "procedure_version": dossier["procedure_version"],
        "field": dossier["field"],
        "level": dossier["level"],
        "competent_unit": dossier["competent_unit"],
        "intake_unit": dossier["intake_unit"],
        "agency": state["current_agency"],
        "channel": dossier["channel"],
        "received_at": _iso(state["received_at"]),
        "appointment_at": _iso(state["due_at"]),
        "resolved_at": _iso(state["resolved_at"]),
        "returned_at": _iso(state["returned_at"]),
        "outcome": state["outcome"],
        "timeliness": state["timeliness"],
    }
