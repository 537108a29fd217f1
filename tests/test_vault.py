"""The personal-data vault (Decree 13/2023): applicants' data encrypted apart from the chain,
corrected and erased without breaking it, and never in any table or log in plaintext."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from sqlalchemy import create_engine, text
from structlog.testing import LogCapture

from onestop import (
    Calendar,
    DefinitionError,
    Engine,
    Forbidden,
    ManualClock,
    StaffDirectory,
    VaultKey,
)
from onestop.audit import verify
from onestop.errors import ValidationError, VaultKeyError
from onestop.log import configure
from onestop.store.officers import load_directory
from onestop.vault import load_vault_key

from .conftest import FIXTURES
from .test_authorization import directory

# The applicant whose data is erased, and one whose data stays. Her account is her citizen ID
# number (as a VNeID account would be), so it must not leak through the logs either.
ERASED = {
    "name": "Hoàng Thị Xuân",
    "id_number": "092190004321",
    "phone": "0939876543",
    "address": "12 đường Mậu Thân, phường An Hòa",
}
CORRECTED_PHONE = "0908765432"
KEPT = {"name": "Đinh Văn Khoa", "id_number": "092077005555", "phone": "0977112233"}


def plaintexts(person: dict[str, str]) -> list[str]:
    return list(person.values())


def dump(url: str) -> str:
    """Every row of every table, as the database itself lists them (its own catalog, not
    onestop's metadata), as text."""
    eng = create_engine(url)
    out: list[str] = []
    with eng.connect() as conn:
        if eng.dialect.name == "sqlite":
            names = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        else:
            names = conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema='public'")
            )
        tables = [n for (n,) in names]
        for table in tables:
            out += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    eng.dispose()
    assert {"dossiers", "events", "idempotency_keys", "personal_data", "officers"} <= set(tables)
    return "\n".join(out)


def digests(engine: Engine) -> set[tuple[str, int, bool]]:
    """(command, dossier, whether an argument digest is kept) of every idempotency key."""
    with engine.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT command, dossier_id, args_digest FROM idempotency_keys"))
        return {(c, int(i), a is not None) for c, i, a in rows}


@pytest.fixture
def captured() -> Iterator[LogCapture]:
    """Every log event the engine emits, at every level, before any processor (so redaction by
    the host's configuration cannot hide a leak)."""
    old = structlog.get_config()
    capture = LogCapture()
    structlog.configure(
        processors=[capture], wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG)
    )
    yield capture
    structlog.configure(**old)


@pytest.fixture(autouse=True)
def _logs_to_this_test() -> None:
    """Refusals log warnings: to this test's stderr, whatever stream an earlier test's CLI run
    left structlog writing to (closed since)."""
    configure(json=False, level="WARNING")


@pytest.fixture
def guarded(db_url: str, clock: ManualClock, calendar: Calendar) -> Iterator[Engine]:
    engine = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar, directory=True)
    with engine.store.begin() as conn:
        load_directory(conn, directory())
    yield engine
    engine.store.dispose()


def test_erasure_leaves_verify_clean_and_no_trace_in_any_table_or_log(
    guarded: Engine, db_url: str, clock: ManualClock, captured: LogCapture
) -> None:
    account = ERASED["id_number"]
    d = guarded.submit_online(
        "LAND", "D1", applicant=ERASED, actor=account, idempotency_key="submit-1"
    ).id
    kept = guarded.receive("LAND", "D1", applicant=KEPT, actor="desk-d1", idempotency_key="k").id
    guarded.receive_submitted(d, actor="desk-d1", idempotency_key="recv-1")
    with pytest.raises(Forbidden, match="may not see"):  # a stranger's try, logged
        guarded.get(d, actor=KEPT["id_number"])
    guarded.correct_applicant(d, {"phone": CORRECTED_PHONE}, actor="desk-d1")
    seen = guarded.get(d, actor=account)
    assert (seen.applicant_name, seen.applicant_phone) == (ERASED["name"], CORRECTED_PHONE)
    assert guarded.find_by_id_number(ERASED["id_number"], actor="priv-d1") == [d]
    everything = plaintexts(ERASED) + [CORRECTED_PHONE]
    before = dump(db_url)
    # Encrypted from the start: no plaintext anywhere, only the blind index.
    assert [s for s in everything if s in before] == []
    index = guarded.authority.id_index(ERASED["id_number"])
    assert index in before

    assert digests(guarded) == {
        ("submit_online", d, True), ("receive", d, True), ("receive", kept, True),
    }  # fmt: skip

    erased = guarded.erase_applicant(d, actor="priv-d1")

    after = dump(db_url)
    assert [s for s in everything if s in after] == []
    assert index not in after
    # The reference stays on the row and in the chain; it points at nothing now.
    assert erased.applicant_ref == seen.applicant_ref
    assert verify(guarded.store) == []
    gone = guarded.get(d, actor="desk-d1")
    assert (gone.applicant_name, gone.applicant_id_number, gone.applicant_phone) == (None,) * 3
    assert guarded.history(d, actor="desk-d1")[-1].data["args"] == {"personal_data": "erased"}
    assert guarded.find_by_id_number(ERASED["id_number"], actor="priv-d1") == []
    # The digests of the arguments her keys were sent with (a digest of her data, testable
    # against a guess by whoever holds the key) are forgotten.
    assert digests(guarded) == {
        ("submit_online", d, False), ("receive", d, False), ("receive", kept, True),
    }  # fmt: skip
    # The other applicant's data is untouched.
    assert guarded.get(kept, actor="desk-d1").applicant_id_number == KEPT["id_number"]
    # Not in the logs, not even before the host's redaction.
    logged = repr(captured.entries)
    assert "dossier.forbidden" in logged and "dossier.command" in logged
    assert [s for s in everything + plaintexts(KEPT) if s in logged] == []


