"""A feedback item and its events as callers see them: read-only views of the stored rows.

Example:
    >>> from datetime import datetime
    >>> from onestop import VN_TZ
    >>> at = datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ)
    >>> event = FeedbackEvent(1, at, "receive", "new", "received", "W1.DESK", None, {}, "ab")
    >>> event.to_status
    'received'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from onestop.feedback import FeedbackStatus


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """A feedback item as stored (read-only view)."""

    id: int
    reference: str | None
    law: str
    channel: str
    subject: str
    topic: str | None
    procedure_code: str | None
    linked_dossier: int | None
    anonymous: bool
    level: str
    unit: str
    agency: str
    assignee: str | None
    status: FeedbackStatus
    received_at: datetime
    due_at: datetime | None
    original_due_at: datetime | None
    extensions: int
    outcome: str | None
    reject_reason: str | None
    forwarded_to: str | None
    resolved_at: datetime | None
    timeliness: str | None
    published_at: datetime | None
    closed_at: datetime | None
    rating: int | None
    version: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> FeedbackItem:
        """Build from a ``feedback_cases`` row."""
        values = {f.name: row[f.name] for f in fields(cls)}
        values["status"] = FeedbackStatus(values["status"])
        return cls(**values)

    @classmethod
    def from_result(cls, row: Mapping[str, Any]) -> FeedbackItem:
        """The item an idempotent command returned: its stored result, whose id is the item's
        id in the event log's feedback id space (minus the item's id)."""
        return cls.from_row({**row, "id": -row["id"]})


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """One state change of a feedback item (an ``events`` row of the shared log)."""

    seq: int
    at: datetime
    trigger: str
    from_status: str
    to_status: str
    agency: str | None
    actor: str | None
    data: dict[str, Any]
    hash: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> FeedbackEvent:
        """Build from an ``events`` row (its other columns ignored)."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})
