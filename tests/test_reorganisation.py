"""The 1 July 2025 reorganisation: one engine across the switch, transfers of dossiers in
flight, and reports that read a year spanning it both ways. Expected values are written by hand
from the mapping and the catalogs (workflows/units/cantho-2025-merged-mapping.yaml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from onestop import (
    AbolishedUnit,
    Calendar,
    Definitions,
    Engine,
    Forbidden,
    ManualClock,
    OneStopPolicy,
    Period,
    StaffDirectory,
    UnitMapping,
)
from onestop.audit import verify
from onestop.cli import app
from onestop.reports import on_time_report, successor_map
from onestop.store import Store
from onestop.store.officers import load_directory
from onestop.timeline import Timeline
from tests.helpers import assert_replays, dt, fingerprint

ROOT = Path(__file__).parent.parent / "workflows"
MAPPING = ROOT / "units" / "cantho-2025-merged-mapping.yaml"
SWITCH = dt(2025, 7, 1)


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return Definitions.load(ROOT)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt(2025, 6, 30, 9, 0))  # Monday 30 June 2025, the last three-tier day


@pytest.fixture
def city(
    db_url: str, clock: ManualClock, calendar: Calendar, defs: Definitions
) -> Iterator[Engine]:
    """An engine serving the three-tier city, then the merged city from 1 July 2025."""
    timeline = Timeline.of(defs)
    store = Store(db_url)
    store.migrate()
    for catalog in timeline.catalogs:
        store.sync_definitions(catalog)
    engine = Engine(store, timeline.catalogs[0], calendar, clock, timeline=timeline)
    yield engine
    store.dispose()


def row(engine: Engine, dossier_id: int) -> dict[str, Any]:
    with engine.store.read() as uow:
        return uow.load_dossier(dossier_id)


def test_the_engine_chooses_the_unit_set_by_the_receipt_day(
    city: Engine, clock: ManualClock
) -> None:
    before = city.receive("commune.land-mediation", "92.NK.TANAN")
    assert before.unit_set == "cantho-2024"
    clock.set(dt(2025, 7, 1, 9, 0))
    after = city.receive("commune.land-mediation", "92.NINHKIEU")
    assert after.unit_set == "cantho-2025-merged"
    with pytest.raises(AbolishedUnit) as ward:
        city.receive("commune.land-mediation", "92.NK.TANAN")
    # Tân An, Thới Bình and Xuân Khánh wards merged into Ninh Kiều ward (Resolution 1668 item 1).
    assert ward.value.successors == ("92.NINHKIEU",)
    assert "92.NK.TANAN" in str(ward.value) and "2025-07-01" in str(ward.value)
    with pytest.raises(AbolishedUnit) as district:
        city.receive("district.land-first", "92.NK")
    # The district seat's successor first, then its wards' successors, then the city.
    assert district.value.successors == (
        "92.NINHKIEU", "92.CAIKHE", "92.TANAN", "92.ANBINH", "92",
    )  # fmt: skip
    assert [d.id for d in city.open_dossiers(limit=10)] == [before.id, after.id]


def test_a_district_dossier_open_at_the_switch_is_transferred_and_completes_at_the_successor(
    city: Engine, clock: ManualClock
) -> None:
    d = city.receive("district.land-first", "92.NK")
    # 23 working days from Monday 30 June 09:00: July 1-4 (4), 7-11 (9), 14-18 (14),
    # 21-25 (19), 28-31 (23): Thursday 31 July, 09:00.
    assert d.due_at == dt(2025, 7, 31, 9, 0)
    clock.set(dt(2025, 6, 30, 14, 0))
    d = city.complete_step(d.id)
    assert d.current_agency == "92.NK.LAND"

    outcome = city.reorganise("cantho-2025-merged", SWITCH)
    assert (outcome.written, outcome.plan.unmapped) == (1, [])
    moved = city.get(d.id)
    assert (moved.unit_set, moved.competent_unit, moved.level) == (
        "cantho-2025-merged", "92.NINHKIEU", "commune",
    )  # fmt: skip
    assert moved.current_agency == "92.NINHKIEU.CADASTRAL"
    assert (moved.step_index, moved.status.value) == (1, "processing")
    assert moved.due_at == dt(2025, 7, 31, 9, 0)  # the appointment is kept
    stored = row(city, d.id)
    assert (stored["origin_unit_set"], stored["origin_unit"]) == ("cantho-2024", "92.NK")
    event = city.history(d.id)[-1]
    assert (event.trigger, event.at, event.agency) == (
        "transferred", SWITCH, "92.NINHKIEU.CADASTRAL",
    )  # fmt: skip
    args = event.data["args"]
    assert (args["old_unit"], args["new_unit"], args["via"], args["appointment"]) == (
        "92.NK", "92.NINHKIEU", "seat", "kept",
    )  # fmt: skip
    assert args["entry"]["old"] == "92.NK" and args["entry"]["seat"] == "92.NINHKIEU"
    assert [s.agency for s in city.steps(d.id)] == ["92.NK.DESK", "92.NINHKIEU.CADASTRAL"]

    clock.set(dt(2025, 7, 10, 10, 0))
    signed = city.complete_step(d.id)
    assert signed.current_agency == "92.NINHKIEU.LEADER"
    done = city.resolve(d.id)
    assert (done.status.value, done.timeliness and done.timeliness.value) == ("resolved", "early")
    assert verify(city.store) == []
    assert_replays(city, d.id)


def test_a_dossier_received_at_a_ward_goes_to_that_wards_successor(city: Engine) -> None:
    # Business-household registration is location-independent: An Khánh ward's desk received
    # one for Ninh Kiều district. An Khánh went to Tân An ward (Resolution 1668 item 3), not to
    # the ward succeeding the district seat (Ninh Kiều), where the one received at the district's
    # own desk goes.
    at_ward = city.receive("district.business-household", "92.NK", intake_unit="92.NK.ANKHANH")
    at_district = city.receive("district.business-household", "92.NK")
    city.reorganise("cantho-2025-merged", SWITCH)
    moved = [
        (city.get(i).competent_unit, city.history(i)[-1].data["args"]["via"])
        for i in (at_ward.id, at_district.id)
    ]
    assert moved == [("92.TANAN", "intake"), ("92.NINHKIEU", "seat")]


def test_a_transfer_after_a_later_change_is_dated_at_that_change(
    city: Engine, clock: ManualClock
) -> None:
    # The run comes after the switch, and the dossier was worked on in between: its log must
    # not go back in time.
    d = city.receive("district.land-first", "92.NK")
    clock.set(dt(2025, 7, 1, 10, 0))
    city.complete_step(d.id)
    city.reorganise("cantho-2025-merged", SWITCH)
    assert [(e.trigger, e.at) for e in city.history(d.id)] == [
        ("receive", dt(2025, 6, 30, 9, 0)),
        ("complete_step", dt(2025, 7, 1, 10, 0)),
        ("transferred", dt(2025, 7, 1, 10, 0)),
    ]
    assert verify(city.store) == []


def test_an_agency_that_held_a_transferred_dossier_still_sees_it(
    db_url: str, clock: ManualClock, calendar: Calendar, defs: Definitions
) -> None:
    """Received at An Khánh ward's desk for Ninh Kiều district, handed over by the district's
    desk, then transferred to Tân An ward: neither its units nor its holder are Ninh Kiều's any
    more, but the district desk that held its first step still reads it (and lists it); Ninh
    Kiều's land office, which never held it, does not."""
    timeline = Timeline.of(defs)
    store = Store(db_url)
    store.migrate()
    for catalog in timeline.catalogs:
        store.sync_definitions(catalog)
    staff = {
        "desk-ak": ("92.NK.ANKHANH.DESK", "desk"),
        "desk-nk": ("92.NK.DESK", "desk"),
        "land-nk": ("92.NK.LAND", "specialist"),
    }
    officers = [
        {"user_id": u, "name": u, "agency": a, "roles": [r], "valid_from": "2025-01-01"}
        for u, (a, r) in staff.items()
    ]
    with store.begin() as conn:
        load_directory(conn, StaffDirectory.from_data({"officers": officers}))
    city = Engine(
        store, timeline.catalogs[0], calendar, clock, timeline=timeline,
        policy=OneStopPolicy(), directory=True,
    )  # fmt: skip
    try:
        d = city.receive(
            "district.business-household", "92.NK", intake_unit="92.NK.ANKHANH", actor="desk-ak"
        ).id
        held = city.complete_step(d, actor="desk-nk")  # the district desk's own step
        assert held.current_agency == "92.NK.FINANCE"
        city.reorganise("cantho-2025-merged", SWITCH)
        moved = city.get(d, actor="desk-nk")
        assert (moved.competent_unit, moved.intake_unit) == ("92.TANAN", "92.NK.ANKHANH")
        # The review step is the economic office's in the two-tier catalog (procedures/
        # two-tier-2025.yaml, district.business-household).
        assert moved.current_agency == "92.TANAN.ECONOMY"
        assert [x.id for x in city.open_dossiers(actor="desk-nk")] == [d]
        with pytest.raises(Forbidden):
            city.get(d, actor="land-nk")
        assert city.open_dossiers(actor="land-nk") == []
    finally:
        store.dispose()


