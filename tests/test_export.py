"""Event-log export: PM4Py reads each format back with the database's counts, the XES
directly-follows graph draws the Can Tho land-transfer route as the catalog writes it, the
inter-agency chain shows its agencies as OCEL objects, and no personal data leaves.

Expected figures come from SQL written here (not the exporter's queries) or by hand.
"""

from __future__ import annotations

import os
import re
import sqlite3
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pm4py
import pytest
import yaml
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from onestop import VN_TZ, Engine, ManualClock, Period, Store
from onestop.cli import app
from onestop.export_log import export_log
from onestop.testing import reset_postgres

warnings.filterwarnings("ignore", module="pm4py")

ROOT = Path(__file__).parent.parent
WORKFLOWS = ROOT / "workflows"
KEY = bytes(range(32))
NAME = "Trần Thị Zephyrine"
ID_NUMBER = "092185007654"
PHONE = "0912345678"
APPLICANT = {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE}
#: The land-transfer route of workflows/procedures/district.yaml, written out by hand.
LAND_TRANSFER_ROUTE = ["receive", "review", "tax", "register", "return"]
#: Its directly-follows edges as the export names them (a hand-over is complete_step:<step>).
LAND_TRANSFER_EDGES = {
    ("receive", "complete_step:review"),
    ("complete_step:review", "complete_step:tax"),
    ("complete_step:tax", "complete_step:register"),
    ("complete_step:register", "complete_step:return"),
    ("complete_step:return", "resolve"),
    ("resolve", "dispatch_post"),
    ("dispatch_post", "return_result"),
}
#: The Ninh Kieu agencies the chain passes through (workflows/units/cantho-2024.yaml).
CHAIN_AGENCIES = {"92.NK.DESK", "92.NK.LAND", "92.NK.TAX"}
PERIOD = "2024-03"
PG_URL = os.environ.get("ONESTOP_PG_URL")


@dataclass(frozen=True)
class Logged:
    """The test log's database: its URL (for the SQL oracle) and store (for the exporter)."""

    url: str
    store: Store


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=VN_TZ)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cantho(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Logged]:
    """A small Can Tho log, built once per backend (the tests only read it): one dossier
    received in February (id 1, outside the period, with a hand-over in March), then in March
    a land transfer through its whole route (2), a second one by the same applicant with a
    supplement round (3), a withdrawal in Binh Thuy (4), a dossier still open at the end of
    March (5) and one received on 29 March whose hand-over falls in April (6)."""
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("PostgreSQL not configured: set ONESTOP_PG_URL (.ci/run does)")
        reset_postgres(PG_URL)
        db_url = PG_URL
    else:
        db_url = f"sqlite:///{tmp_path_factory.mktemp('export') / 'onestop.db'}"
    clock = ManualClock(datetime(2024, 2, 27, 9, tzinfo=VN_TZ))
    engine = Engine.open(db_url, WORKFLOWS, clock=clock)
    february = engine.receive(
        "district.land-transfer", "92.NK", applicant={"id_number": "092000000001"}
    )
    clock.set(_at(4))
    d1 = engine.receive(
        "district.land-transfer", "92.NK", channel="online", return_method="post",
        applicant=APPLICANT,
    )  # fmt: skip
    d2 = engine.receive("district.land-transfer", "92.NK", applicant=APPLICANT)
    d3 = engine.receive("district.land-transfer", "92.BT", applicant={"name": "Lê Văn Bảy"})
    for _ in range(4):
        clock.advance(timedelta(hours=2))
        engine.complete_step(d1.id)
    clock.advance(timedelta(hours=2))
    engine.resolve(d1.id)
    engine.dispatch_post(d1.id)
    clock.set(_at(5))
    engine.return_result(d1.id)
    engine.complete_step(february.id)
    engine.request_supplement(d2.id, reason="thiếu hợp đồng chuyển nhượng")
    clock.set(_at(7))
    engine.supplement(d2.id)
    engine.withdraw(d3.id, reason="người nộp rút hồ sơ")
    clock.set(_at(8))
    d4 = engine.receive("district.land-transfer", "92.NK")
    engine.complete_step(d4.id)
    clock.set(_at(29))
    d5 = engine.receive("district.land-transfer", "92.BT")
    clock.set(datetime(2024, 4, 2, 9, tzinfo=VN_TZ))
    engine.complete_step(d5.id)
    assert [february.id, d1.id, d2.id, d3.id, d4.id, d5.id] == [1, 2, 3, 4, 5, 6]
    yield Logged(db_url, engine.store)
    engine.store.dispose()


