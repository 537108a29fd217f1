"""The simulator's fast path: the engine over an in-memory store, written to the database in
bulk, makes exactly the events, rows and steps of the engine over SQL, command by command."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from onestop.audit import verify
from onestop.calendar import Calendar
from onestop.clock import VN_TZ, ManualClock
from onestop.definitions import Definitions
from onestop.engine import Engine
from onestop.errors import InvalidTransition, StaleVersion, UnknownDossier, ValidationError
from onestop.lifecycle import Facts, Lifecycle
from onestop.sim.model import Simulation
from onestop.sim.runner import load_scenario
from onestop.store import Store
from onestop.store.memory import MemoryStore
from onestop.store.schema import dossier_steps, dossiers, events

ROOT = Path(__file__).parent.parent
BASE = Path(__file__).parent / "fixtures" / "scenarios" / "mechanisms.yaml"
FIXTURES = Path(__file__).parent / "fixtures" / "workflows"


def scenario_file(tmp_path: Path) -> Path:
    """Two weeks of Can Tho with every kind of command: supplements, payments, withdrawals,
    apologies (few officers and slow opinions make some dossiers late), postal returns and
    ratings."""
    data = yaml.safe_load(BASE.read_text())
    data["workflows"] = str(ROOT / "workflows")
    data["days"] = 10
    data["volume"]["per_year"] = {"city": 3000, "district": 3000, "commune": 3000}
    data["staffing"] = {"default": 1}
    data["channels"] = {"online": 0.5, "postal": 0.2, "post_return": 0.3}
    data["behaviour"] = {
        "apology": True,
        "supplement_rate": 0.2,
        "withdraw_rate": 0.05,
        "rating_share": 0.5,
    }
    data["mechanisms"] = {
        "consultation": {
            "share_by_field": {"land": 0.5, "construction": 0.5},
            "delay_days": {"kind": "lognormal", "mean": 4, "cv": 1},
        }
    }
    path = tmp_path / "memory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def dump(url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Every event (without its row id), dossier and step, in key order."""
    store = Store(url)
    with store.read() as uow:
        evs = [
            {k: v for k, v in r.items() if k != "id"}
            for r in uow.conn.execute(
                select(events).order_by(events.c.dossier_id, events.c.seq)
            ).mappings()
        ]
        rows = [
            dict(r) for r in uow.conn.execute(select(dossiers).order_by(dossiers.c.id)).mappings()
        ]
        steps = [
            dict(r)
            for r in uow.conn.execute(
                select(dossier_steps).order_by(dossier_steps.c.dossier_id, dossier_steps.c.seq)
            ).mappings()
        ]
    store.dispose()
    return evs, rows, steps


def test_memory_run_makes_the_events_of_the_sql_run(tmp_path: Path) -> None:
    scenario, workflows = load_scenario(scenario_file(tmp_path))
    fast_url, slow_url = f"sqlite:///{tmp_path / 'fast.db'}", f"sqlite:///{tmp_path / 'slow.db'}"
    fast = Simulation(scenario, workflows, 5, fast_url, path="memory").run()
    slow = Simulation(scenario, workflows, 5, slow_url, path="sql").run()
    fast_events, fast_rows, fast_steps = dump(fast_url)
    slow_events, slow_rows, slow_steps = dump(slow_url)
    triggers = {e["trigger"] for e in slow_events}
    # Every kind of command ran, on a few hundred dossiers.
    assert triggers >= {
        "receive", "complete_step", "request_supplement", "supplement", "request_payment",
        "pay", "resolve", "apologise", "dispatch_post", "return_result", "rate", "withdraw",
    }, triggers  # fmt: skip
    assert len(slow_rows) > 200
    # Same triggers, times, statuses, due dates, arguments and hashes, event by event.
    assert fast_events == slow_events
    assert fast_rows == slow_rows
    assert fast_steps == slow_steps
    assert fast.report == slow.report
    assert verify(Store(fast_url)) == []


def engine_over_memory(db_url: str, flush_events: int) -> tuple[Engine, MemoryStore, Store]:
    defs = Definitions.load(FIXTURES)
    db = Store(db_url, outbox=False)
    db.migrate()
    db.sync_definitions(defs.catalog)
    memory = MemoryStore(db, flush_events=flush_events)
    clock = ManualClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))
    return Engine(memory, defs.catalog, Calendar.vietnam(), clock), memory, db


