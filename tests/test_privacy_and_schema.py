"""Logs carry no personal data; the migrations build exactly the declared schema; doc examples run."""

from __future__ import annotations

import doctest
import importlib
import io
import json
import logging
import pkgutil
from collections.abc import Iterator
from contextlib import redirect_stderr
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import onestop
from onestop import Engine, ManualClock
from onestop.log import configure, redact
from onestop.store import schema

NAME, CITIZEN_ID, PHONE = "Nguyễn Văn Bình", "092085001234", "0912345678"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        configure(json=True, level="DEBUG")
        yield buffer
    configure(json=False, level="WARNING")


def test_full_lifecycle_logs_no_personal_data(
    engine: Engine, clock: ManualClock, json_logs: io.StringIO
) -> None:
    applicant = {"name": NAME, "id_number": CITIZEN_ID, "phone": PHONE}
    d = engine.receive("LAND", "D1", applicant=applicant, return_method="post")
    while d.step_index + 1 < d.step_count:
        clock.advance(timedelta(hours=2))
        d = engine.complete_step(d.id)
    engine.resolve(d.id)
    engine.dispatch_post(d.id)
    engine.return_result(d.id)
    engine.rate(d.id, 5)
    import structlog

    structlog.get_logger("test").info(
        "free text", note=f"call {PHONE} for {CITIZEN_ID}", applicant_name=NAME
    )
    out = json_logs.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]
    assert sum(1 for rec in lines if rec["event"] == "dossier.command") == 8  # at DEBUG
    for secret in (NAME, CITIZEN_ID, PHONE, "Nguy"):
        assert secret not in out
    assert engine.get(d.id).applicant_id_number == CITIZEN_ID  # stored, only not logged


def test_redact_processor_nested() -> None:
    event = {"event": "x", "payload": {"phone": PHONE, "items": [f"id {CITIZEN_ID}"]}}
    out = redact(None, "info", event)
    assert out["payload"]["phone"] == "[redacted]"
    assert out["payload"]["items"] == ["id [redacted]"]


def test_migrations_match_declared_schema(engine: Engine) -> None:
    with engine.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def _modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.walk_packages(onestop.__path__, "onestop.")
        if ".migrations" not in m.name
    ]


@pytest.mark.parametrize("module", _modules())
def test_doc_examples_run(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import FIXTURES

    monkeypatch.chdir(FIXTURES.parent.parent.parent)
    monkeypatch.delenv("ONESTOP_AUDIT_KEY", raising=False)  # as a reader trying them has none
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_public_api_is_curated() -> None:
    assert sorted(onestop.__all__) == sorted(set(onestop.__all__))
    for name in onestop.__all__:
        obj = getattr(onestop, name)
        if isinstance(obj, type) or callable(obj):
            assert obj.__doc__, name


def test_the_library_leaves_logging_to_its_host(tmp_path: pytest.TempPathFactory) -> None:
    import subprocess
    import sys

    from .conftest import FIXTURES

    code = (
        "import structlog\n"
        "from onestop import Engine\n"
        f"Engine.open('sqlite://', {str(FIXTURES)!r})\n"
        "print(structlog.is_configured())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_redaction_under_a_host_configuration(engine: Engine, clock: ManualClock) -> None:
    import structlog

    buffer = io.StringIO()
    # A host application's own setup, with onestop's processor added before its renderer.
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            redact,
            structlog.processors.KeyValueRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.PrintLoggerFactory(file=buffer),
        cache_logger_on_first_use=False,
    )
    try:
        applicant = {"name": NAME, "id_number": CITIZEN_ID, "phone": PHONE}
        d = engine.receive("LAND", "D1", applicant=applicant)
        structlog.get_logger("host").info("dossier received", applicant=applicant, id=d.id,
                                          note=f"gọi {PHONE}")  # fmt: skip
    finally:
        configure(json=False, level="WARNING")
    out = buffer.getvalue()
    assert "dossier.command" in out and "dossier received" in out
    for secret in (NAME, CITIZEN_ID, PHONE):
        assert secret not in out


def test_no_public_function_takes_a_raw_connection() -> None:
    import inspect

    from onestop import alerts, audit, reports

    names = [(onestop, n) for n in onestop.__all__]
    names += [(m, n) for m in (alerts, audit, reports) for n in dir(m) if not n.startswith("_")]
    offenders = []
    for module, name in names:
        obj = getattr(module, name)
        targets = [obj] if inspect.isfunction(obj) else []
        if inspect.isclass(obj) and obj.__module__.startswith("onestop"):
            targets += [f for _, f in inspect.getmembers(obj, inspect.isfunction)
                        if not f.__name__.startswith("_") or f.__name__ == "__init__"]  # fmt: skip
        for fn in targets:
            params = inspect.signature(fn).parameters.values()
            if fn.__module__.startswith("onestop") and any(
                "Connection" in str(p.annotation) for p in params
            ):
                offenders.append(f"{module.__name__}.{name}.{fn.__name__}")
    assert offenders == []
