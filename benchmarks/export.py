"""Event-log export: events/s per format beside a raw streaming read of the same rows, and the
peak memory of an export at two sizes (flat if the writers stream).

The log is generated straight into a migrated SQLite store with ``sqlite3`` (as
:mod:`benchmarks.data` does for the report figures): dossiers of a five-step inter-agency route,
each with seven events (receive, four hand-overs, resolve, return) and five steps. Each export
runs in a fresh process, so its peak resident memory (``VmHWM`` of ``/proc/self/status``) is its
own; the floor of that figure is a process that imports the same modules, reads the same rows
with ``sqlite3`` and writes nothing (Linux only).
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import Figure, child_figures
from onestop.clock import VN_TZ
from onestop.store import Store

#: Events per generated dossier (receive, four hand-overs, resolve, return).
EVENTS_PER_DOSSIER = 7
_STEPS = (("receive", "U.DESK"), ("review", "U.LAND"), ("tax", "U.TAX"),
          ("register", "U.LAND"), ("return", "U.DESK"))  # fmt: skip
FORMATS = ("xes", "ocel2-json", "ocel2-sqlite")
_DOSSIER_SQL = (
    "INSERT INTO dossiers (id, unit_set, rule_set, procedure_code, procedure_version, field, "
    "level, competent_unit, intake_unit, intake_mode, channel, return_method, applicant_ref, "
    "status, status_code, step_index, step_count, current_agency, "
    "received_at, received_on, due_at, apologies, resolved_at, resolved_on, timeliness, "
    "returned_at, created_at, updated_at, version) VALUES "
    "(?, 'bench', 'decree-61-2018', 'P', 1, 'land', 'district', ?, ?, 'normal', 'counter', "
    "'counter', ?, 'returned', 10, 4, 5, 'U.DESK', ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, 7)"
)
# The vault's row of each applicant: only the blind index the export reads (no ciphertext).
_VAULT_SQL = (
    "INSERT INTO personal_data (ref, dossier_id, key_id, id_index, created_at, updated_at) "
    "VALUES (?, ?, 'bench', ?, ?, ?)"
)
_EVENT_SQL = (
    "INSERT INTO events (dossier_id, seq, at, trigger, from_status, to_status, step_index, "
    "agency, unit, data, due_at, apologies) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, 0)"
)
_STEP_SQL = (
    "INSERT INTO dossier_steps (dossier_id, seq, step_code, agency, started_at, due_at, "
    "completed_at, timeliness) VALUES (?, ?, ?, ?, ?, ?, ?, 'early')"
)
# The rows an export reads, in its order, with plain sqlite3 (the floor).
_RAW_READ = (
    "SELECT d.id, d.procedure_code, d.competent_unit, p.id_index, e.id, e.at, "
    "e.trigger, e.from_status, e.to_status, e.step_index, e.agency, e.due_at "
    "FROM dossiers d JOIN events e ON e.dossier_id = d.id "
    "LEFT JOIN personal_data p ON p.dossier_id = d.id ORDER BY d.id, e.seq"
)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(path: Path, events: int, seed: int = 3) -> int:
    """A migrated SQLite store at ``path`` holding about ``events`` events of 2024; returns the
    number of events written."""
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    n = events // EVENTS_PER_DOSSIER
    start = datetime(2024, 1, 1, 8, tzinfo=VN_TZ)
    ds: list[tuple[Any, ...]] = []
    es: list[tuple[Any, ...]] = []
    ss: list[tuple[Any, ...]] = []
    vs: list[tuple[Any, ...]] = []
    statuses = ["received", *["processing"] * 4, "resolved", "returned"]
    for i in range(1, n + 1):
        t0 = start + timedelta(minutes=rng.randrange(360 * 24 * 60))
        unit = f"92.U{rng.randrange(9)}"
        times = [t0 + timedelta(hours=3 * k) for k in range(EVENTS_PER_DOSSIER)]
        due = t0 + timedelta(days=14)
        ds.append((
            i, unit, unit, f"ref-{i}", _utc(t0), t0.date().isoformat(),
            _utc(due), _utc(times[5]), times[5].date().isoformat(), "early", _utc(times[6]),
            _utc(t0), _utc(times[6]),
        ))  # fmt: skip
        triggers = ["receive", *["complete_step"] * 4, "resolve", "return_result"]
        for seq in range(EVENTS_PER_DOSSIER):
            step = min(seq, 4)
            before = "new" if seq == 0 else statuses[seq - 1]
            es.append((
                i, seq + 1, _utc(times[seq]), triggers[seq], before, statuses[seq], step,
                _STEPS[step][1], unit if seq == 0 else None, _utc(due),
            ))  # fmt: skip
        vs.append((f"ref-{i}", i, f"{rng.getrandbits(256):064x}", _utc(t0), _utc(t0)))
        for seq, (code, agency) in enumerate(_STEPS):
            ss.append((i, seq, code, agency, _utc(times[seq]), _utc(due), _utc(times[seq + 1])))
        if len(ds) >= 20_000:
            _flush(con, ds, es, ss, vs)
    _flush(con, ds, es, ss, vs)
    con.commit()
    con.close()
    return n * EVENTS_PER_DOSSIER


def _flush(
    con: sqlite3.Connection, ds: list[Any], es: list[Any], ss: list[Any], vs: list[Any]
) -> None:
    con.executemany(_DOSSIER_SQL, ds)
    con.executemany(_VAULT_SQL, vs)
    con.executemany(_EVENT_SQL, es)
    con.executemany(_STEP_SQL, ss)
    for rows in (ds, es, ss, vs):
        rows.clear()


# Run in a fresh interpreter: one export (or the raw read), then seconds and peak RSS as JSON.
_CHILD = """
import json, sqlite3, sys, time
from pathlib import Path
mode, db, out = sys.argv[1:4]
if mode == "raw":
    # onestop imported as for an export (the memory floor includes the interpreter's baseline).
    import onestop.export_ocel, onestop.export_xes, onestop.store  # noqa: F401
    t0 = time.perf_counter()
    con = sqlite3.connect(db)
    cur = con.execute(sys.argv[4])
    rows = 0
    while batch := cur.fetchmany(1000):
        rows += len(batch)
    seconds = time.perf_counter() - t0
