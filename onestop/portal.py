"""What the national public-service portal shows of a dossier, and the message that tells it.

The portal shows a dossier's status code (1–10, :data:`onestop.status.PORTAL_CODES`), the agency
holding it, its appointment date, and the dates of its result and of its return. An event that
changes one of these (:func:`changes_portal`) writes one outbox message
(:func:`portal_message`) in the same transaction as the event; the sync dispatcher delivers the
messages in order per dossier. The message carries codes and dates only: no applicant, no staff.

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

from onestop.status import Status

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


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def portal_message(
    after: Mapping[str, Any], seq: int, at: datetime, trigger: str
) -> dict[str, Any]:
    """The message for the portal after an event (JSON-ready; see ``SCHEMA_FILE``).

    Args:
        after: The dossier row after the event.
        seq: The event's sequence number in the dossier (its version).
        at: When the event happened.
        trigger: The command's trigger.
    """
    status = Status(after["status"])
    return {
        "schema": CONTRACT,
        "key": message_key(after["unit_set"], after["id"], seq),
        "dossier_id": after["id"],
        "reference": after["reference"],
        "seq": seq,
        "status_code": status.portal_code,
        "status": status.value,
        "trigger": trigger,
        "occurred_at": at.isoformat(),
        "unit_set": after["unit_set"],
        "procedure_code": after["procedure_code"],
        "procedure_version": after["procedure_version"],
        "field": after["field"],
        "level": after["level"],
        "competent_unit": after["competent_unit"],
        "intake_unit": after["intake_unit"],
        "agency": after["current_agency"],
        "channel": after["channel"],
        "received_at": _iso(after["received_at"]),
        "appointment_at": _iso(after["due_at"]),
        "resolved_at": _iso(after["resolved_at"]),
        "returned_at": _iso(after["returned_at"]),
        "outcome": after["outcome"],
        "timeliness": after["timeliness"],
    }