def test_reorganisation_is_idempotent_and_lists_what_it_cannot_map(
    city: Engine, clock: ManualClock
) -> None:
    district = city.receive("district.land-first", "92.BT")
    ward = city.receive("commune.land-mediation", "92.NK.TANAN")
    towns = city.receive("commune.land-mediation", "92.VT.TTVINHTHANH")
    closed = city.receive("city.judicial-record", "92")
    city.withdraw(closed.id, reason="rút hồ sơ")
    at_city = city.receive("city.judicial-record", "92")  # the city keeps its code
    # A mapping that forgets Vĩnh Thạnh town: its dossier is listed, not dropped.
    full = city.timeline.mappings[("cantho-2024", "cantho-2025-merged")]
    partial = UnitMapping(
        mapping="partial",
        from_unit_set="cantho-2024",
        to_unit_set="cantho-2025-merged",
        effective=full.effective,
        units=tuple(e for e in full.units if e.old != "92.VT.TTVINHTHANH"),
    )
    first = city.reorganise(partial, SWITCH)
    assert first.written == 3
    assert first.plan.counts() == [
        ("92", "92", 1), ("92.BT", "92.BINHTHUY", 1), ("92.NK.TANAN", "92.NINHKIEU", 1),
    ]  # fmt: skip
    assert city.get(at_city.id).unit_set == "cantho-2025-merged"
    assert city.get(closed.id).unit_set == "cantho-2024"  # closed before: left as it was
    assert [(u.dossier_id, u.unit) for u in first.plan.unmapped] == [
        (towns.id, "92.VT.TTVINHTHANH")
    ]
    assert "no entry in mapping 'partial'" in first.plan.unmapped[0].reason
    assert city.get(towns.id).unit_set == "cantho-2024"
    assert [city.get(i).competent_unit for i in (district.id, ward.id)] == [
        "92.BINHTHUY", "92.NINHKIEU",
    ]  # fmt: skip
    after_first = fingerprint(city)
    again = city.reorganise(partial, SWITCH)
    assert (again.written, again.plan.transfers) == (0, [])
    assert [u.dossier_id for u in again.plan.unmapped] == [towns.id]  # still listed
    assert fingerprint(city) == after_first
    assert len(city.history(district.id)) == 2  # receive, transferred: once