else:
    from onestop.export_log import export_log
    from onestop.periods import Period
    from onestop.store import Store
    store = Store("sqlite:///" + db)
    t0 = time.perf_counter()
    written = export_log(store, mode, Period.parse("2024"), Path(out), key=b"k" * 32)
    seconds = time.perf_counter() - t0
    rows = written[0].events
# VmHWM: this process image's peak RSS (ru_maxrss would carry the parent's over exec).
status = Path("/proc/self/status").read_text()
peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
print(json.dumps({"seconds": seconds, "rows": rows, "peak_kib": peak}))
"""


def _child(mode: str, db: Path, out: Path) -> dict[str, float]:
    return child_figures(_CHILD, mode, str(db), str(out), _RAW_READ)


def export(quick: bool, repeats: int) -> list[Figure]:
    """Export events/s per format beside a raw ``sqlite3`` read of the same rows, at the larger
    size; peak memory at both sizes."""
    sizes = [20_000, 100_000] if quick else [100_000, 1_000_000]
    folder = Path(tempfile.mkdtemp(prefix="onestop-export-bench-"))
    points: dict[int, dict[str, dict[str, float]]] = {}
    try:
        for size in sizes:
            db = folder / f"log-{size}.db"
            events = generate(db, size)
            point: dict[str, dict[str, float]] = {}
            for mode in ("raw", *FORMATS):
                out = folder / f"out-{size}.{mode}"
                runs = [_child(mode, db, out) for _ in range(repeats)]
                assert all(r["rows"] == events for r in runs), (mode, runs, events)
                seconds = statistics.median(r["seconds"] for r in runs)
                peak = max(r["peak_kib"] for r in runs) / 1024
                point[mode] = {"events_per_s": events / seconds, "peak_mib": peak}
                point[mode]["events"] = events
                point[mode]["bytes"] = out.stat().st_size if out.exists() else 0
                out.unlink(missing_ok=True)
            points[size] = point
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    top, small = points[sizes[-1]], points[sizes[0]]
    raw = top["raw"]
    figures = []
    for fmt in FORMATS:
        f = top[fmt]
        figures.append(
            Figure(
                f"export {fmt} events/s ({int(f['events']):,} events)", f["events_per_s"],
                raw["events_per_s"], "ev/s", True, "reported (floor: sqlite3 streaming read)",
                True, {"curve": {str(s): points[s][fmt] for s in sizes}},
            )
        )  # fmt: skip
        growth = f["peak_mib"] - small[fmt]["peak_mib"]
        figures.append(
            Figure(
                f"export {fmt} peak RSS ({int(f['events']):,} events)", f["peak_mib"],
                raw["peak_mib"], "MiB", False,
                f"flat in N: ≤ +64 MiB from {sizes[0]:,} to {sizes[-1]:,} events",
                growth <= 64,
                {"peak_mib_by_size": {str(s): points[s][fmt]["peak_mib"] for s in sizes},
                 "floor_mib_by_size": {str(s): points[s]["raw"]["peak_mib"] for s in sizes}},
            )
        )  # fmt: skip
    return figures
