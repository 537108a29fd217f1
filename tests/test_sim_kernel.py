"""The simulator's kernel: the engine's law on rows in memory, events sealed in bulk, writes
exactly what the engine writes, and keeps memory flat."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from onestop.audit import verify
from onestop.calendar import Calendar
from onestop.clock import VN_TZ, ManualClock
from onestop.definitions import Definitions
from onestop.engine import Engine
from onestop.errors import InvalidTransition, UnknownDossier, ValidationError
from onestop.rules import RuleBook, RuleSet
from onestop.sim.kernel import Kernel
from onestop.sim.model import Simulation
from onestop.sim.runner import load_scenario
from onestop.store import Store
from tests.test_sim_memory import dump, scenario_file

FIXTURES = Path(__file__).parent / "fixtures" / "workflows"


def test_kernel_run_writes_the_events_of_the_engine_over_sql(db_url: str, tmp_path: Path) -> None:
    """Same seed: every event (hashes included), row and step of the kernel's run equals the
    engine's over SQL, command by command; every kind of command ran."""
    scenario, workflows = load_scenario(scenario_file(tmp_path))
    slow_url = f"sqlite:///{tmp_path / 'slow.db'}"
    fast = Simulation(scenario, workflows, 5, db_url, path="kernel").run()
    slow = Simulation(scenario, workflows, 5, slow_url, path="sql").run()
    fast_events, fast_rows, fast_steps = dump(db_url)
    slow_events, slow_rows, slow_steps = dump(slow_url)
    assert {e["trigger"] for e in fast_events} == {
        "receive", "complete_step", "request_supplement", "supplement", "request_payment",
        "pay", "resolve", "apologise", "dispatch_post", "return_result", "rate", "withdraw",
    }  # fmt: skip
    assert len(fast_rows) > 200
    assert fast_events == slow_events
    assert fast_rows == slow_rows
    assert fast_steps == slow_steps
    assert fast.report == slow.report
    assert verify(Store(db_url)) == []


def kernel(url: str, flush_events: int = 1000) -> tuple[Kernel, ManualClock, Store]:
    defs = Definitions.load(FIXTURES)
    db = Store(url, outbox=False)
    db.migrate()
    db.sync_definitions(defs.catalog)
    clock = ManualClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))
    engine = Engine(db, defs.catalog, Calendar.vietnam(), clock, dev=True)
    return Kernel(engine, flush_events=flush_events), clock, db


def test_the_kernel_applies_the_law_and_refuses_what_it_refuses(tmp_path: Path) -> None:
    k, clock, db = kernel(f"sqlite:///{tmp_path / 'k.db'}")
    # COPY at ward W1: one step, due the same working day (Monday 3 March 2025, 09:00).
    d = k.receive("COPY", "W1")
    assert (d.id, d.status.value, d.version) == (1, "received", 1)
    assert d.due_at == datetime(2025, 3, 3, 17, 0, tzinfo=VN_TZ)
    before = dict(k.rows[d.id]), {s: dict(v) for s, v in k.steps[d.id].items()}
    with pytest.raises(InvalidTransition):
        k.execute("pay", d.id, {"online": True})
    with pytest.raises(InvalidTransition):  # a rating before the result is returned
        k.execute("rate", d.id, {"score": 5})
    assert (dict(k.rows[d.id]), {s: dict(v) for s, v in k.steps[d.id].items()}) == before
    assert [entry and entry[0] for entry in k.journals[d.id]] == ["receive"]
    with pytest.raises(ValidationError, match="'W1' is a commune unit"):  # LAND: district's
        k.receive("LAND", "W1")
    with pytest.raises(UnknownDossier):
        k.execute("resolve", 99)
    clock.set(datetime(2025, 3, 4, 10, 0, tzinfo=VN_TZ))  # the next morning: late
    d = k.execute("resolve", d.id)
    assert (d.status.value, d.version, d.timeliness) == ("resolved", 2, "late")
    with k.batch():
        pass
    assert k.rows == {} and k.written == [1, 2]
    with db.read() as uow:
        assert uow.load_dossier(1)["timeliness"] == "late"
    assert verify(db) == []