def test_the_dry_run_writes_nothing(city: Engine) -> None:
    for unit in ("92.NK", "92.NK", "92.CR"):
        city.receive("district.land-first", unit)
    city.receive("commune.land-mediation", "92.NK.XUANKHANH")
    before = fingerprint(city)
    outcome = city.reorganise("cantho-2025-merged", SWITCH, dry_run=True)
    assert outcome.written == 0
    assert outcome.plan.counts() == [
        ("92.CR", "92.CAIRANG", 1), ("92.NK", "92.NINHKIEU", 2),
        ("92.NK.XUANKHANH", "92.NINHKIEU", 1),
    ]  # fmt: skip
    assert fingerprint(city) == before


def test_reports_read_the_switch_by_old_unit_new_unit_and_successor(
    city: Engine, clock: ManualClock
) -> None:
    early = city.receive("commune.land-mediation", "92.NK.TANAN")
    for _ in range(2):
        city.complete_step(early.id)
    city.resolve(early.id)  # resolved on 30 June: never transferred
    moved = city.receive("commune.land-mediation", "92.NK.THOIBINH")
    city.reorganise("cantho-2025-merged", SWITCH)
    clock.set(dt(2025, 7, 2, 9, 0))
    fresh = city.receive("commune.land-mediation", "92.NINHKIEU")
    for d in (moved, fresh):
        city.complete_step(d.id)
        city.complete_step(d.id)
        city.resolve(d.id)
    year = Period.parse("2025")

    def rows(by: list[str], **kw: Any) -> list[tuple[Any, ...]]:
        report = on_time_report(city.store, year, by, **kw)
        return [(*(str(r.key[b]) for b in by), r.resolved) for r in report.rows]

    assert rows(["old_unit"]) == [
        ("92.NINHKIEU", 1), ("92.NK.TANAN", 1), ("92.NK.THOIBINH", 1),
    ]  # fmt: skip
    assert rows(["new_unit"]) == [("92.NINHKIEU", 2), ("92.NK.TANAN", 1)]
    mapping = city.timeline.mappings[("cantho-2024", "cantho-2025-merged")]
    successors = successor_map([(e.old, e.new, e.seat) for e in mapping.units])
    assert rows(["successor"], successors=successors) == [("92.NINHKIEU", 3)]
    # Version 2 of the old catalog (Land Law 2024) until the switch; the merged catalog's own
    # version 1 after it, for the transferred dossier too.
    assert rows(["unit_set", "procedure_version"]) == [
        ("cantho-2024", "2", 1), ("cantho-2025-merged", "1", 2),
    ]  # fmt: skip