def _sql(db_url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    eng = create_engine(db_url)
    try:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]
    finally:
        eng.dispose()


def _bound(db_url: str, moment: datetime) -> Any:
    # SQLite keeps UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"); PostgreSQL takes the instant.
    if db_url.startswith("sqlite"):
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def _expected(db_url: str, unit: str | None = None) -> dict[str, int]:
    """Cases, events and steps of March 2024, counted with plain SQL."""
    start, end = Period.parse(PERIOD).bounds
    where = "d.created_at >= :start AND d.created_at < :end"
    params = {"start": _bound(db_url, start), "end": _bound(db_url, end)}
    if unit is not None:
        where += " AND d.competent_unit = :unit"
        params["unit"] = unit
    cases = _sql(db_url, f"SELECT count(*) FROM dossiers d WHERE {where}", **params)[0][0]
    events = _sql(
        db_url,
        f"SELECT count(*) FROM events e JOIN dossiers d ON d.id = e.dossier_id "
        f"WHERE {where} AND e.at < :end",
        **params,
    )[0][0]
    steps = _sql(
        db_url,
        f"SELECT count(*) FROM dossier_steps s JOIN dossiers d ON d.id = s.dossier_id "
        f"WHERE {where} AND s.started_at < :end",
        **params,
    )[0][0]
    return {"cases": cases, "events": events, "steps": steps}


def _export(logged: Logged, fmt: str, out: Path, **options: Any) -> None:
    export_log(logged.store, fmt, Period.parse(PERIOD), out, key=KEY, **options)


def test_the_expected_counts_are_what_the_log_holds(cantho: Logged) -> None:
    # The oracle itself, checked against the story the fixture tells: five dossiers in March
    # (not February's); events 8 + 3 + 2 + 2 + 1 (the April hand-over left out); steps started
    # 5 + 1 + 1 + 2 + 1.
    assert _expected(cantho.url) == {"cases": 5, "events": 16, "steps": 10}


def test_xes_reads_back_with_the_databases_counts_and_the_catalogs_route(
    cantho: Logged, tmp_path: Path
) -> None:
    out = tmp_path / "log.xes"
    _export(cantho, "xes", out)
    log = pm4py.read_xes(str(out), return_legacy_log_object=False)
    expected = _expected(cantho.url)
    assert log["case:concept:name"].nunique() == expected["cases"]
    assert len(log) == expected["events"]
    # The route as the catalog writes it (checked against the YAML, so a changed catalog shows).
    procedures = yaml.safe_load((WORKFLOWS / "procedures" / "district.yaml").read_text("utf-8"))
    land = next(p for p in procedures["procedures"] if p["code"] == "district.land-transfer")
    assert [s["code"] for s in land["route"]["steps"]] == LAND_TRANSFER_ROUTE
    dfg, starts, ends = pm4py.discover_dfg(log[log["case:concept:name"] == "2"])
    assert set(dfg) == LAND_TRANSFER_EDGES
    assert starts == {"receive": 1} and ends == {"return_result": 1}
    first = log[log["case:concept:name"] == "2"]
    assert list(first["org:resource"]) == [
        "92.NK.DESK", "92.NK.DESK", "92.NK.LAND", "92.NK.TAX", "92.NK.LAND", "92.NK.DESK",
        "92.NK.DESK", "92.NK.DESK",
    ]  # fmt: skip
    assert set(first["lifecycle:transition"]) == {"complete"}
    cases = log.drop_duplicates("case:concept:name").set_index("case:concept:name")
    # 2 resolved the day it came (due ten working days later): early. 5, received on Friday
    # 8 March, was due on 22 March and is open on the 31st: overdue. 6, received on the 29th:
    # in time. 4 was withdrawn: no timeliness.
    assert cases.loc["2", "case:onestop:timeliness"] == "early"
    assert cases.loc["5", "case:onestop:timeliness"] == "overdue"
    assert cases.loc["6", "case:onestop:timeliness"] == "in_time"
    assert cases["case:onestop:timeliness"].isna().to_dict() == {
        "2": False, "3": False, "4": True, "5": False, "6": False,
    }  # fmt: skip
    assert cases.loc["2", "case:onestop:procedure"] == "district.land-transfer"
    assert cases.loc["2", "case:onestop:channel"] == "online"
    assert cases.loc["4", "case:onestop:competent_unit"] == "92.BT"
    assert set(log[log["case:concept:name"] == "4"]["org:resource"]) == {"92.BT.DESK", "applicant"}


