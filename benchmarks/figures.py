"""Each performance figure, measured with its floor in the same run."""

from __future__ import annotations

import bisect
import heapq
import os
import random
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import floors, peer, sim_peers
from benchmarks.data import LEVELS, TIMELINESS, fill
from benchmarks.export import export
from benchmarks.harness import Figure, median_of, timed
from benchmarks.verify import verify_memory
from onestop import VN_TZ, Calendar, Definitions, Engine, ManualClock
from onestop.alerts import AlertSweeper
from onestop.dossier import Dossier
from onestop.lifecycle import Facts
from onestop.periods import Period
from onestop.reports import on_time_report
from onestop.rollups import rollup_report, snapshot_range
from onestop.store import Store
from onestop.store.schema import alerts
from onestop.testing import reset_postgres

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
PROC, UNIT = "commune.certify-copy", "92.NK.TANAN"
_DEFS: Definitions | None = None
_CAL: Calendar | None = None


def _defs() -> tuple[Definitions, Calendar]:
    global _DEFS, _CAL
    if _DEFS is None or _CAL is None:
        _DEFS = Definitions.load(WORKFLOWS)
        _CAL = Calendar.vietnam(overrides=_DEFS.overrides)
    return _DEFS, _CAL


def _engine(url: str, start: datetime | None = None) -> tuple[Engine, ManualClock]:
    defs, cal = _defs()
    clock = ManualClock(start or datetime(2025, 3, 3, 8, 0, tzinfo=VN_TZ))
    store = Store(url)
    store.migrate()
    store.sync_definitions(defs.catalog)
    return Engine(store, defs.catalog, cal, clock, dev=True), clock


def _fresh_engine(pg_url: str | None) -> Engine:
    """An engine on an empty database: the PostgreSQL one reset, or a new SQLite file."""
    if pg_url:
        reset_postgres(pg_url)
        return _engine(pg_url)[0]
    return _engine(f"sqlite:///{tempfile.mkdtemp()}/bench.db")[0]


def _loops(engine: Engine, n: int) -> int:
    """receive → complete_step → resolve → return, ``n`` times; returns commands run."""
    for _ in range(n):
        d = engine.receive(PROC, UNIT)
        d = engine.complete_step(d.id)
        d = engine.resolve(d.id)
        engine.return_result(d.id)
    return 4 * n


# -- floors: the same writes by the simplest code ---------------------------------------------

_FLOOR_DDL = [
    "CREATE TABLE d (id INTEGER PRIMARY KEY, status TEXT, version INTEGER, due TEXT)",
    "CREATE TABLE e (id INTEGER PRIMARY KEY, dossier_id INTEGER, seq INTEGER, trig TEXT, "
    "data TEXT)",
]
_TRIGGERS = [("complete_step", "processing"), ("resolve", "resolved"), ("return", "returned")]


def _floor_sqlite_durable(path: str, n: int) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    for ddl in _FLOOR_DDL:
        con.execute(ddl)
    t0 = time.perf_counter()
    for _ in range(n):
        con.execute("BEGIN IMMEDIATE")
        cur = con.execute("INSERT INTO d (status, version, due) VALUES ('received', 1, 'x')")
        did = cur.lastrowid
        con.execute(
            "INSERT INTO e (dossier_id, seq, trig, data) VALUES (?, 1, 'receive', '{}')", (did,)
        )
        con.execute("COMMIT")
        for seq, (trig, status) in enumerate(_TRIGGERS, start=2):
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                "UPDATE d SET status=?, version=? WHERE id=? AND version=?",
                (status, seq, did, seq - 1),
            )
            con.execute(
                "INSERT INTO e (dossier_id, seq, trig, data) VALUES (?, ?, ?, '{}')",
                (did, seq, trig),
            )
            con.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    con.close()
    return 4 * n / elapsed