def test_the_successor_rolls_a_district_up_to_its_seats_successor(
    city: Engine, clock: ManualClock
) -> None:
    # Thới Bình ward went to Ninh Kiều ward; Ninh Kiều district was abolished, its seat's
    # successor being Ninh Kiều ward too (the mapping's seat; its "new" is the city, 92).
    ward = city.receive("commune.land-mediation", "92.NK.THOIBINH")  # 45 working days
    district = city.receive("district.land-first", "92.NK")  # due 31 July 09:00
    city.reorganise("cantho-2025-merged", SWITCH)
    clock.set(dt(2025, 7, 2, 9, 0))
    city.complete_step(ward.id)
    city.complete_step(ward.id)
    city.resolve(ward.id)  # early
    mapping = city.timeline.mappings[("cantho-2024", "cantho-2025-merged")]
    successors = successor_map([(e.old, e.new, e.seat) for e in mapping.units])
    report = on_time_report(city.store, Period.parse("2025"), ["successor"], successors=successors)
    # As of 31 December: one resolved early, the district's still open and overdue.
    assert [
        (str(r.key["successor"]), r.resolved, r.early, r.on_time, r.late, r.open_in_time,
         r.open_overdue)
        for r in report.rows
    ] == [("92.NINHKIEU", 1, 1, 0, 0, 0, 1)]  # fmt: skip
    assert city.get(district.id).competent_unit == "92.NINHKIEU"


