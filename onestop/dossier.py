"""Read-only views of a dossier, its events and its steps, as returned by the engine."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from onestop.status import Status
from onestop.timeliness import Timeliness

#: The view's fields read from the personal-data vault, not from the dossier's row.
_VAULTED = frozenset(
    {"applicant_name", "applicant_id_number", "applicant_phone", "applicant_address"}
)


@dataclass(frozen=True, slots=True)
class Dossier:
    """One application (hồ sơ) as stored. Change it only through :class:`onestop.Engine`.

    The applicant's personal data (``applicant_name``, ``applicant_id_number``,
    ``applicant_phone``, ``applicant_address``) is not in the dossier's row: it lives in the
    personal-data vault under ``applicant_ref``, and :meth:`onestop.Engine.get` fills it in only
    for a user whose role may read it (``None`` otherwise, and in command results).
    """

    id: int
    reference: str | None
    unit_set: str
    rule_set: str
    procedure_code: str
    procedure_version: int
    field: str
    level: str
    competent_unit: str
    intake_unit: str
    intake_mode: str
    channel: str
    return_method: str
    applicant_name: str | None
    applicant_id_number: str | None
    applicant_phone: str | None
    applicant_address: str | None
    applicant_ref: str | None
    status: Status
    status_code: int
    step_index: int
    step_count: int
    current_agency: str | None
    submitted_at: datetime | None
    received_at: datetime | None
    received_on: date | None
    due_at: datetime | None
    original_due_at: datetime | None
    step_due_at: datetime | None
    apologies: int
    supplements_requested: int
    paused_from: str | None
    paused_at: datetime | None
    resolved_at: datetime | None
    resolved_on: date | None
    outcome: str | None
    timeliness: Timeliness | None
    fee_paid_online: bool | None
    digitised_intake: bool | None
    reused_data: bool | None
    result_electronic: bool | None
    result_digitised: bool | None
    dispatched_at: datetime | None
    returned_at: datetime | None
    rating: int | None
    closed_at: datetime | None
    event_hash: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Dossier:
        """Build from a ``dossiers`` row (extra keys are ignored)."""
        get = row.get
        values: dict[str, Any] = {
            name: get(name) if name in _VAULTED else row[name] for name in _DOSSIER_FIELDS
        }
        values["status"] = Status(values["status"])
        if values["timeliness"] is not None:
            values["timeliness"] = Timeliness(values["timeliness"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ``fields()`` rebuilds its tuple on every call: a dossier view is built per command.
_DOSSIER_FIELDS = tuple(f.name for f in fields(Dossier))


@dataclass(frozen=True, slots=True)
class Event:
    """One state change of a dossier (a line of the process control sheet, Form 05)."""

    id: int
    dossier_id: int
    seq: int
    at: datetime
    trigger: str
    from_status: Status
    to_status: Status
    step_index: int
    agency: str | None
    unit: str | None
    actor: str | None
    data: dict[str, Any]
    hash: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        """Build from an ``events`` row."""
        values = {f.name: row[f.name] for f in fields(cls)}
        values["from_status"] = Status(values["from_status"])
        values["to_status"] = Status(values["to_status"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a dossier's route as processed (a line of Form 05).

    Attributes:
        dossier_id: The dossier.
        seq: Index of the step in the route.
        step_code: The route step's code.
        agency: The agency that held it.
        started_at: When it started.
        due_at: When it is (was) due.
        completed_at: When it was handed over (``None`` while held).
        timeliness: Early, on time or late, judged at hand-over.
    """

    dossier_id: int
    seq: int
    step_code: str
    agency: str
    started_at: datetime
    due_at: datetime
    completed_at: datetime | None
    timeliness: Timeliness | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Step:
        """Build from a ``dossier_steps`` row."""
        values = {f.name: row[f.name] for f in fields(cls)}
        if values["timeliness"] is not None:
            values["timeliness"] = Timeliness(values["timeliness"])
        return cls(**values)
