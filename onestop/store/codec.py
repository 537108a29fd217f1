"""Column values to and from JSON (events and idempotent results carry them as JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from onestop.clock import VN_TZ
from onestop.store.schema import AwareDateTime, dossiers, feedback_cases

#: Columns of the cases (dossiers, feedback items) holding datetimes (events carry them as ISO
#: strings).
DATETIME_COLUMNS = frozenset(
    c.name
    for table in (dossiers, feedback_cases)
    for c in table.columns
    if isinstance(c.type, AwareDateTime)
)
#: Dossier columns holding local dates.
DATE_COLUMNS = frozenset({"received_on", "resolved_on"})


def to_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """Column values as JSON-safe data (datetimes and dates as ISO strings)."""
    return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in values.items()}


def from_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`to_json` for dossier columns."""
    out = dict(values)
    for key, value in values.items():
        if value is None:
            continue
        if key in DATETIME_COLUMNS:
            out[key] = datetime.fromisoformat(value)
        elif key in DATE_COLUMNS:
            out[key] = date.fromisoformat(value)
    return out


def local_datetimes(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with their datetime columns in Vietnam's zone, as a database read returns
    them (a command's event records the row as read, so rows kept in memory must hold the
    same offsets as rows read back)."""
    out = dict(values)
    for key in DATETIME_COLUMNS.intersection(values):
        value = values[key]
        if value is not None and value.tzinfo is not VN_TZ:
            out[key] = value.astimezone(VN_TZ)
    return out