def test_reorganise_command_bad_input_is_one_line_and_changes_nothing(
    tmp_path: Path, clock: ManualClock
) -> None:
    db = tmp_path / "city.db"
    engine = Engine.open(f"sqlite:///{db}", ROOT, clock=clock)
    engine.receive("district.land-first", "92.NK")
    before = fingerprint(engine)
    unknown = tmp_path / "bad-mapping.yaml"
    unknown.write_text(
        "mapping: bad\nfrom_unit_set: cantho-2024\nto_unit_set: cantho-2025-merged\n"
        "effective: '2025-07-01'\nunits:\n- {old: 92.NK.NOWHERE, new: 92.NINHKIEU}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    cases = [
        (["--mapping", str(tmp_path / "missing.yaml"), "--at", "2025-07-01T00:00"], "not found"),
        (["--mapping", str(unknown), "--at", "2025-07-01T00:00"], "unknown unit '92.NK.NOWHERE'"),
        (["--mapping", str(MAPPING), "--at", "1 July"], "--at: '1 July' is not an ISO instant"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["reorganise", "--db", str(db), *args])
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert result.output.count("error:") == 1
    dry = runner.invoke(
        app, ["reorganise", "--db", str(db), "--mapping", str(MAPPING), "--at",
              "2025-07-01T00:00", "--dry-run"],
    )  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert "1 to transfer, 0 unmapped" in dry.output and "92.NK → 92.NINHKIEU: 1" in dry.output
    assert fingerprint(engine) == before
    engine.store.dispose()


def test_the_scenario_transfers_the_dossiers_in_flight_at_the_switch() -> None:
    from sqlalchemy import select

    from onestop.sim.reorganisation import ReorganisingSimulation
    from onestop.sim.runner import load_scenario
    from onestop.store.schema import dossiers, events

    scenario, workflows = load_scenario(
        ROOT.parent / "simulations" / "reorganisation-2025.yaml", days=31, scale=0.002
    )
    sim = ReorganisingSimulation(scenario, workflows, seed=7)
    sim.run()
    assert sim.transferred and sim.unmapped == []
    store = sim.engine.store
    with store.read() as uow:
        rows = uow.conn.execute(
            select(dossiers.c.id, dossiers.c.unit_set, dossiers.c.received_on,
                   dossiers.c.origin_unit_set)
        ).all()  # fmt: skip
        moved = uow.conn.execute(
            select(events.c.dossier_id, events.c.at).where(events.c.trigger == "transferred")
        ).all()
    # Every transfer at the switch, one per dossier; the transferred are exactly the dossiers
    # received before it that ended in the merged city; none received after it is in the old set.
    assert {at for _, at in moved} == {SWITCH}
    assert sorted(i for i, _ in moved) == sorted(sim.transferred)
    before = {i for i, s, day, _ in rows if day < SWITCH.date() and s == "cantho-2025-merged"}
    assert before == set(sim.transferred)
    assert all(s == "cantho-2025-merged" for _, s, day, _ in rows if day >= SWITCH.date())
    assert {o for i, _, _, o in rows if i in before} == {"cantho-2024"}
    assert verify(store) == []


def test_the_scenario_on_the_memory_store_makes_the_events_of_the_sql_run(tmp_path: Path) -> None:
    # The transfer's query for open dossiers is answered from memory on the fast path: the
    # same transfers, events, rows and steps as over SQL, command by command.
    from onestop.sim.reorganisation import ReorganisingSimulation
    from onestop.sim.runner import load_scenario
    from tests.test_sim_memory import dump

    scenario, workflows = load_scenario(
        ROOT.parent / "simulations" / "reorganisation-2025.yaml", days=31, scale=0.002
    )
    urls = [f"sqlite:///{tmp_path / name}" for name in ("fast.db", "slow.db")]
    fast, slow = (
        ReorganisingSimulation(scenario, workflows, 7, url, memory=memory)
        for url, memory in zip(urls, (True, False), strict=True)
    )
    fast.run()
    slow.run()
    assert fast.memory is not None and slow.memory is None
    assert slow.transferred and fast.transferred == slow.transferred
    fast_dump, slow_dump = dump(urls[0]), dump(urls[1])
    assert sum(e["trigger"] == "transferred" for e in slow_dump[0]) == len(slow.transferred)
    assert fast_dump == slow_dump
    assert verify(Store(urls[0])) == []