def _floor_pg_durable(url: str, n: int) -> float:
    import psycopg

    reset_postgres(url)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE TABLE d (id BIGSERIAL PRIMARY KEY, status TEXT, version INT, due TEXT)")
        con.execute(
            "CREATE TABLE e (id BIGSERIAL PRIMARY KEY, dossier_id BIGINT, seq INT, trig TEXT, "
            "data TEXT)"
        )
        t0 = time.perf_counter()
        for _ in range(n):
            with con.transaction():
                inserted = con.execute(
                    "INSERT INTO d (status, version, due) VALUES ('received', 1, 'x') RETURNING id"
                ).fetchone()
                assert inserted is not None  # INSERT ... RETURNING gives one row
                did = inserted[0]
                con.execute(
                    "INSERT INTO e (dossier_id, seq, trig, data) VALUES (%s, 1, 'receive', '{}')",
                    (did,),
                )
            for seq, (trig, status) in enumerate(_TRIGGERS, start=2):
                with con.transaction():
                    con.execute(
                        "UPDATE d SET status=%s, version=%s WHERE id=%s AND version=%s",
                        (status, seq, did, seq - 1),
                    )
                    con.execute(
                        "INSERT INTO e (dossier_id, seq, trig, data) VALUES (%s, %s, %s, '{}')",
                        (did, seq, trig),
                    )
        return 4 * n / (time.perf_counter() - t0)


# -- figures -----------------------------------------------------------------------------------


def _captured(pg_url: str | None, batch: bool) -> floors.Capture:
    """The statements onestop sends for one loop (on a scratch database of the backend)."""
    engine = _fresh_engine(pg_url)
    _loops(engine, 2)  # warm caches, so the capture holds the steady-state statements
    steps: list[Callable[[int], Dossier]] = [
        lambda _: engine.receive(PROC, UNIT),
        engine.complete_step,
        engine.resolve,
        engine.return_result,
    ]
    captured = floors.capture(engine, steps, batch)
    engine.store.dispose()
    return captured


def _replayed(pg_url: str | None, captured: floors.Capture, n: int, batch: bool) -> float:
    if pg_url:
        return floors.replay_postgres(pg_url, captured, n, batch)
    return floors.replay_sqlite(os.path.join(tempfile.mkdtemp(), "replay.db"), captured, n, batch)


def durable(quick: bool, repeats: int, pg_url: str | None = None) -> Figure:
    """1 (and 8): durable commands/s, one transaction per command. Floor: the bare driver
    replaying onestop's own statements (:mod:`benchmarks.floors`); the narrow floor (two
    four-column tables, no index) is in the notes."""
    n = 150 if quick else 1000

    def engine_run() -> float:
        engine = _fresh_engine(pg_url)
        _loops(engine, 10)  # warm caches
        t0 = time.perf_counter()
        commands = _loops(engine, n)
        rate = commands / (time.perf_counter() - t0)
        engine.store.dispose()
        return rate

    def narrow_run() -> float:
        if pg_url:
            return _floor_pg_durable(pg_url, n)
        return _floor_sqlite_durable(os.path.join(tempfile.mkdtemp(), "floor.db"), n)

    captured = _captured(pg_url, batch=False)
    value, samples = median_of(repeats, engine_run)
    floor, floor_samples = median_of(repeats, lambda: _replayed(pg_url, captured, n, False))
    narrow, _ = median_of(repeats, narrow_run)
    name = "durable commands/s" + (" (PostgreSQL)" if pg_url else " (SQLite WAL)")
    most = 3 if pg_url else 5
    fig = Figure(
        name,
        value,
        floor,
        "cmd/s",
        True,
        f"≥ 5,000/s and ≤ {most}× floor" if not pg_url else "≤ 3× floor",
        False,
        {
            "loops": n,
            "samples": samples,
            "floor_samples": floor_samples,
            "statements_per_loop": sum(len(t) for t in captured.transactions),
            "narrow_floor": narrow,
            "narrow_ratio": narrow / value,
        },
    )
    if not pg_url:
        fig.notes["wal_pages_per_command"] = floors.wal_pages_per_commit(captured)
    fig.passed = fig.ratio <= most and (bool(pg_url) or value >= 5000)
    return fig