def test_retired_dossiers_leave_memory_and_reach_the_database(db_url: str) -> None:
    engine, memory, db = engine_over_memory(db_url, flush_events=6)
    ids = [engine.receive_trusted("COPY", "W1").id for _ in range(3)]
    for dossier_id in ids[:2]:
        engine.execute_trusted("resolve", dossier_id)
        engine.execute_trusted("return_result", dossier_id)
    memory.retire(ids[0])  # 3 events waiting: below the flush size
    assert sorted(memory.rows) == ids
    memory.retire(ids[1])  # 6 events: both written, both dropped
    assert sorted(memory.rows) == [ids[2]]
    # Reads of a flushed dossier go to the database; a command on it is refused.
    assert engine.get(ids[0]).status.value == "returned"
    assert [e.trigger for e in engine.history(ids[0])] == ["receive", "resolve", "return_result"]
    with pytest.raises(UnknownDossier):
        engine.execute_trusted("rate", ids[0], {"score": 5})
    written, _, _ = dump(db_url)
    assert [(e["dossier_id"], e["trigger"]) for e in written] == [
        (ids[0], "receive"), (ids[0], "resolve"), (ids[0], "return_result"),
        (ids[1], "receive"), (ids[1], "resolve"), (ids[1], "return_result"),
    ]  # fmt: skip
    with memory.batch():  # the end of a run: the open dossier too
        engine.execute_trusted("resolve", ids[2])
    assert memory.rows == {}
    memory.retire(ids[2])  # a process ending after the run wrote everything: nothing to do
    assert memory.rows == {} and memory.written == [3, 8]
    # The database carries on after the ids given in memory.
    assert Engine(db, engine.catalog, engine.calendar, engine.clock).receive("COPY", "W1").id == 4
    assert verify(db) == []


def test_refused_work_changes_nothing_in_memory(tmp_path: Path) -> None:
    """A unit of work refused half-way (a stale version after a step was updated) leaves the
    dossier, its steps and its events as they were, as a rolled-back transaction."""
    engine, memory, _ = engine_over_memory(f"sqlite:///{tmp_path / 'm.db'}", 1000)
    d = engine.receive_trusted("COPY", "W1")
    row, steps = dict(memory.rows[d.id]), {k: dict(v) for k, v in memory.steps[d.id].items()}
    with pytest.raises(StaleVersion), memory.write(keyed=False) as uow:
        uow.update_step(d.id, 0, {"timeliness": "late"})
        uow.update_dossier(d.id, 7, {"status": "resolved"})
    with pytest.raises(InvalidTransition):
        engine.execute_trusted("pay", d.id, {"online": True})
    assert memory.rows[d.id] == row
    assert memory.steps[d.id] == steps
    assert [e["trigger"] for e in memory.events[d.id]] == ["receive"]
    with pytest.raises(ValidationError, match="idempotency"):
        engine.receive("COPY", "W1", idempotency_key="k1")


def test_the_lifecycle_remembers_only_what_the_machine_answered() -> None:
    """Every (trigger, facts) the machine allows is run through it once and remembered; the
    answers, and the refusals, are those of the machine asked afresh every time."""
    catalog = Definitions.load(FIXTURES).catalog
    for proc in (catalog.get("COPY"), catalog.get("LAND")):  # one step; several, by post
        warm, fresh = Lifecycle(proc), Lifecycle(proc)
        cases = [
            (trigger, Facts(state.value, step, steps, paused, post, apologies, most))
            for trigger in warm.triggers
            for state in warm.statuses
            for steps in (1, 2)
            for step in range(steps)
            for paused in (None, "processing")
            for post in (False, True)
            for apologies, most in ((0, 1), (1, 1), (1, 2))
        ]
        for trigger, facts in cases * 2:  # the second pass reads what the first remembered
            try:
                got: str = warm.fire(trigger, Facts(*facts_values(facts))).value
            except InvalidTransition as exc:
                got = f"refused: {exc}"
            fresh._allowed.clear()
            try:
                expected: str = fresh.fire(trigger, Facts(*facts_values(facts))).value
            except InvalidTransition as exc:
                expected = f"refused: {exc}"
            assert got == expected, (proc.code, trigger, facts_values(facts))


def facts_values(facts: Facts) -> tuple[Any, ...]:
    return (
        facts.state, facts.step, facts.steps, facts.paused_from, facts.return_by_post,
        facts.apologies, facts.max_apologies,
    )  # fmt: skip


def test_a_nested_batch_is_part_of_the_outer_one(tmp_path: Path) -> None:
    # A transfer inside a simulation opens its own batch: the open dossiers must stay in
    # memory until the outermost batch ends.
    engine, memory, _ = engine_over_memory(f"sqlite:///{tmp_path / 'nested.db'}", 50_000)
    assert memory.in_batch is False
    with memory.batch():
        dossier_id = engine.receive_trusted("COPY", "W1").id
        with memory.batch():
            assert memory.in_batch is True
        assert list(memory.rows) == [dossier_id]
        engine.execute_trusted("resolve", dossier_id)
    assert memory.rows == {} and memory.written == [1, 2]
    assert memory.in_batch is False
