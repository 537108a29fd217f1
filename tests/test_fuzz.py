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
from hypothesis import HealthCheck, given, settings

from onestop import VN_TZ, Calendar, DefinitionError, Definitions, Engine, ManualClock, OnestopError

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


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
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
def test_mutated_definitions_raise_definition_errors(path: tuple, value: Any, action: str) -> None:
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


@FUZZ
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
    # Accepted: only well-formed input gets here; undo nothing, the engine keeps working.
    assert ENGINE.get(LIVE).version >= 1
