"""Every typed error is raised for bad input, and the database is unchanged afterwards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from onestop import (
    VN_TZ,
    Engine,
    IdempotencyKeyReused,
    InvalidTransition,
    ManualClock,
    NotAllowedHere,
    StaleVersion,
    UnknownDossier,
    UnknownProcedure,
    UnknownUnit,
    ValidationError,
)

from .helpers import fingerprint

NOW = datetime(2025, 1, 24, 9, 0, tzinfo=VN_TZ)

# (name, command, expected error, text the message must contain)
CASES: list[tuple[str, Callable[[Engine, int], Any], type[Exception], str]] = [
    (
        "resolve before last step",
        lambda e, d: e.resolve(d),
        InvalidTransition,
        "not at its last step",
    ),
    ("return before resolution", lambda e, d: e.return_result(d), InvalidTransition, "'received'"),
    ("pay without request", lambda e, d: e.pay(d), InvalidTransition, "'pay' is not allowed"),
    (
        "unknown trigger for procedure",
        lambda e, d: e.dispatch_post(d),
        InvalidTransition,
        "'received'",
    ),
    ("unknown procedure", lambda e, d: e.receive("NOPE", "W1"), UnknownProcedure, "'NOPE'"),
    ("unknown unit", lambda e, d: e.receive("LAND", "D9"), UnknownUnit, "'D9'"),
    (
        "unknown intake unit",
        lambda e, d: e.receive("JUDICIAL", "C", intake_unit="X"),
        UnknownUnit,
        "'X'",
    ),
    ("unknown dossier", lambda e, d: e.complete_step(d + 1000), UnknownDossier, "no dossier"),
    (
        "location-independent not allowed",
        lambda e, d: e.receive("LAND", "D1", intake_unit="W1"),
        NotAllowedHere,
        "not on the location-independent list",
    ),
    (
        "location-independent at a level not allowed",
        lambda e, d: e.receive("BIRTH", "W1", intake_unit="D1"),
        NotAllowedHere,
        "only at commune level, not at 'district'",
    ),
    (
        "not offered online",
        lambda e, d: e.receive("COPY", "W1", channel="online"),
        NotAllowedHere,
        "online",
    ),
    (
        "not offered by post",
        lambda e, d: e.receive("COPY", "W1", return_method="post"),
        NotAllowedHere,
        "postal",
    ),
    (
        "competent unit at the wrong level",
        lambda e, d: e.receive("LAND", "W1"),
        ValidationError,
        "competent_unit: 'W1' is a commune unit",
    ),
    (
        "stale version",
        lambda e, d: e.complete_step(d, expected_version=7),
        StaleVersion,
        "version 1",
    ),
    (
        "bad citizen id",
        lambda e, d: e.receive("LAND", "D1", applicant={"id_number": "12ab"}),
        ValidationError,
        "applicant.id_number",
    ),
    (
        "bad channel",
        lambda e, d: e.receive("LAND", "D1", channel="pigeon"),
        ValidationError,
        "channel",
    ),
    ("empty reason", lambda e, d: e.request_supplement(d, "  "), ValidationError, "reason"),
    ("huge reason", lambda e, d: e.suspend(d, "x" * 100_000), ValidationError, "reason"),
    ("rating out of range", lambda e, d: e.rate(d, 7), ValidationError, "score"),
    (
        "dossier id not an int",
        lambda e, d: e.complete_step("1; DROP TABLE dossiers"),  # type: ignore[arg-type]
        ValidationError,
        "dossier_id",
    ),
    (
        "naive apology date",
        lambda e, d: e.apologise(d, datetime(2025, 2, 20, 9, 0), "x"),
        ValidationError,
        "new_due",
    ),
    (
        "apology date in the past",
        lambda e, d: e.apologise(d, NOW - timedelta(days=1), "x"),
        ValidationError,
        "in the past",
    ),
    (
        "apology date not after the current one",
        lambda e, d: e.apologise(d, NOW + timedelta(hours=1), "x"),
        ValidationError,
        "must be after the current appointment",
    ),
    ("negative payment", lambda e, d: e.request_payment(d, -5), ValidationError, "amount_vnd"),
    ("bad actor", lambda e, d: e.complete_step(d, actor=""), ValidationError, "actor"),
    (
        "idempotency key reused with other arguments",
        lambda e, d: e.receive("LAND", "D2", idempotency_key="k-receive"),
        IdempotencyKeyReused,
        "already used for 'receive' on a new dossier with other arguments",
    ),
]


# Dossier ids at the edges of the 64-bit key (BIGINT on PostgreSQL, INTEGER on SQLite): the
# largest is a valid id no dossier has; 0, -1 and 2**63 are not ids of the store at all.
ID_EDGES = [
    pytest.param(
        "dossier id 2**63-1",
        lambda e, d: e.complete_step(2**63 - 1),
        UnknownDossier,
        "no dossier 9223372036854775807",
        id="dossier id 2**63-1",
    ),
    *(
        pytest.param(
            f"dossier id {label}",
            lambda e, d, n=n: e.complete_step(n),
            ValidationError,
            "dossier_id: must be an integer from 1 to 9223372036854775807",
            id=f"dossier id {label}",
        )
        for n, label in [(0, "0"), (-1, "-1"), (2**63, "2**63")]
    ),
]


@pytest.mark.parametrize(
    "name, command, error, text", [*(pytest.param(*c, id=c[0]) for c in CASES), *ID_EDGES]
)
def test_bad_input_raises_typed_error_and_changes_nothing(
    engine: Engine,
    clock: ManualClock,
    name: str,
    command: Callable[[Engine, int], Any],
    error: type[Exception],
    text: str,
) -> None:
    d = engine.receive("LAND", "D1", idempotency_key="k-receive")
    before = fingerprint(engine)
    with pytest.raises(error) as exc:
        command(engine, d.id)
    assert text in str(exc.value)
    assert fingerprint(engine) == before
    # The engine keeps working after the error.
    clock.advance(timedelta(minutes=5))
    assert engine.complete_step(d.id).step_index == 1


def test_clock_may_not_go_back() -> None:
    clock = ManualClock(NOW)
    with pytest.raises(ValidationError, match="before"):
        clock.set(NOW - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="naive"):
        ManualClock(datetime(2025, 1, 1))


def test_duplicate_reference_is_a_typed_error(engine: Engine) -> None:
    engine.receive("LAND", "D1", reference="H13.92-240301-0001")
    before = fingerprint(engine)
    with pytest.raises(ValidationError, match="reference: 'H13.92-240301-0001' is already used"):
        engine.receive("LAND", "D2", reference="H13.92-240301-0001")
    assert fingerprint(engine) == before
    with engine.batch():  # inside a batch the savepoint keeps the batch usable (PostgreSQL)
        with pytest.raises(ValidationError):
            engine.receive("LAND", "D2", reference="H13.92-240301-0001")
        engine.receive("LAND", "D2", reference="H13.92-240301-0002")
    assert len(engine.open_dossiers()) == 2
