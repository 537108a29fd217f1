"""Shared fixtures: every engine/store test runs on SQLite and on PostgreSQL.

PostgreSQL tests need ``ONESTOP_PG_URL`` (``.ci/run`` starts a server and sets it); without it they
are skipped with a message saying so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from onestop import VN_TZ, Calendar, Engine, ManualClock
from onestop.log import configure
from onestop.testing import reset_postgres

# The personal-data vault's key for the suite: explicit, a test key (never a real one). Engines
# read it from the environment; tests of a missing key clear it themselves.
os.environ.setdefault("ONESTOP_VAULT_KEY", "5a" * 32)

# Quiet, and on stderr: tests that need the logs capture them themselves.
configure(json=False, level="WARNING")

FIXTURES = Path(__file__).parent / "fixtures" / "workflows"
#: The audit key of the test session: every engine chains its events with it (as in production),
#: and the CLI run in subprocesses inherits it. Tests of the refusal without a key remove it.
TEST_AUDIT_KEY = "5a" * 32
os.environ.setdefault("ONESTOP_AUDIT_KEY", TEST_AUDIT_KEY)
PG_URL = os.environ.get("ONESTOP_PG_URL")

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE; plain `pytest` (and so CI) runs "ci".
#   ci:   derandomized, so every run tries the same examples (a red run reproduces, a green one
#         is not luck), no example database, and a failure prints its reproduction blob.
#         100 examples a test; the stateful test runs 100 × 100 = 10,000 steps.
#   dev:  random, 200 examples: new inputs every run, failures kept in .hypothesis/.
#   deep: random, 2,000 examples (200,000 stateful steps), for a long run before a release.
# Explicit @example()s of known edges run first under every profile.
_COMMON = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow], stateful_step_count=100
)
settings.register_profile(
    "ci", _COMMON, max_examples=100, derandomize=True, database=None, print_blob=True
)
settings.register_profile("dev", _COMMON, max_examples=200)
settings.register_profile("deep", _COMMON, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _quiet_logging_on_the_real_stderr() -> Iterator[None]:
    """Every test starts with logging as configured above: a CLI test configures it onto the
    runner's captured stream, which is closed once the command returns, and a later test that
    logs would write to a closed file."""
    configure(json=False, level="WARNING")
    yield


@pytest.fixture(scope="session")
def calendar() -> Calendar:
    return Calendar.vietnam()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'onestop.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set ONESTOP_PG_URL (.ci/run does)")
    reset_postgres(PG_URL)
    yield PG_URL


@pytest.fixture
def clock() -> ManualClock:
    # Friday 24 January 2025, 09:00 — the last working day before Tết 2025.
    return ManualClock(datetime(2025, 1, 24, 9, 0, tzinfo=VN_TZ))


@pytest.fixture
def engine(db_url: str, clock: ManualClock, calendar: Calendar) -> Iterator[Engine]:
    eng = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar)
    yield eng
    eng.store.dispose()