def test_a_second_erasure_is_refused(guarded: Engine) -> None:
    d = guarded.receive("LAND", "D1", applicant=KEPT, actor="desk-d1").id
    guarded.erase_applicant(d, actor="priv-d1")
    with pytest.raises(ValidationError, match="holds no personal data"):
        guarded.erase_applicant(d, actor="priv-d1")


def test_events_and_rows_carry_a_reference_not_the_data(engine: Engine) -> None:
    # Embedded mode (no directory): the vault is used all the same.
    d = engine.receive("LAND", "D1", applicant=KEPT, idempotency_key="x")
    [first] = engine.history(d.id)
    assert set(first.data["set"]) & {"applicant_name", "applicant_id_number"} == set()
    assert first.data["set"]["applicant_ref"] == d.applicant_ref
    assert d.applicant_ref is not None and d.applicant_ref.startswith("pd_")
    assert d.applicant_name is None  # command results carry no personal data
    assert engine.get(d.id).applicant_name == KEPT["name"]  # a read of the dossier does


def test_personal_data_without_a_vault_key_is_refused(
    db_url: str, clock: ManualClock, calendar: Calendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONESTOP_VAULT_KEY")
    engine = Engine.open(db_url, FIXTURES, clock=clock, calendar=calendar)
    try:
        with pytest.raises(VaultKeyError, match="onestop vault-keygen"):
            engine.receive("LAND", "D1", applicant={"name": "A"})
        assert engine.receive("LAND", "D1").applicant_ref is None  # no data, no vault needed
    finally:
        engine.store.dispose()


def test_the_vault_key_and_its_ciphertexts() -> None:
    key = VaultKey.from_text("33" * 32)
    sealed = key.seal("pd_a", "phone", "0912345678")
    assert "0912345678" not in sealed and key.open("pd_a", "phone", sealed) == "0912345678"
    with pytest.raises(VaultKeyError, match="cannot be decrypted"):
        key.open("pd_b", "phone", sealed)  # moved to another row
    with pytest.raises(VaultKeyError, match="cannot be decrypted"):
        key.open("pd_a", "name", sealed)  # or another field
    with pytest.raises(VaultKeyError, match="cannot be decrypted"):
        VaultKey.from_text("44" * 32).open("pd_a", "phone", sealed)
    assert key.seal("pd_a", "phone", "0912345678") != sealed  # a fresh nonce each time
    assert key.index("id_number", "092085001234") != VaultKey.from_text("44" * 32).index(
        "id_number", "092085001234"
    )
    with pytest.raises(VaultKeyError, match="64 hex digits"):
        load_vault_key({"ONESTOP_VAULT_KEY": "abc"})
    assert load_vault_key({}) is None
    assert VaultKey.development_key().development is True


def test_a_bad_directory_file_says_what_is_wrong_and_where(tmp_path: Any) -> None:
    from onestop.definitions import Definitions

    units = Definitions.load(FIXTURES).catalog.units
    path = tmp_path / "staff.yaml"
    path.write_text(
        "officers:\n"
        "  - {user_id: a, name: A, agency: D1-DESK, roles: [desk], valid_from: 2025-01-01}\n"
        "  - {user_id: b, name: B, agency: D9-DESK, roles: [desk], valid_from: 2025-01-01}\n"
        "  - {user_id: c, name: C, agency: D1-DESK, roles: [boss], valid_from: 2025-01-01}\n"
        "  - {user_id: d, name: D, agency: D1-DESK, roles: [desk], valid_from: 2025-02-01,\n"
        "     valid_to: 2025-01-01}\n"
        "  - {user_id: a, name: A, agency: D1-LAND, roles: [specialist],\n"
        "     valid_from: 2025-06-01}\n",
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as exc:
        StaffDirectory.load(path, units)
    where = [(p.path, p.reason.split(" ")[0]) for p in exc.value.problems]
    assert where == [
        ("officers[1].agency", "unknown"),
        ("officers[2].roles[0]", "Input"),
        ("officers[3]", "valid_to"),
        ("officers[user_id=a]", "periods"),
    ]


def test_staff_directory_cli(tmp_path: Any, clock: ManualClock) -> None:
    from typer.testing import CliRunner

    from onestop.cli import app

    db = tmp_path / "s.db"
    Engine.open(f"sqlite:///{db}", FIXTURES).store.dispose()
    staff = tmp_path / "staff.yaml"
    staff.write_text(
        "officers:\n"
        "  - {user_id: lan, name: Lan, agency: D1-DESK, roles: [desk], valid_from: 2025-01-01}\n",
        encoding="utf-8",
    )
    run = CliRunner().invoke
    common = ["--db", str(db)]
    assert run(app, ["staff-directory", "load", str(staff), *common, "--workflows",
                     str(FIXTURES)]).exit_code == 0  # fmt: skip
    added = run(app, ["staff-directory", "add", "minh", "--name", "Minh", "--agency",
                      "D1-LAND", "--roles", "specialist", "--from", "2025-01-01",
                      "--workflows", str(FIXTURES), *common])  # fmt: skip
    assert added.exit_code == 0, added.output
    bad = run(app, ["staff-directory", "add", "minh", "--name", "Minh", "--agency", "D1-LAND",
                    "--roles", "specialist", "--from", "2025-03-01", "--workflows",
                    str(FIXTURES), *common])  # fmt: skip
    assert bad.exit_code == 2 and "overlap" in bad.output
    assert run(app, ["staff-directory", "end", "lan", "--at", "2025-02-01",
                     *common]).exit_code == 0  # fmt: skip
    listed = run(app, ["staff-directory", "list", "--at", "2025-03-01", *common])
    assert "minh" in listed.output and "lan" not in listed.output
    # The CLI configured logging on the runner's stream, closed now: back to the suite's own.
    configure(json=False, level="WARNING")
    engine = Engine.open(f"sqlite:///{db}", FIXTURES, clock=clock)
    try:
        assert engine.authority.directory is True
        engine.receive("LAND", "D1", actor="lan")  # 24 January 2025: still at the desk
    finally:
        engine.store.dispose()


def test_a_migrated_database_moves_its_plaintext_into_the_vault(tmp_path: Any) -> None:
    from alembic import command
    from alembic.config import Config

    from onestop.store import Store

    db = tmp_path / "old.db"
    store = Store(f"sqlite:///{db}")
    cfg = Config()
    cfg.set_main_option("script_location", "onestop/store/migrations")
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010")
        conn.execute(text(
            "INSERT INTO dossiers (id, unit_set, rule_set, procedure_code, procedure_version, "
            "field, level, competent_unit, intake_unit, intake_mode, channel, return_method, "
            "applicant_name, applicant_id_number, applicant_phone, status, status_code, "
            "step_index, step_count, apologies, created_at, updated_at, version) VALUES (1, 't', "
            "'r', 'LAND', 1, 'land', 'district', 'D1', 'D1', 'local', 'counter', 'counter', "
            f"'{KEPT['name']}', '{KEPT['id_number']}', '{KEPT['phone']}', 'received', 2, 0, 4, "
            "0, '2025-01-01 00:00:00', '2025-01-01 00:00:00', 1)"
        ))  # fmt: skip
    store.migrate()
    key = load_vault_key()
    assert key is not None
    with store.engine.connect() as conn:
        ref, phone = conn.execute(text("SELECT ref, phone FROM personal_data")).one()
        assert conn.execute(text("SELECT applicant_ref FROM dossiers")).scalar() == ref
    assert key.open(ref, "phone", phone) == KEPT["phone"]
    store.dispose()
    assert [s for s in plaintexts(KEPT) if s in dump(f"sqlite:///{db}")] == []
