"""Verification's memory: the peak resident memory of ``onestop verify`` over a log at two sizes
(flat if it streams the tables it checks), beside a floor read in the same run.

The log: one dossier taken through its whole lifecycle by the engine (receipt, three steps,
resolution, return: six events, three step rows, one alert), then cloned under new ids with its
chain recomputed under the audit key, so every clone verifies clean. Each verification runs in a
fresh process, so its peak resident memory (``VmHWM`` of ``/proc/self/status``) is its own; the
floor is a process that imports the same modules and streams the same events with ``sqlite3``,
checking nothing (Linux only).

Run: ``python -m benchmarks --only verify-memory`` (``--quick``: 2,000 and 20,000 dossiers).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from benchmarks.harness import Figure
from onestop.alerts import AlertSweeper
from onestop.audit_key import AuditKey
from onestop.clock import VN_TZ, ManualClock
from onestop.engine import Engine
from onestop.store.event_log import GENESIS, chain_hash
from onestop.store.schema import alerts, dossier_steps, dossiers, events

#: The benchmark's audit key (made up: it seals nothing real).
KEY_TEXT = "b7" * 32
_CLONES_PER_INSERT = 2_000


def generate(path: Path, count: int) -> int:
    """A SQLite log at ``path`` of ``count`` dossiers as described in the module doc; the
    number of events written."""
    key = AuditKey.from_text(KEY_TEXT)
    clock = ManualClock(datetime(2024, 3, 4, 8, 0, tzinfo=VN_TZ))
    engine = Engine.open(f"sqlite:///{path}", clock=clock, audit_key=key, unit_set="cantho-2024")
    catalog = engine.timeline.catalogs[0]
    procedure = next(p for p in catalog.procedures() if p.code == "district.birth-foreign")
    unit = catalog.units.units_at("district")[0].code
    first = engine.receive(procedure.code, unit)
    clock.advance(timedelta(days=2))  # past its appointment: one overdue alert, dossier-wide
    AlertSweeper(engine.store, clock, engine.calendar).sweep()
    for _ in range(first.step_count - 1):
        clock.advance(timedelta(hours=1))
        engine.complete_step(first.id)
    clock.advance(timedelta(hours=1))
    engine.resolve(first.id)
    clock.advance(timedelta(hours=1))
    engine.return_result(first.id)
    store = engine.store
    with store.engine.connect() as conn:
        row = dict(conn.execute(select(dossiers)).mappings().one())
        history = [dict(e) for e in conn.execute(select(events).order_by(events.c.seq)).mappings()]
        steps = [dict(s) for s in conn.execute(select(dossier_steps)).mappings()]
        raised = [dict(a) for a in conn.execute(select(alerts)).mappings()]
    for alert in raised:
        alert.pop("id")
    written = len(history)
    for start in range(2, count + 1, _CLONES_PER_INSERT):
        batch: dict[str, list[dict[str, Any]]] = {"d": [], "e": [], "s": [], "a": []}
        for case in range(start, min(start + _CLONES_PER_INSERT, count + 1)):
            previous = GENESIS
            for event in history:
                clone = {**event, "dossier_id": case}
                clone.pop("id")
                clone["hash"] = previous = chain_hash(previous, clone, key)
                batch["e"].append(clone)
            batch["d"].append({**row, "id": case, "event_hash": previous})
            batch["s"] += [{**s, "dossier_id": case} for s in steps]
            batch["a"] += [{**a, "dossier_id": case} for a in raised]
        with store.begin() as conn:
            conn.execute(insert(dossiers), batch["d"])
            conn.execute(insert(dossier_steps), batch["s"])
            conn.execute(insert(events), batch["e"])
            conn.execute(insert(alerts), batch["a"])
        written += len(batch["e"])
    store.dispose()
    return written


# Run in a fresh interpreter: one verification (or the floor's read), then seconds and peak RSS.
_CHILD = """
import json, sqlite3, sys, time
from pathlib import Path
mode, db, key_text = sys.argv[1:4]
from onestop.audit import audit
from onestop.audit_key import AuditKey
from onestop.store import Store
t0 = time.perf_counter()
if mode == "raw":
    con = sqlite3.connect(db)
    cur = con.execute("SELECT * FROM events ORDER BY dossier_id, seq")
    rows = 0
    while batch := cur.fetchmany(1000):
        rows += len(batch)
    problems = 0
else:
    report = audit(Store("sqlite:///" + db), AuditKey.from_text(key_text))
    problems = len(report.findings)
    rows = 0
seconds = time.perf_counter() - t0
status = Path("/proc/self/status").read_text()
peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
print(json.dumps({"seconds": seconds, "rows": rows, "problems": problems, "peak_kib": peak}))
"""


def _child(mode: str, db: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(db), KEY_TEXT],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def verify_memory(quick: bool, repeats: int) -> list[Figure]:
    """Peak RSS of a verification at two log sizes, beside the floor's at each size."""
    sizes = [2_000, 20_000] if quick else [10_000, 100_000]
    folder = Path(tempfile.mkdtemp(prefix="onestop-verify-bench-"))
    points: dict[int, dict[str, Any]] = {}
    try:
        for size in sizes:
            db = folder / f"log-{size}.db"
            t0 = time.perf_counter()
            count = generate(db, size)
            made = time.perf_counter() - t0
            runs = {mode: [_child(mode, db) for _ in range(repeats)] for mode in ("raw", "audit")}
            assert all(r["problems"] == 0 for r in runs["audit"]), runs["audit"]
            assert all(r["rows"] == count for r in runs["raw"]), (runs["raw"], count)
            points[size] = {
                "events": count,
                "generated_s": made,
                **{
                    mode: {
                        "peak_mib": max(r["peak_kib"] for r in found) / 1024,
                        "seconds": statistics.median(r["seconds"] for r in found),
                    }
                    for mode, found in runs.items()
                },
            }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    small, top = points[sizes[0]], points[sizes[-1]]
    growth = top["audit"]["peak_mib"] - small["audit"]["peak_mib"]
    floor_growth = top["raw"]["peak_mib"] - small["raw"]["peak_mib"]
    events_per_s = top["events"] / top["audit"]["seconds"]
    raw_per_s = top["events"] / top["raw"]["seconds"]
    return [
        Figure(
            f"verify peak RSS ({top['events']:,} events)", top["audit"]["peak_mib"],
            top["raw"]["peak_mib"], "MiB", False,
            f"flat in N: ≤ +16 MiB from {sizes[0]:,} to {sizes[-1]:,} dossiers "
            f"(floor grew {floor_growth:+.1f})",
            growth <= 16, {"points": {str(s): points[s] for s in sizes}, "growth_mib": growth},
        ),
        Figure(
            f"verify events/s ({top['events']:,} events)", events_per_s, raw_per_s, "ev/s", True,
            "reported (floor: sqlite3 streaming read of the events)", True,
            {"points": {str(s): points[s] for s in sizes}},
        ),
    ]  # fmt: skip