def test_retired_dossiers_leave_the_kernel_in_bulk(db_url: str) -> None:
    k, _, db = kernel(db_url, flush_events=6)
    ids = [k.receive("COPY", "W1").id for _ in range(3)]
    for dossier_id in ids[:2]:
        k.execute("resolve", dossier_id)
        k.execute("return_result", dossier_id)
    k.retire(ids[0])  # 3 events waiting: below the flush size
    assert sorted(k.rows) == ids and k.written == [0, 0]
    k.retire(ids[1])  # 6: both written and dropped
    assert sorted(k.rows) == [ids[2]] and k.written == [2, 6]
    with pytest.raises(UnknownDossier):
        k.get(ids[0])
    written, rows, _ = dump(db_url)
    assert [(e["dossier_id"], e["seq"], e["trigger"]) for e in written] == [
        (ids[0], 1, "receive"), (ids[0], 2, "resolve"), (ids[0], 3, "return_result"),
        (ids[1], 1, "receive"), (ids[1], 2, "resolve"), (ids[1], 3, "return_result"),
    ]  # fmt: skip
    # Each row carries its chain head: the hash of its last event.
    assert [r["event_hash"] for r in rows] == [written[2]["hash"], written[5]["hash"]]
    with k.batch():  # the end of a run writes the open dossier too
        k.execute("resolve", ids[2])
    assert k.rows == {} and k.written == [3, 8] and k.peak == 3
    k.retire(ids[2])  # a process ending after the run: nothing left to do
    assert k.written == [3, 8]
    # The database gives new ids after the kernel's.
    assert (
        Engine(db, k.engine.catalog, k.engine.calendar, k.engine.clock).receive("COPY", "W1").id
        == 4
    )
    assert verify(db) == []


def test_the_kernel_refuses_a_store_with_an_outbox(tmp_path: Path) -> None:
    defs = Definitions.load(FIXTURES)
    db = Store(f"sqlite:///{tmp_path / 'o.db'}")
    db.migrate()
    engine = Engine(db, defs.catalog, Calendar.vietnam(), dev=True)
    with pytest.raises(ValueError, match="outbox"):
        Kernel(engine)


def test_an_unknown_path_is_refused(tmp_path: Path) -> None:
    scenario, workflows = load_scenario(scenario_file(tmp_path))
    with pytest.raises(ValueError, match="'fast' is not one of kernel, memory, sql"):
        Simulation(scenario, workflows, 5, path="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="events=False needs path='kernel'"):
        Simulation(scenario, workflows, 5, path="memory", events=False)


def test_a_run_without_events_writes_the_same_rows_steps_and_figures(tmp_path: Path) -> None:
    scenario, workflows = load_scenario(scenario_file(tmp_path))
    with_url, without_url = (f"sqlite:///{tmp_path / n}" for n in ("with.db", "without.db"))
    logged = Simulation(scenario, workflows, 5, with_url).run()
    figures = Simulation(scenario, workflows, 5, without_url, events=False).run()
    logged_events, logged_rows, logged_steps = dump(with_url)
    no_events, rows, steps = dump(without_url)
    assert no_events == []
    assert len(rows) > 200 and all(r["event_hash"] is None for r in rows)
    assert rows == [{**r, "event_hash": None} for r in logged_rows]
    assert steps == logged_steps
    assert figures.report == logged.report
    assert figures.by_field == logged.by_field and figures.agencies == logged.agencies


def test_each_dossier_keeps_the_rule_set_it_was_received_under(tmp_path: Path) -> None:
    """Two dossiers of one procedure version under two rule sets: the second may have two
    apology letters, the first only one, whichever was acted on first."""
    defs = Definitions.load(FIXTURES)
    db = Store(f"sqlite:///{tmp_path / 'rules.db'}", outbox=False)
    db.migrate()
    db.sync_definitions(defs.catalog)
    clock = ManualClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))
    book = RuleBook(
        [
            RuleSet(name="one-letter"),
            RuleSet(name="two-letters", effective_from=date(2025, 3, 4), max_apologies=2),
        ]
    )
    k = Kernel(Engine(db, defs.catalog, Calendar.vietnam(), clock, book, dev=True))
    old = k.receive("LAND", "D1")
    clock.set(datetime(2025, 3, 4, 9, 0, tzinfo=VN_TZ))
    new = k.receive("LAND", "D1")
    assert (old.rule_set, new.rule_set) == ("one-letter", "two-letters")
    for d in (old, new):
        k.execute("apologise", d.id, {"new_due": d.due_at + timedelta(days=5), "reason": "r"})
    with pytest.raises(InvalidTransition):
        k.execute("apologise", old.id, {"new_due": old.due_at + timedelta(days=9), "reason": "r"})
    again = k.execute(
        "apologise", new.id, {"new_due": new.due_at + timedelta(days=9), "reason": "r"}
    )
    assert again.apologies == 2