def bulk(quick: bool, repeats: int, pg_url: str | None = None) -> Figure:
    """2 (and 8): transitions/s in one Engine.batch(). Floor: the bare driver replaying the
    batch's statements in one transaction (the events in one executemany, as onestop); the
    narrow batched floor (executemany on two four-column tables) is in the notes."""
    n = 500 if quick else 5000

    def engine_run() -> float:
        engine = _fresh_engine(pg_url)
        t0 = time.perf_counter()
        with engine.batch():
            commands = _loops(engine, n)
        rate = commands / (time.perf_counter() - t0)
        engine.store.dispose()
        return rate

    def narrow_run() -> float:
        table = {
            ("new", "receive"): "received",
            ("received", "complete_step"): "processing",
            ("processing", "resolve"): "resolved",
            ("resolved", "return"): "returned",
        }
        con = sqlite3.connect(os.path.join(tempfile.mkdtemp(), "bulkfloor.db"))
        con.execute("PRAGMA journal_mode=WAL")
        for ddl in _FLOOR_DDL:
            con.execute(ddl)
        t0 = time.perf_counter()
        states: dict[int, str] = {}
        updates, inserts = [], []
        for i in range(n):
            state = "new"
            for seq, trig in enumerate(("receive", "complete_step", "resolve", "return"), 1):
                state = table[(state, trig)]
                updates.append((state, seq, i))
                inserts.append((i, seq, trig))
            states[i] = state
        con.executemany(
            "INSERT INTO d (id, status, version, due) VALUES (?, 'new', 0, 'x')",
            [(i,) for i in range(n)],
        )
        con.executemany("UPDATE d SET status=?, version=? WHERE id=?", updates)
        con.executemany(
            "INSERT INTO e (dossier_id, seq, trig, data) VALUES (?, ?, ?, '{}')", inserts
        )
        con.commit()
        rate = 4 * n / (time.perf_counter() - t0)
        con.close()
        return rate

    captured = _captured(pg_url, batch=True)
    value, samples = median_of(repeats, engine_run)
    floor, floor_samples = median_of(repeats, lambda: _replayed(pg_url, captured, n, True))
    narrow, _ = median_of(repeats, narrow_run)
    name = "bulk transitions/s" + (" (PostgreSQL)" if pg_url else " (SQLite)")
    fig = Figure(
        name,
        value,
        floor,
        "tr/s",
        True,
        "≥ 50,000/s and ≤ 5× floor",
        False,
        {
            "loops": n,
            "samples": samples,
            "floor_samples": floor_samples,
            "statements_per_loop": sum(len(t) for t in captured.transactions),
            "narrow_floor": narrow,
            "narrow_ratio": narrow / value,
        },
    )
    fig.passed = value >= 50_000 and fig.ratio <= 5
    return fig


