"""Bad-input corpus (hypothesis): malformed definitions and command payloads always give a typed
error naming the field, leave the database unchanged, and the process keeps working."""

from __future__ import annotations

import copy
import shutil
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
import yaml
from hypothesis import HealthCheck, example, given, settings
from sqlalchemy import select

from onestop import VN_TZ, Calendar, DefinitionError, Definitions, Engine, ManualClock, OnestopError
from onestop.store.schema import dossiers, events

from .conftest import FIXTURES
from .helpers import fingerprint

FUZZ = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
NASTY = st.sampled_from([
    "", " ", "x" * 100_000, "'; DROP TABLE dossiers; --", "<script>alert(1)</script>",
    "../../etc/passwd", "${jndi:ldap://x}", "\x00", "Nguyễn Văn A", "😀" * 50, "1e309", "NaN",
])  # fmt: skip
VALUES = st.one_of(
    NASTY, st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)  # fmt: skip
BASE = yaml.safe_load((FIXTURES / "procedures" / "tiny.yaml").read_text())


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


ALL_PATHS = [p for p in paths(BASE) if p]


@FUZZ
@given(
    path=st.sampled_from(ALL_PATHS),
    value=VALUES,
    action=st.sampled_from(["set", "delete", "extra"]),
)
def test_mutated_definitions_raise_definition_errors(
    path: tuple[Any, ...], value: Any, action: str
) -> None:
    data = copy.deepcopy(BASE)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "set":
        parent[last] = value
    elif action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif isinstance(parent, dict):
        parent["unexpected_key"] = value
    root = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(FIXTURES / "units", root / "units")
        (root / "procedures").mkdir()
        (root / "procedures" / "p.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
        try:
            Definitions.load(root)
        except DefinitionError as exc:
            assert exc.problems and all(p.file for p in exc.problems)
            assert any("p.yaml" in p.file for p in exc.problems)
    finally:
        shutil.rmtree(root)


@FUZZ
@given(text=st.text(max_size=300))
def test_random_yaml_text(text: str) -> None:
    root = Path(tempfile.mkdtemp())
    try:
        (root / "x.yaml").write_text(text)
        try:
            Definitions.load(root)
        except DefinitionError as exc:
            assert exc.problems
    finally:
        shutil.rmtree(root)


ENGINE_CLOCK = ManualClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))
ENGINE = Engine.open(
    "sqlite://", FIXTURES, clock=ENGINE_CLOCK, calendar=Calendar.vietnam(years=[2025, 2026])
)
LIVE = ENGINE.receive("LAND", "D1").id
TIMES = st.one_of(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),  # naive
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 12, 1),
                 timezones=st.sampled_from([VN_TZ, UTC, ZoneInfo("America/New_York"),
                                            timezone(timedelta(hours=14))])),
)  # fmt: skip


def engine_state() -> tuple[dict[int, int], list[tuple[int, str]]]:
    """Every dossier's version by id, and every event's (dossier id, trigger) in order."""
    with ENGINE.store.engine.connect() as conn:
        versions = {i: v for i, v in conn.execute(select(dossiers.c.id, dossiers.c.version))}
        trail = conn.execute(select(events.c.dossier_id, events.c.trigger).order_by(events.c.id))
        return versions, [(i, t) for i, t in trail]


# Dossier ids at the edges of a 64-bit key, and just beyond it, for both commands that take one.
AT = datetime(2025, 3, 3, 10, 0, tzinfo=VN_TZ)


@FUZZ
@example(command="complete_step", text="desk-01", number=2**63, when=AT, applicant=None)
@example(command="request_payment", text="x", number=2**63, when=AT, applicant=None)
@example(command="complete_step", text="desk-01", number=2**63 - 1, when=AT, applicant=None)
@example(command="complete_step", text="desk-01", number=-1, when=AT, applicant=None)
@example(command="complete_step", text="desk-01", number=0, when=AT, applicant=None)
@example(command="request_payment", text="x", number=2**63 - 1, when=AT, applicant=None)
@example(command="request_payment", text="x", number=-1, when=AT, applicant=None)
@example(command="request_payment", text="x", number=0, when=AT, applicant=None)
# Accepted ones, so the accepted branch always runs (random payloads are rarely well-formed).
@example(command="complete_step", text="desk-01", number=LIVE, when=AT, applicant=None)
@example(command="suspend", text="chờ kết quả xác minh", number=0, when=AT, applicant=None)
@given(
    command=st.sampled_from(
        ["receive", "apologise", "rate", "request_payment", "suspend", "complete_step"]
    ),
    text=VALUES,
    number=st.one_of(st.integers(-(10**15), 10**15), VALUES),
    when=TIMES,
    applicant=st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(["name", "id_number", "phone", "x"]), VALUES, max_size=3),
    ),
)
def test_command_payloads(
    command: str, text: Any, number: Any, when: datetime, applicant: Any
) -> None:
    before = fingerprint(ENGINE)
    versions, trail = engine_state()
    calls = {
        "receive": lambda: ENGINE.receive(
            text, number, channel=text, applicant=applicant, reference=text
        ),
        "apologise": lambda: ENGINE.apologise(LIVE, when, text),
        "rate": lambda: ENGINE.rate(LIVE, number),
        "request_payment": lambda: ENGINE.request_payment(
            number if isinstance(number, int) else LIVE, 1000
        ),
        "suspend": lambda: ENGINE.suspend(LIVE, text),
        "complete_step": lambda: ENGINE.complete_step(number, actor=text),
    }
    try:
        calls[command]()
    except OnestopError as exc:
        assert str(exc)
        assert fingerprint(ENGINE) == before
        return
    # Accepted: exactly one dossier moved, by exactly one version, with exactly one new event
    # (named after the command) on that dossier; no other dossier changed.
    versions_after, trail_after = engine_state()
    if command == "receive":
        (target,) = set(versions_after) - set(versions)
        assert versions_after == {**versions, target: 1}
    else:
        target = {
            "apologise": LIVE,
            "rate": LIVE,
            "suspend": LIVE,
            "request_payment": number if isinstance(number, int) else LIVE,
            "complete_step": number,
        }[command]
        assert versions_after == {**versions, target: versions[target] + 1}
    assert trail_after == [*trail, (target, command)]