@pytest.mark.parametrize("fmt", ["ocel2-json", "ocel2-sqlite"])
def test_ocel_reads_back_with_the_databases_counts_and_the_chains_agencies(
    cantho: Logged, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"log.{fmt}"
    _export(cantho, fmt, out)
    read = pm4py.read_ocel2_json if fmt == "ocel2-json" else pm4py.read_ocel2_sqlite
    ocel = read(str(out))
    expected = _expected(cantho.url)
    assert len(ocel.events) == expected["events"]
    types = ocel.objects["ocel:type"].value_counts().to_dict()
    assert types["dossier"] == expected["cases"]
    assert types["step"] == expected["steps"]
    # Two applicants with an ID or a name in March: the one with two dossiers, and Lê Văn Bảy.
    assert types["applicant"] == 2
    rel = ocel.relations
    d1_events = rel[(rel["ocel:oid"] == "dossier:2")]["ocel:eid"]
    touched = rel[rel["ocel:eid"].isin(set(d1_events))]
    agencies = set(touched[touched["ocel:type"] == "agency"]["ocel:oid"])
    assert agencies == {f"agency:{a}" for a in CHAIN_AGENCIES}
    hand_to_tax = touched[
        (touched["ocel:activity"] == "complete_step:tax") & (touched["ocel:type"] == "agency")
    ]
    assert set(zip(hand_to_tax["ocel:oid"], hand_to_tax["ocel:qualifier"], strict=True)) == {
        ("agency:92.NK.LAND", "by"),
        ("agency:92.NK.TAX", "to"),
    }
    # The same applicant object links both of their dossiers.
    o2o = ocel.o2o
    owners = o2o[o2o["ocel:qualifier"] == "applicant"]
    by_dossier = dict(zip(owners["ocel:oid"], owners["ocel:oid_2"], strict=True))
    assert by_dossier["dossier:2"] == by_dossier["dossier:3"] != by_dossier["dossier:4"]


def test_a_step_finished_after_the_instant_is_not_judged_in_the_log(
    cantho: Logged, tmp_path: Path
) -> None:
    # Dossier 6 was received on Friday 29 March 09:00; its receive step (half a working day,
    # due 15:00 that day) was handed over on 2 April. The March log describes 31 March: the step
    # is still running, not yet late. The log of all of 2024 sees it finished late.
    def steps(period: str) -> dict[str, Any]:
        out = tmp_path / f"{period}.json"
        export_log(cantho.store, "ocel2-json", Period.parse(period), out, key=KEY)
        objects = pm4py.read_ocel2_json(str(out)).objects
        chosen = objects[objects["ocel:oid"].isin(["step:5:0", "step:5:1", "step:6:0"])]
        timeliness = chosen.set_index("ocel:oid")["timeliness"]
        return {oid: (None if value != value else value) for oid, value in timeliness.items()}

    # Dossier 5's receive step was handed over on 8 March, the day it was due: on time. Its
    # review step is still running.
    assert steps(PERIOD) == {"step:5:0": "on_time", "step:5:1": None, "step:6:0": None}
    assert steps("2024") == {"step:5:0": "on_time", "step:5:1": None, "step:6:0": "late"}


@pytest.mark.parametrize("fmt", ["xes", "ocel2-json", "ocel2-sqlite"])
def test_no_personal_data_in_any_output(cantho: Logged, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"log.{fmt}"
    _export(cantho, fmt, out)
    data = out.read_bytes()
    assert len(data) > 1000
    forbidden = [NAME, "Zephyrine", ID_NUMBER, PHONE, "Lê Văn Bảy", "092000000001"]
    for value in forbidden:
        assert value.encode("utf-8") not in data, value
        escaped = value.encode("ascii", "backslashreplace").replace(b"\\x", b"\\u00")
        assert escaped not in data, value
    # Nor the unkeyed digest of the ID number (a pseudonym must need the key).
    import hashlib

    assert hashlib.sha256(ID_NUMBER.encode()).hexdigest()[:20].encode() not in data


def test_pseudonyms_need_the_key_and_a_keyless_export_draws_its_own(
    cantho: Logged, tmp_path: Path
) -> None:
    def applicants(key: bytes | None) -> set[str]:
        out = tmp_path / "log.json"
        export_log(cantho.store, "ocel2-json", Period.parse(PERIOD), out, key=key)
        objects = pm4py.read_ocel2_json(str(out)).objects
        return set(objects[objects["ocel:type"] == "applicant"]["ocel:oid"])

    keyed = applicants(KEY)
    assert len(keyed) == 2 and applicants(KEY) == keyed  # the same key: the same pseudonyms
    assert applicants(bytes(range(1, 33))).isdisjoint(keyed)  # another key: none in common
    first, second = applicants(None), applicants(None)
    assert (len(first), len(second)) == (2, 2)
    assert first.isdisjoint(second) and first.isdisjoint(keyed)


def test_by_unit_writes_one_file_per_competent_unit(cantho: Logged, tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    out = tmp_path / "logs" / "log.xes"
    _export(cantho, "xes", out, by_unit=True)
    assert sorted(p.name for p in out.parent.iterdir()) == ["log.92.BT.xes", "log.92.NK.xes"]
    for unit in ("92.BT", "92.NK"):
        log = pm4py.read_xes(str(out.parent / f"log.{unit}.xes"), return_legacy_log_object=False)
        expected = _expected(cantho.url, unit)
        assert (log["case:concept:name"].nunique(), len(log)) == (
            expected["cases"],
            expected["events"],
        )
    assert _expected(cantho.url, "92.BT")["cases"] == 2  # 4 and 6, written out by hand


def test_the_ocel_sqlite_file_has_the_specifications_tables(cantho: Logged, tmp_path: Path) -> None:
    out = tmp_path / "log.sqlite"
    _export(cantho, "ocel2-sqlite", out)
    con = sqlite3.connect(out)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.close()
    # PM4Py's checker of the specification's relational constraints (tables, keys, references).
    from pm4py.objects.ocel.validation import ocel20_rel_validation

    satisfied, unsatisfied = ocel20_rel_validation.apply(str(out))
    assert unsatisfied == [] and len(satisfied) == 24
    assert {
        "event", "object", "event_object", "object_object", "event_map_type", "object_map_type",
        "object_dossier", "object_step", "object_agency", "object_unit", "object_applicant",
        "event_receive", "event_complete_step_tax", "event_resolve",
    } <= tables  # fmt: skip


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["export", *args])


def _sqlite_file(logged: Logged) -> Path:
    if not logged.url.startswith("sqlite"):
        pytest.skip("the CLI tests read the SQLite copy of the log")
    return Path(logged.url.removeprefix("sqlite:///"))


def test_bad_input_is_one_line_and_exit_2(cantho: Logged, tmp_path: Path) -> None:
    db = _sqlite_file(cantho)
    not_onestop = tmp_path / "other.db"
    sqlite3.connect(not_onestop).execute("CREATE TABLE t (x)").connection.close()
    cases = [
        (["--db", str(db), "-f", "csv", "--period", "2024", "--out", str(tmp_path / "a")], "--format"),
        (["--db", str(db), "-f", "xes", "--period", "2024-13", "--out", str(tmp_path / "a")], "period"),
        (["--db", str(db), "-f", "xes", "--period", "2024", "--out", str(tmp_path / "no" / "a")], "does not exist"),
        (["--db", str(not_onestop), "-f", "xes", "--period", "2024", "--out", str(tmp_path / "a")], "no onestop tables"),
        (["--db", str(db), "-f", "xes", "--period", "2024", "--by", "agency", "--out", str(tmp_path / "a")], "--by"),
    ]  # fmt: skip
    for args, words in cases:
        result = _cli(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0], (args, result.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_the_readme_commands_and_snippet_run(
    cantho: Logged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Export for process mining", 1)[1].split("\n## ", 1)[0]
    shell = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    snippet = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert shell and snippet
    # A consistent copy (the log's WAL is not checkpointed while its store is open).
    source, copy = (
        sqlite3.connect(_sqlite_file(cantho)),
        sqlite3.connect(tmp_path / "onestop-demo.db"),
    )
    source.backup(copy)
    source.close()
    copy.close()
    monkeypatch.chdir(tmp_path)
    for line in shell[0].strip().splitlines():
        assert line.split()[:2] == ["onestop", "export"]
        result = CliRunner().invoke(app, line.split()[1:])
        assert result.exit_code == 0, (line, result.output)
    assert (
        "6 dossiers, 19 events"
        in CliRunner().invoke(app, shell[0].splitlines()[0].split()[1:]).output
    )
    assert sorted(p.name for p in tmp_path.glob("by-unit.*")) == [
        "by-unit.92.BT.json", "by-unit.92.NK.json",
    ]  # fmt: skip
    namespace: dict[str, Any] = {}
    exec(compile(snippet[0], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    # All of 2024: six dossiers; events 16 in March + February's 2 + the April hand-over;
    # objects: 6 dossiers, 13 steps, 5 agencies (92.NK desk, land, tax; 92.BT desk, land),
    # 2 units, 3 applicants.
    assert namespace["counts"] == {"cases": 6, "events": 19, "objects": 6 + 13 + 5 + 2 + 3}
