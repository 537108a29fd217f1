"""A fixed corpus of bad input, on SQLite and PostgreSQL: every case is refused with a typed error
that names what is wrong, and the database is unchanged (checksum of every table).

The corpus is enumerated, not drawn at random, so every run tries the same cases (it is
derandomized by construction). Each test counts the cases it tried, the ones refused with the
expected typed error, and the untyped ones, prints the counts, and fails on any case that is not
refused as expected. The CLI part checks that every failure is exit code 2 with one ``error:``
line and no traceback, and that no file it was pointed at changed.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from onestop import VN_TZ, Calendar, Engine, ManualClock, OnestopError, UnknownDossier
from onestop.access import Actor
from onestop.cli import app
from onestop.errors import ValidationError
from onestop.testing import fingerprint

from .conftest import FIXTURES

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ)  # a Monday
LATER = NOW + timedelta(days=30)  # a valid apology date for the live dossier
MAX_ID = 9223372036854775807  # 2**63 - 1, written out: the largest BIGINT


@dataclass(frozen=True)
class Case:
    """One bad input: what to call, the typed error expected, text its message must contain."""

    name: str
    call: Callable[[Engine, int, Any], Any]  # (engine, the live dossier's id, the bad value)
    value: Any
    error: type[OnestopError]
    text: str


# -- the values ------------------------------------------------------------------------------

# Not ids of the store: out of the 64-bit range, not integers, or integers in disguise.
BAD_IDS: list[Any] = [
    0, -1, 2**63, 2**64, -(2**63), -(2**63) - 1, 10**30, True, False, "1", "1; DROP TABLE x",
    1.0, 1.5, float("nan"), float("inf"), None, [1], b"1", Decimal(1), 2**63 + 1,
]  # fmt: skip
# Refused in every text argument: controls (NUL first: PostgreSQL refuses it), bidi overrides
# and isolates, zero-width and invisible characters, lone surrogates, line separators, blank or
# oversized text, and values that are not text at all.
BAD_TEXTS: list[Any] = [
    "\x00", "a\x00b", "\x01", "nhận\x1b[2J", "\x7f", "\x85", "a\rb", "\u202eabc", "\u202dx",
    "\u2066x\u2069", "\u200e", "x\u200f", "\u061c", "zero\u200bwidth", "\u200c", "a\u200db",
    "\u2060", "\ufeffBOM", "a\u2028b", "a\u2029b", "\ud800", "x\udfff", "", "   ", "\t",
    "x" * 2001, 5, 1.5, b"bytes", ["x"], {"x": 1}, True,
]  # fmt: skip
# Not a citizen ID number (12 ASCII digits): other digit scripts, wrong lengths, padding.
BAD_CITIZEN_IDS: list[Any] = [
    "０９２０８５００１２３４", "٠٩٢٠٨٥٠٠١٢٣٤", "۰۹۲۰۸۵۰۰۱۲۳۴", "०९२०८५००१२३४", "09208500123",
    "0920850012345", "092085001", "0920 8500 1234", "09208500123a", "092085001234\n",
    "092085001234\x00", "\u202e092085001234", 92085001234, "",
]  # fmt: skip
BAD_PHONES: list[Any] = [
    "０９１２３４５６７８", "٠٩١٢٣٤٥٦٧٨", "091234567", "09123456789012", "+8491234567a",
    "0912\x00345678", "84912345678", 912345678,
]  # fmt: skip
BAD_AMOUNTS: list[Any] = [
    -1, -(10**20), float("inf"), float("-inf"), float("nan"), 10**13 + 1, 2**63, 1.5, -0.5,
    "abc", None, Decimal("NaN"), [1000],
]  # fmt: skip
UTC_PLUS_14 = timezone(timedelta(hours=14))
# Not an appointment date: naive, before now or the current one, outside the calendar
# (2015-2040) or outside what a datetime can hold in Vietnam's time zone.
BAD_APOLOGY_DATES: list[tuple[Any, str]] = [
    (datetime(2025, 4, 1, 9, 0), "new_due"),
    (datetime(9999, 12, 31, tzinfo=VN_TZ), "new_due"),
    (datetime(9999, 12, 31, 23, 0, tzinfo=UTC), "new_due"),
    (datetime.max.replace(tzinfo=UTC), "new_due"),
    (datetime.min.replace(tzinfo=UTC_PLUS_14), "new_due"),
    (datetime(2041, 1, 7, 9, 0, tzinfo=VN_TZ), "outside the calendar"),
    (datetime(2100, 1, 1, tzinfo=VN_TZ), "outside the calendar"),
    (datetime(2025, 1, 1, tzinfo=VN_TZ), "in the past"),
    (NOW, "in the past"),
    (NOW + timedelta(hours=1), "must be after the current appointment"),
    ("tomorrow", "new_due"),
    ("2025-02-30T09:00+07:00", "new_due"),
    (10**12, "new_due"),
    (None, "new_due"),
    (date(2025, 4, 1), "new_due"),
    (float("nan"), "new_due"),
]
BAD_MOMENTS: list[Any] = [
    datetime(2025, 4, 1), datetime(9999, 12, 31, 23, 0, tzinfo=UTC), datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=UTC_PLUS_14), "soon", 10**20, [NOW], float("inf"),
]  # fmt: skip
BAD_SCORES: list[Any] = [0, 6, -1, 2**63, 3.5, "five", None, float("nan"), float("inf"), [5]]
BAD_VERSIONS: list[Any] = [0, -1, 2**63, "1", 1.5, True, float("nan"), [1]]
BAD_LIMITS: list[Any] = [0, -1, 10**6, 2**63, "10", 1.5, None, True, float("inf")]
BAD_CHOICES: list[Any] = ["pigeon", "", "COUNTER", "counter\x00", " counter x", 1, None]
BAD_FLAGS: list[Any] = ["maybe", 2, -1, [True], {"x": 1}, 0.5]


# -- the corpus ------------------------------------------------------------------------------

# Every entry point that takes a dossier id, with otherwise valid arguments.
BY_ID: dict[str, Callable[[Engine, Any], Any]] = {
    "receive_submitted": lambda e, i: e.receive_submitted(i),
    "refuse": lambda e, i: e.refuse(i, "không đủ điều kiện"),
    "complete_step": lambda e, i: e.complete_step(i, note="xong"),
    "request_supplement": lambda e, i: e.request_supplement(i, "thiếu giấy tờ"),
    "supplement": lambda e, i: e.supplement(i),
    "request_payment": lambda e, i: e.request_payment(i, 1000),
    "pay": lambda e, i: e.pay(i),
    "suspend": lambda e, i: e.suspend(i, "chờ xác minh"),
    "resume": lambda e, i: e.resume(i),
    "withdraw": lambda e, i: e.withdraw(i, reason="rút"),
    "resolve": lambda e, i: e.resolve(i),
    "apologise": lambda e, i: e.apologise(i, LATER, "trễ hẹn"),
    "dispatch_post": lambda e, i: e.dispatch_post(i, tracking="EMS123"),
    "return_result": lambda e, i: e.return_result(i),
    "rate": lambda e, i: e.rate(i, 5),
    "execute": lambda e, i: e.execute("complete_step", i),
    "get": lambda e, i: e.get(i),
    "history": lambda e, i: e.history(i),
    "steps": lambda e, i: e.steps(i),
}

# Every text argument: (the field the error must name, a call passing the value there).
TEXT_FIELDS: list[tuple[str, Callable[[Engine, int, Any], Any]]] = [
    ("reason", lambda e, d, v: e.refuse(d, v)),
    ("reason", lambda e, d, v: e.request_supplement(d, v)),
    ("extra_reason", lambda e, d, v: e.request_supplement(d, "x", extra_reason=v)),
    ("reason", lambda e, d, v: e.request_payment(d, 1000, reason=v)),
    ("reason", lambda e, d, v: e.suspend(d, v)),
    ("reason", lambda e, d, v: e.withdraw(d, reason=v)),
    ("note", lambda e, d, v: e.resolve(d, note=v)),
    ("reason", lambda e, d, v: e.complete_step(d, note=v)),
    ("reason", lambda e, d, v: e.apologise(d, LATER, v)),
    ("tracking", lambda e, d, v: e.dispatch_post(d, tracking=v)),
    ("reason", lambda e, d, v: e.refuse_at_intake("LAND", "D1", v)),
    ("reference", lambda e, d, v: e.receive("LAND", "D1", reference=v)),
    ("reference", lambda e, d, v: e.submit_online("BIRTH", "W1", reference=v)),
    ("applicant.name", lambda e, d, v: e.receive("LAND", "D1", applicant={"name": v})),
    ("procedure", lambda e, d, v: e.receive(v, "D1")),
    ("competent_unit", lambda e, d, v: e.receive("LAND", v)),
    ("intake_unit", lambda e, d, v: e.receive("LAND", "D1", intake_unit=v)),
    ("actor", lambda e, d, v: e.complete_step(d, actor=v)),
    ("actor", lambda e, d, v: e.complete_step(d, actor=Actor.model_construct(user_id=v))),
    ("idempotency_key", lambda e, d, v: e.complete_step(d, idempotency_key=v)),
    ("idempotency_key", lambda e, d, v: e.receive("LAND", "D1", idempotency_key=v)),
    ("unit", lambda e, d, v: e.open_dossiers(unit=v)),
    ("agency", lambda e, d, v: e.open_dossiers(agency=v)),
    ("procedure", lambda e, d, v: e.open_dossiers(procedure=v)),
]


def _with_id(call: Callable[[Engine, Any], Any]) -> Callable[[Engine, int, Any], Any]:
    """``call`` taking the bad value as its dossier id."""
    return lambda e, d, bad: call(e, bad)


def corpus() -> list[Case]:
    """Every case, in a fixed order."""
    cases: list[Case] = []

    def add(
        name: str, call: Callable[[Engine, int, Any], Any], value: Any, text: str,
        error: type[OnestopError] = ValidationError,
    ) -> None:  # fmt: skip
        cases.append(Case(name, call, value, error, text))

    for entry, call in BY_ID.items():
        with_id = _with_id(call)
        for bad in BAD_IDS:
            add(f"{entry}(id={bad!r})", with_id, bad, "dossier_id")
        # The largest id of the store is valid, and no dossier has it.
        add(f"{entry}(id=2**63-1)", with_id, MAX_ID, f"no dossier {MAX_ID}", UnknownDossier)
    for field, text_call in TEXT_FIELDS:
        for bad in BAD_TEXTS:
            add(f"{field}={bad!r:.40}", text_call, bad, field)

    def each(
        values: list[Any], label: str, call: Callable[[Engine, int, Any], Any], text: str
    ) -> None:
        for bad in values:
            add(f"{label}={bad!r}", call, bad, text)

    each(BAD_CITIZEN_IDS, "id_number", lambda e, d, b: e.receive(
        "LAND", "D1", applicant={"name": "Nguyễn Văn A", "id_number": b}), "applicant.id_number")  # fmt: skip
    each(BAD_PHONES, "phone",
         lambda e, d, b: e.receive("LAND", "D1", applicant={"phone": b}), "applicant.phone")  # fmt: skip
    each(BAD_AMOUNTS, "amount_vnd", lambda e, d, b: e.request_payment(d, b), "amount_vnd")
    for bad, text in BAD_APOLOGY_DATES:
        add(f"new_due={bad!r}", lambda e, d, b: e.apologise(d, b, "trễ hẹn"), bad, text)
    each(BAD_MOMENTS, "overdue_at", lambda e, d, b: e.open_dossiers(overdue_at=b), "overdue_at")
    each(BAD_SCORES, "score", lambda e, d, b: e.rate(d, b), "score")
    each(BAD_VERSIONS, "expected_version",
         lambda e, d, b: e.complete_step(d, expected_version=b), "expected_version")  # fmt: skip
    each(BAD_LIMITS, "limit", lambda e, d, b: e.open_dossiers(limit=b), "limit")
    each(BAD_CHOICES, "channel", lambda e, d, b: e.receive("LAND", "D1", channel=b), "channel")
    each(BAD_CHOICES, "return_method",
         lambda e, d, b: e.receive("LAND", "D1", return_method=b), "return_method")  # fmt: skip
    each(BAD_CHOICES, "outcome", lambda e, d, b: e.resolve(d, outcome=b), "outcome")
    each(BAD_FLAGS, "digitised",
         lambda e, d, b: e.receive("LAND", "D1", digitised=b), "digitised")  # fmt: skip
    each(BAD_FLAGS, "reused_data",
         lambda e, d, b: e.receive("LAND", "D1", reused_data=b), "reused_data")  # fmt: skip
    each(BAD_FLAGS, "electronic", lambda e, d, b: e.resolve(d, electronic=b), "electronic")
    each(BAD_FLAGS, "online", lambda e, d, b: e.pay(d, online=b), "online")
    each(["nope", "", "execute", "__init__", "complete_step\x00", 5, None], "execute(command)",
         lambda e, d, b: e.execute(b, d), "command")  # fmt: skip
    each(["score", ["score"], 5, {1: 5}], "execute(arguments)",
         lambda e, d, b: e.execute("rate", d, b), "arguments: must be a mapping")  # fmt: skip
    each([{"score": 5, "extra": 1}], "execute(arguments)",
         lambda e, d, b: e.execute("rate", d, b), "extra")  # fmt: skip
    each([{"score": "\x00"}, {"score": None}], "execute(arguments)",
         lambda e, d, b: e.execute("rate", d, b), "score")  # fmt: skip
    each(["not a dict", ["name"], {"nickname": "x"}, {"name": None, "id_number": 5}], "applicant",
         lambda e, d, b: e.receive("LAND", "D1", applicant=b), "applicant")  # fmt: skip
    return cases


CASES = corpus()


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 750
    assert len({c.name for c in CASES}) >= 700  # mostly distinct (a few fields appear twice)


@pytest.fixture
def live(db_url: str) -> Iterator[tuple[Engine, int]]:
    """An engine on a fresh database holding two dossiers; the first is received, at step 0."""
    clock = ManualClock(NOW)
    engine = Engine.open(db_url, FIXTURES, clock=clock, calendar=Calendar.vietnam())
    first = engine.receive(
        "LAND", "D1", reference="H13.92-250303-0001", idempotency_key="k-1",
        applicant={"name": "Nguyễn Văn Bình", "id_number": "092085001234", "phone": "0912345678"},
    )  # fmt: skip
    engine.submit_online("BIRTH", "W1")
    clock.advance(timedelta(minutes=5))
    yield engine, first.id
    engine.store.dispose()


def test_api_corpus_gives_typed_errors_and_changes_nothing(
    live: tuple[Engine, int], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, d = live
    before = fingerprint(engine)
    typed = 0
    untyped: list[str] = []
    wrong: list[str] = []  # accepted, or refused with another error than the expected one
    changed: list[str] = []
    for case in CASES:
        try:
            case.call(engine, d, case.value)
        except OnestopError as exc:
            if not isinstance(exc, case.error) or case.text not in str(exc):
                wrong.append(f"{case.name}: {type(exc).__name__}: {exc}")
            else:
                typed += 1
        except Exception as exc:  # the failures this corpus exists to find
            untyped.append(f"{case.name}: {type(exc).__name__}: {str(exc)[:120]}")
        else:
            wrong.append(f"{case.name}: accepted")
        if fingerprint(engine) != before:
            changed.append(f"{case.name}: changed the database")
            before = fingerprint(engine)
    with capsys.disabled():
        accepted = sum(w.endswith(": accepted") for w in wrong)
        print(
            f"\nAPI bad-input corpus on {engine.store.dialect}: tried {len(CASES)}, "
            f"typed {typed}, untyped {len(untyped)}, accepted {accepted}, "
            f"other typed error {len(wrong) - accepted}, database changed {len(changed)}"
        )
    assert untyped == [], "\n".join(untyped)
    assert wrong == [], "\n".join(wrong)
    assert changed == [], "\n".join(changed)
    assert typed == len(CASES)
    # The engine still works afterwards.
    assert engine.complete_step(d).step_index == 1


# -- the CLI ---------------------------------------------------------------------------------

runner = CliRunner()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


@dataclass(frozen=True)
class Scratch:
    """Files the CLI cases point at: none of them may change."""

    db: str  # an onestop database (URL)
    text: Path  # a text file
    other: Path  # an SQLite database that is not onestop's
    empty: Path  # an empty file
    folder: Path  # a directory
    bad_defs: Path  # a definitions directory with problems
    huge: Path  # a definitions directory with a file over the size cap
    devzero: Path  # a definitions directory with a symlink to /dev/zero
    missing: Path  # a path in a directory that does not exist


def cli_cases(s: Scratch) -> list[tuple[str, list[str], str]]:
    """(name, argv, text the error line must contain)."""
    db, wf = s.db, str(FIXTURES)
    report = ["report", "--db", db]
    cases: list[tuple[str, list[str], str]] = []
    for period, text in [
        ("9999", "period"), ("0000", "period"), ("10000", "period"), ("2024-13", "period"),
        ("2024-Q5", "period"), ("2024-02-30", "period"), ("2024..2023", "period"),
        ("٢٠٢٤", "period"), ("", "period"), ("0001-01-01..9999-12-31", "period"),
        ("9999-12", "period"), ("9999-Q4", "period"),
    ]:  # fmt: skip
        cases.append((f"report --period {period!r}", [*report, "--period", period], text))
    for fmt in ("table", "csv", "json", "text", "html"):
        out = str(s.missing / f"r.{fmt}")
        cases.append((f"report -f {fmt} --out <missing dir>",
                      [*report, "--period", "2025", "-f", fmt, "--out", out], "r."))  # fmt: skip
    cases.append(("report --out <a directory>",
                  [*report, "--period", "2025", "-f", "csv", "--out", str(s.folder)], str(s.folder)))  # fmt: skip
    for opt, value, text in [
        ("--by", "colour", "colour"), ("--by", "level,colour", "colour"), ("-f", "pdf", "--format"),
        ("--lang", "fr", "--lang"), ("--source", "x", "--source"),
    ]:  # fmt: skip
        cases.append((f"report {opt} {value}", [*report, "--period", "2025", opt, value], text))
    for label, target, text in [
        ("a text file", str(s.text), "not a database"), ("another SQLite file", str(s.other), "no onestop tables"),
        ("an empty file", str(s.empty), "no onestop tables"), ("a directory", str(s.folder), "is not a file"),
        ("a missing file", str(s.missing / "x.db"), "does not exist"), ("a bogus URL", "bogus://x", "database"),
        ("a closed port", "postgresql+psycopg://nobody@127.0.0.1:1/x", "database"),
    ]:  # fmt: skip
        cases.append((f"report --db {label}", ["report", "--db", target, "--period", "2025"], text))
        cases.append((f"verify --db {label}", ["verify", "--db", target], text))
        if label not in ("a bogus URL", "a closed port"):
            cases.append((f"alerts --db {label}", ["alerts", "--db", target, "--workflows", wf], text))  # fmt: skip
    cases.append(("scheduler run --db another SQLite file",
                  ["scheduler", "run", "--db", str(s.other), "--workflows", wf], "no onestop tables"))  # fmt: skip
    cases.append(("scheduler run --db a text file",
                  ["scheduler", "run", "--db", str(s.text), "--workflows", wf], "not a database"))  # fmt: skip
    for now, text in [
        ("tomorrow", "--now"), ("9999-12-31T23:00+00:00", "--now"), ("0001-01-01T00:00", "--now"),
        ("2050-01-01T09:00", "2050-01-01 is outside the calendar"), ("", "--now"),
    ]:  # fmt: skip
        cases.append((f"alerts --now {now!r}",
                      ["alerts", "--db", db, "--workflows", wf, "--now", now], text))  # fmt: skip
    for day in ("9999-12-31", "0001-01-01", "yesterday", "2025-02-30"):
        cases.append(
            (f"verify --anchor {day}", ["verify", "--db", db, "--anchor", day], "--anchor")
        )
    for label, path, text in [
        ("/dev/zero", "/dev/zero", "problem"), ("a missing path", str(s.missing), "problem"),
        ("bad definitions", str(s.bad_defs), "problem"), ("a file over the cap", str(s.huge), "problem"),
        ("a /dev/zero symlink", str(s.devzero), "problem"),
    ]:  # fmt: skip
        cases.append((f"catalog check {label}", ["catalog", "check", path], text))
        cases.append((f"alerts --workflows {label}",
                      ["alerts", "--db", db, "--workflows", path], text))  # fmt: skip
    for label, argv, text in [
        ("simulate /dev/null", ["simulate", "/dev/null"], "problem"),
        ("simulate a missing file", ["simulate", str(s.missing / "s.yaml")], "file not found"),
        ("simulate --days 0", ["simulate", "/dev/null", "--days", "0"], "--days"),
        ("demo --start yesterday", ["demo", "--db", str(s.missing / "d.db"), "--start", "x"], "--start"),
        ("demo --db an existing file", ["demo", "--db", str(s.text)], "exists"),
        ("demo --days 0", ["demo", "--db", str(s.missing / "d.db"), "--days", "0"], "--days"),
        ("demo --scale 2", ["demo", "--db", str(s.missing / "d.db"), "--scale", "2"], "--scale"),
        ("an unknown command", ["nosuchcommand"], "nosuchcommand"),
        ("an unknown option", ["report", "--nosuch"], "--nosuch"),
        ("a missing option value", ["alerts", "--now"], "--now"),
        ("scheduler run --sweep-minutes 0",
         ["scheduler", "run", "--db", db, "--sweep-minutes", "0"], "--sweep-minutes"),
    ]:  # fmt: skip
        cases.append((label, argv, text))
    return cases


@pytest.fixture
def scratch(live: tuple[Engine, int], db_url: str, tmp_path: Path) -> Scratch:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    folder = tmp_path / "folder"
    folder.mkdir()
    bad_defs = tmp_path / "bad"
    (bad_defs / "procedures").mkdir(parents=True)
    (bad_defs / "procedures" / "p.yaml").write_text("procedures: [{code: 5}]\n")
    huge = tmp_path / "huge"
    huge.mkdir()
    with (huge / "big.yaml").open("wb") as fh:
        fh.truncate(3 * 1024 * 1024)  # sparse: over the 2 MiB cap without writing it
    devzero = tmp_path / "devzero"
    devzero.mkdir()
    (devzero / "zero.yaml").symlink_to("/dev/zero")
    return Scratch(db_url, text, other, empty, folder, bad_defs, huge, devzero,
                   tmp_path / "missing" / "dir")  # fmt: skip


def test_cli_corpus_one_error_line_exit_2_nothing_changed(
    live: tuple[Engine, int],
    scratch: Scratch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, _ = live
    # An audit key is set, so the scheduler's cases reach the database they are about.
    monkeypatch.setenv("ONESTOP_AUDIT_KEY", "5a" * 32)
    files = [scratch.text, scratch.other, scratch.empty]
    cases = cli_cases(scratch)
    before = (fingerprint(engine), [_file_digest(f) for f in files])
    failures: list[str] = []
    clean = tracebacks = changed = 0
    for name, argv, text in cases:
        result = runner.invoke(app, argv)
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        crashed = "Traceback" in result.output or (
            result.exception is not None and not isinstance(result.exception, SystemExit)
        )
        tracebacks += crashed
        if crashed or result.exit_code != 2 or len(errors) != 1 or text not in errors[0]:
            failures.append(f"{name}: exit {result.exit_code}, output {result.output[-300:]!r}")
        else:
            clean += 1
        after = (fingerprint(engine), [_file_digest(f) for f in files])
        if after != before or scratch.missing.exists():
            changed += 1
            failures.append(f"{name}: changed a database or file")
            before = after
    with capsys.disabled():
        print(
            f"\nCLI bad-input corpus on {engine.store.dialect}: tried {len(cases)}, "
            f"one error line and exit 2: {clean}, uncaught exceptions (tracebacks) {tracebacks}, "
            f"other failures {len(cases) - clean - tracebacks}, database or file changed {changed}"
        )
    assert len(cases) >= 50
    assert failures == [], "\n".join(failures)