def dispatch(quick: bool, repeats: int) -> list[Figure]:
    """3: transition dispatch on the shared Machine vs a dict FSM; memory per open dossier."""
    defs, _ = _defs()
    lifecycle = defs.catalog.lifecycle(defs.catalog.get(PROC))
    n = 20_000 if quick else 200_000

    def machine_run() -> float:
        facts = Facts("received", 0, 2)
        t0 = time.perf_counter()
        for _ in range(n // 2):
            lifecycle.fire("request_supplement", facts)
            facts.paused_from = "received"
            lifecycle.fire("supplement", facts)
        return (time.perf_counter() - t0) / n * 1e6

    def dict_run() -> float:
        table = {
            ("received", "request_supplement"): "supplement_requested",
            ("supplement_requested", "supplement"): "received",
        }
        state = "received"
        t0 = time.perf_counter()
        for _ in range(n // 2):
            state = table[(state, "request_supplement")]
            state = table[(state, "supplement")]
        return (time.perf_counter() - t0) / n * 1e6

    value, _ = median_of(repeats, machine_run)
    floor, _ = median_of(repeats, dict_run)
    speed = Figure(
        "transition dispatch",
        value,
        floor,
        "µs",
        False,
        "no goal set; one Machine per procedure version",
        True,
        {"transitions": n},
    )

    count = 10_000 if quick else 100_000
    template: dict[str, Any] = {f: None for f in Dossier.__slots__}
    template.update(status="processing", timeliness=None, id=0)

    class Bare:
        __slots__ = tuple(Dossier.__slots__)

    def per_object(make: Callable[[int], Any]) -> float:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        keep = [make(i) for i in range(count)]
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        size = sum(s.size_diff for s in after.compare_to(before, "filename"))
        del keep
        return size / count

    def make_dossier(i: int) -> Dossier:
        return Dossier.from_row({**template, "id": i})

    def make_bare(i: int) -> Bare:
        b = Bare()
        row = {**template, "id": i}
        for f in Bare.__slots__:
            setattr(b, f, row[f])
        return b

    mem = per_object(make_dossier)
    mem_floor = per_object(make_bare)
    memory = Figure(
        "memory per open dossier",
        mem,
        mem_floor,
        "B",
        False,
        "no per-dossier machine: ≤ 2× a __slots__ record",
        mem <= 2 * mem_floor,
        {"objects": count, "machines": len(defs.catalog.all_versions())},
    )
    return [speed, memory]


def simulation(quick: bool, repeats: int) -> Figure:
    """4: dossiers/s simulating cantho-2024.yaml over a year (scaled), the fast path (the
    kernel, events written) beside the engine over an in-memory store; and two replications in
    two processes (the runner's parallel path, figures only: it writes events only for
    ``--db``), from which a 1,000,000-dossier city-year is extrapolated.
    Floor: a heapq M/M/c loop with the same number of arrivals."""
    from onestop.sim.model import CommandPath, Simulation
    from onestop.sim.runner import load_scenario, run_replications

    scenario_file = WORKFLOWS.parent / "simulations" / "cantho-2024.yaml"
    days, scale = (30, 0.02) if quick else (366, 0.03)
    counts: list[int] = []
    held: list[int] = []

    def engine_run(path: CommandPath) -> float:
        scenario, workflows = load_scenario(scenario_file, days, scale)
        defs, cal = _defs()
        sim = Simulation(scenario, workflows, 1, definitions=defs, calendar=cal, path=path)
        result = sim.run()
        counts.append(result.dossiers)
        if sim.kernel is not None:
            held.append(sim.kernel.peak)
        return result.dossiers / result.wall_seconds

    def floor_run() -> float:
        n = counts[-1] if counts else 1000
        rng = random.Random(1)
        c, t, busy, waiting = 50, 0.0, 0, 0
        events: list[tuple[float, int]] = []
        t0 = time.perf_counter()
        for _ in range(n):
            t += rng.expovariate(40.0)
            heapq.heappush(events, (t, 0))
        while events:
            now, kind = heapq.heappop(events)
            if kind == 0 and busy < c:
                busy += 1
                heapq.heappush(events, (now + rng.expovariate(1.0), 1))
            elif kind == 0:
                waiting += 1
            elif waiting:
                waiting -= 1
                heapq.heappush(events, (now + rng.expovariate(1.0), 1))
            else:
                busy -= 1
        return n / (time.perf_counter() - t0)

    value, samples = median_of(repeats, lambda: engine_run("kernel"))
    memory, _ = median_of(repeats, lambda: engine_run("memory"))
    floor, _ = median_of(repeats, floor_run)
    t0 = time.perf_counter()
    summary = run_replications(scenario_file, replications=2, jobs=2, days=days, scale=scale)
    wall = time.perf_counter() - t0  # process start-up and definitions loading included
    parallel = 2 * summary["dossiers_per_replication"]["mean"] / wall
    city_year = 1_000_000 / parallel
    return Figure(
        "simulation dossiers/s (cantho-2024, a year)", value, floor, "doss/s", True,
        f"city-year (1M) ≤ 60 s on 2 cores: {city_year:,.0f} s extrapolated; "
        f"engine over memory {memory:,.0f}/s ({value / memory:.1f}×)",
        city_year <= 60,
        {"dossiers": counts[-1] if counts else 0, "days": days, "scale": scale,
         "memory_path": memory, "times_memory_path": value / memory,
         "two_processes_per_second": parallel,
         "two_processes_wall_seconds": wall, "city_year_seconds_two_processes": round(city_year),
         "most_dossiers_in_memory": max(held, default=0),
         "samples": samples},
    )  # fmt: skip


def _report_point(n: int, repeats: int) -> dict[str, float]:
    import numpy as np

    store = fill(Path(tempfile.mkdtemp()) / "report.db", n)
    snapshot_range(store, date(2024, 1, 1), date(2024, 12, 31), datetime.now(VN_TZ))
    period = Period.parse("2024")
    rng = np.random.default_rng(1)
    level, timeliness = rng.integers(0, 3, n), rng.integers(0, 3, n)
    live_s, _ = median_of(repeats, lambda: timed(lambda: on_time_report(store, period)))
    rolled_s, _ = median_of(repeats, lambda: timed(lambda: rollup_report(store, period)))
    floor_s, _ = median_of(
        repeats, lambda: timed(lambda: np.bincount(level * 3 + timeliness, minlength=9))
    )
    store.dispose()
    return {"live_s": live_s, "rollups_s": rolled_s, "numpy_floor_s": floor_s}


def report(quick: bool, repeats: int) -> Figure:
    """5: on-time by level over N dossiers, live and from rollups; floor: numpy bincount."""
    sizes = [20_000, 100_000] if quick else [100_000, 1_000_000]
    curve = {str(n): _report_point(n, repeats) for n in sizes}
    top, bottom = curve[str(sizes[-1])], curve[str(sizes[0])]
    flat = top["rollups_s"] <= 3 * bottom["rollups_s"] + 0.01
    value = top["rollups_s"] * 1000
    return Figure(
        f"report by level ({sizes[-1]:,} dossiers, rollups)", value,
        top["numpy_floor_s"] * 1000, "ms", False, "≤ 500 ms at 10M, flat in N",
        value <= 500 and flat, {"curve": curve, "levels": LEVELS, "classes": TIMELINESS},
    )  # fmt: skip


# The overdue predicate (onestop.timeliness.is_overdue) in the plainest SQL.
_DUE_SQL = (
    "SELECT id FROM dossiers WHERE status IN ('received','processing','supplement_requested',"
    "'payment_requested','suspended') AND due_at < ? AND (paused_at IS NULL OR due_at < paused_at)"
)


def _sweep_point(n: int, due: int, now: datetime, repeats: int) -> dict[str, float]:
    defs, cal = _defs()
    path = Path(tempfile.mkdtemp()) / "sweep.db"
    store = fill(path, n, open_share=1.0, due_now=due, now=now)
    sweeper = AlertSweeper(store, ManualClock(now), cal)

    def run() -> float:
        with store.begin() as conn:
            conn.execute(alerts.delete())
        return timed(sweeper.sweep)

    cutoff = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    con = sqlite3.connect(path)
    sweep_s, _ = median_of(repeats, run)
    raw_s, _ = median_of(repeats, lambda: timed(con.execute(_DUE_SQL, (cutoff,)).fetchall))
    con.close()
    store.dispose()
    return {"sweep_ms": sweep_s * 1000, "raw_select_ms": raw_s * 1000}


def sweep(quick: bool, repeats: int) -> Figure:
    """6: one overdue sweep over N open dossiers of which 1k became due; floor: raw SELECT."""
    sizes = [10_000, 100_000] if quick else [100_000, 1_000_000]
    due = 1000
    now = datetime(2024, 12, 31, 9, 0, tzinfo=VN_TZ)
    curve = {str(n): _sweep_point(n, due, now, repeats) for n in sizes}
    top, bottom = curve[str(sizes[-1])], curve[str(sizes[0])]
    grows_with_due = top["sweep_ms"] <= 3 * bottom["sweep_ms"] + 5
    return Figure(
        f"overdue sweep ({sizes[-1]:,} open, {due:,} due)", top["sweep_ms"],
        top["raw_select_ms"], "ms", False, "≤ 50 ms, grows with due rows not dossiers",
        top["sweep_ms"] <= 50 and grows_with_due, {"curve": curve, "due": due},
    )  # fmt: skip


def calendar(quick: bool, repeats: int) -> Figure:
    """7: add_working_days µs per call vs a bisect over a precomputed list."""
    _, cal = _defs()
    n = 20_000 if quick else 200_000
    rng = random.Random(3)
    starts = [
        datetime(2020, 1, 1, 7, tzinfo=VN_TZ) + timedelta(minutes=rng.randrange(0, 10 * 525_600))
        for _ in range(1000)
    ]
    days = [rng.randrange(1, 80) / 2 for _ in range(1000)]
    work = [d.toordinal() for d in cal.working_days(date(2015, 1, 1), date(2040, 12, 31))]

    def engine_run() -> float:
        t0 = time.perf_counter()
        for i in range(n):
            cal.add_working_days(starts[i % 1000], days[i % 1000])
        return (time.perf_counter() - t0) / n * 1e6

    def floor_run() -> float:
        # The simplest O(log n) version: find the day's index, step, map back; whole days only.
        t0 = time.perf_counter()
        for i in range(n):
            s = starts[i % 1000]
            k = bisect.bisect_left(work, s.toordinal()) + int(days[i % 1000])
            date.fromordinal(work[min(k, len(work) - 1)])
        return (time.perf_counter() - t0) / n * 1e6

    value, _ = median_of(repeats, engine_run)
    floor, _ = median_of(repeats, floor_run)
    return Figure(
        "calendar add_working_days",
        value,
        floor,
        "µs",
        False,
        "≤ 2× floor",
        value <= 2 * floor,
        {"calls": n},
    )


def peer_figure(quick: bool, repeats: int) -> Figure:
    """9: cases/s of receive → complete_step → resolve → return, one transaction per command,
    beside SpiffWorkflow persisting its JSON after each task (optional peer, in the notes).
    Floor: the bare driver replaying onestop's statements."""
    n = 200 if quick else 2000

    def engine_run() -> float:
        engine = _fresh_engine(None)
        _loops(engine, 10)  # warm caches
        t0 = time.perf_counter()
        _loops(engine, n)
        rate = n / (time.perf_counter() - t0)
        engine.store.dispose()
        return rate

    captured = _captured(None, batch=False)
    value, samples = median_of(repeats, engine_run)
    floor, _ = median_of(repeats, lambda: _replayed(None, captured, n, False) / 4)
    notes: dict[str, Any] = {"cases": n, "samples": samples}
    if not peer.available():
        notes["skipped"] = peer.SKIPPED
        goal, passed = f"≥ 2× SpiffWorkflow: {peer.SKIPPED}", False
    else:
        spiff, spiff_samples = median_of(repeats, lambda: peer.spiff_cases_per_second(n))
        notes.update(spiff=spiff, spiff_samples=spiff_samples, times_spiff=value / spiff)
        goal = f"≥ 2× SpiffWorkflow ({spiff:,.0f}/s): {value / spiff:.2f}×"
        passed = value >= 2 * spiff
    return Figure("peer: cases/s, persisted (SQLite)", value, floor, "case/s", True, goal, passed,
                  notes)  # fmt: skip


def _sim_peer(activities: int, quick: bool, repeats: int) -> Figure:
    """cases/s of the simulator on M/M/3 (one activity, or three in tandem): the fast path
    (the kernel: the engine's law on rows in memory, events sealed in bulk; the figure) beside
    the kernel without events (figures only), the engine over memory, the engine over SQL,
    Prosimos and bare SimPy (the floor), all in this run."""
    n = 1000 if quick else 5000
    name = "M/M/3" if activities == 1 else "3 × M/M/3 tandem"
    value, samples = median_of(
        repeats, lambda: sim_peers.onestop_cases_per_second(activities, n, "kernel")
    )
    figures_only, _ = median_of(
        repeats, lambda: sim_peers.onestop_cases_per_second(activities, n, "kernel", False)
    )
    memory, _ = median_of(
        repeats, lambda: sim_peers.onestop_cases_per_second(activities, n, "memory")
    )
    sql, _ = median_of(repeats, lambda: sim_peers.onestop_cases_per_second(activities, n, "sql"))
    floor, _ = median_of(repeats, lambda: sim_peers.simpy_cases_per_second(activities, n))
    notes: dict[str, Any] = {
        "cases": n, "samples": samples, "figures_only": figures_only, "memory_path": memory,
        "sql_path": sql,
        "times_memory_path": value / memory, "times_sql_path": value / sql,
        "times_simpy": value / floor,
    }  # fmt: skip
    python = sim_peers.prosimos_python()
    if python is None:
        notes["skipped"] = sim_peers.SKIPPED
        goal, passed = f"≥ 2× Prosimos: {sim_peers.SKIPPED}; {value / sql:.1f}× the SQL path", False
    else:
        pros, pros_samples = median_of(
            repeats, lambda: sim_peers.prosimos_cases_per_second(activities, n, python)
        )
        notes.update(prosimos=pros, prosimos_samples=pros_samples, times_prosimos=value / pros)
        goal = (
            f"≥ 2× Prosimos ({pros:,.0f}/s): {value / pros:.2f}× "
            f"(figures only, no events: {figures_only:,.0f}/s, {figures_only / pros:.2f}×); "
            f"engine over memory {memory:,.0f}/s ({value / memory:.1f}×), "
            f"over SQL {sql:,.0f}/s ({value / sql:.1f}×)"
        )
        passed = value >= 2 * pros
    return Figure(f"simulation cases/s, {name}", value, floor, "case/s", True, goal, passed, notes)


def sim_mm3(quick: bool, repeats: int) -> Figure:
    """10: the simulator on a single-activity M/M/3, beside Prosimos and bare SimPy."""
    return _sim_peer(1, quick, repeats)


def sim_tandem(quick: bool, repeats: int) -> Figure:
    """11: the simulator on three M/M/3 activities in tandem, beside Prosimos and bare SimPy."""
    return _sim_peer(3, quick, repeats)


ALL: dict[str, Callable[[bool, int], Figure | list[Figure]]] = {
    "durable": durable,
    "bulk": bulk,
    "peer": peer_figure,
    "dispatch": dispatch,
    "simulation": simulation,
    "sim_mm3": sim_mm3,
    "sim_tandem": sim_tandem,
    "report": report,
    "sweep": sweep,
    "calendar": calendar,
    "export": export,
    "verify-memory": verify_memory,
}
