"""Validated command arguments.

The engine validates every argument with these pydantic models before it opens a transaction,
and turns the first pydantic error into :class:`onestop.errors.ValidationError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from onestop.access import Actor
from onestop.errors import ValidationError
from onestop.inputs import (
    Amount,
    CitizenId,
    Code,
    Id,
    Key,
    Moment,
    Name,
    Phone,
    Reference,
    Text,
    UserId,
)

Channel = Literal["counter", "online", "postal"]
ReturnMethod = Literal["counter", "online", "post"]
Outcome = Literal["approved", "denied"]


_USER_ID: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(UserId)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Applicant(_Args):
    """Who applies. Personal data: kept encrypted in the vault (:mod:`onestop.vault`), never
    in the dossier's row or events, never logged.

    Attributes:
        name: Full name.
        id_number: Citizen identity number (12 ASCII digits).
        phone: Vietnamese phone number (``0...`` or ``+84...``).
        address: Postal address (for a result returned by post).
        account: The applicant's account, when the desk links a counter dossier to it (an
            online submission is linked to its submitter's account by itself): the account
            then sees the dossier and may rate it.
    """

    name: Name | None = None
    id_number: CitizenId | None = None
    phone: Phone | None = None
    address: Text | None = None
    account: UserId | None = None


class Correction(_Args):
    """A correction of the applicant's data: the fields given replace the vault's.

    Attributes:
        name, id_number, phone, address: As in :class:`Applicant`; at least one.
    """

    name: Name | None = None
    id_number: CitizenId | None = None
    phone: Phone | None = None
    address: Text | None = None

    @model_validator(mode="after")
    def _something(self) -> Correction:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("give at least one of name, id_number, phone, address")
        return self


class Meta(_Args):
    """Arguments every command takes.

    Attributes:
        actor: Who acts: a user id, or an :class:`~onestop.access.Actor` (required when the
            engine has an access policy); the user id is recorded on the event.
        expected_version: The dossier version the caller read; a mismatch raises StaleVersion.
        idempotency_key: A key making retries safe: a repeated key returns the first result.
    """

    actor: UserId | Actor | None = None
    expected_version: Id | None = None
    idempotency_key: Key | None = None

    @field_validator("actor")
    @classmethod
    def _actor_id(cls, actor: str | Actor | None) -> str | Actor | None:
        # An Actor built by the caller passes as is: its user id still meets the UserId rule.
        if isinstance(actor, Actor):
            try:
                _USER_ID.validate_python(actor.user_id)
            except pydantic.ValidationError as exc:
                msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise ValueError(f"user_id: {msg}") from None
        return actor


class Intake(_Args):
    """Arguments of a new dossier (online submission, receipt, refusal at intake).

    Attributes:
        digitised: Whether the dossier's components were digitised at intake (``None``: not
            recorded).
        reused_data: Whether digitised data already held was reused instead of asking the
            applicant again (``None``: not recorded).
    """

    procedure: Code
    competent_unit: Code
    intake_unit: Code | None = None
    channel: Channel = "counter"
    return_method: ReturnMethod = "counter"
    applicant: Applicant | None = None
    reference: Reference | None = None
    digitised: bool | None = None
    reused_data: bool | None = None


class Reason(_Args):
    """A free-text reason (refusal, supplement request, suspension, withdrawal...)."""

    reason: Text


class NoArgs(_Args):
    """A command that takes no arguments of its own."""


class SupplementRequest(_Args):
    """A supplement request (Form 02): everything missing, in one request.

    Attributes:
        reason: What is missing.
        extra_reason: Why a further request is needed after the rule set's limit (required
            then, and recorded; such a request does not stop the clock).
    """

    reason: Text
    extra_reason: Text | None = None


class OptionalReason(_Args):
    """An optional free-text note."""

    reason: Text | None = None


class Payment(_Args):
    """A financial-obligation request."""

    amount_vnd: Amount
    reason: Text | None = None


class Paid(_Args):
    """The applicant paid."""

    online: bool


class Resolution(_Args):
    """The result of processing.

    Attributes:
        outcome: ``approved`` or ``denied``.
        note: Free text.
        electronic: Whether the result was issued electronically (``None``: not recorded).
        digitised: Whether the result was digitised into the data store (``None``: not
            recorded).
    """

    outcome: Outcome = "approved"
    note: Text | None = None
    electronic: bool | None = None
    digitised: bool | None = None


class Apology(_Args):
    """An apology letter (Form 04) with a new appointment date."""

    new_due: Moment
    reason: Text


class Dispatch(_Args):
    """A result sent by post."""

    tracking: Reference | None = None


class Rating(_Args):
    """The applicant's satisfaction rating."""

    score: int = Field(ge=1, le=5)


class OpenQuery(_Args):
    """The filters of :meth:`onestop.Engine.open_dossiers`.

    Attributes:
        unit: Competent unit code.
        agency: Current agency code.
        procedure: Procedure code.
        overdue_at: Only dossiers overdue at this moment.
        limit: At most this many rows (1 to 100,000).
    """

    unit: Code | None = None
    agency: Code | None = None
    procedure: Code | None = None
    overdue_at: Moment | None = None
    limit: int = Field(default=1000, ge=1, le=100_000, strict=True)


class Options(TypedDict, total=False):
    """What every command on an existing dossier also takes.

    Attributes:
        actor: Who acts: a user id, or an :class:`~onestop.access.Actor` (required when the
            engine has an access policy).
        expected_version: The version the caller read; a mismatch raises StaleVersion.
        idempotency_key: Makes a retried call return the first result and write nothing.
    """

    actor: str | Actor | None
    expected_version: int | None
    idempotency_key: str | None


class NewOptions(TypedDict, total=False):
    """What every command creating a dossier also takes (see :class:`Options`)."""

    actor: str | Actor | None
    idempotency_key: str | None


A = TypeVar("A", bound=BaseModel)


def validated(model: type[A], **kwargs: Any) -> A:
    """Validate keyword arguments as ``model``.

    Raises:
        ValidationError: Naming the first wrong field and what is wrong with it.
    """
    try:
        return model.model_validate(kwargs)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or model.__name__
        raise ValidationError(field, err["msg"].removeprefix("Value error, ")) from None


def validated_mapping(model: type[A], arguments: Any) -> A:
    """Validate a mapping of arguments (``None``: no arguments) as ``model``.

    Raises:
        ValidationError: If ``arguments`` is not a mapping of names, or naming the first wrong
            field and what is wrong with it.
    """
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping) or not all(isinstance(k, str) for k in arguments):
        raise ValidationError("arguments", "must be a mapping of argument names to values")
    return validated(model, **arguments)


def actor_id(meta: Meta) -> str | None:
    """The user id recorded on events."""
    return meta.actor.user_id if isinstance(meta.actor, Actor) else meta.actor
