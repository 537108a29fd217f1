"""The benchmarks' generated databases still fit the schema and read back whole.

Benchmarks are not run by the suite (they time things); their data generators write raw SQL
against the schema, so a migration can break them silently (the export benchmark's did when
0014 moved applicants to the vault). These run each generator small and read the result back
through the code the benchmark measures.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from benchmarks import export as export_bench
from benchmarks import verify as verify_bench

ROOT = Path(__file__).parent.parent


def test_the_export_benchmarks_database_exports_every_event(tmp_path: Path) -> None:
    db = tmp_path / "export.db"
    # 10 dossiers of 7 events each (the generator's fixed route).
    assert export_bench.generate(db, 70) == 70
    out = tmp_path / "log.xes"
    done = subprocess.run(
        [sys.executable, "-c", export_bench._CHILD, "xes", str(db), str(out), "unused"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert json.loads(done.stdout.strip().splitlines()[-1])["rows"] == 70
    # Every applicant is pseudonymised from the vault row the generator wrote: ten citizens.
    text = out.read_text()
    pseudonyms = {part.split('"')[0] for part in text.split('key="onestop:applicant" value="')[1:]}
    assert len(pseudonyms) == 10


def test_the_verify_benchmarks_database_verifies_clean(tmp_path: Path) -> None:
    db = tmp_path / "verify.db"
    events = verify_bench.generate(db, 3)
    done = subprocess.run(
        [sys.executable, "-c", verify_bench._CHILD, "audit", str(db), verify_bench.KEY_TEXT],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert json.loads(done.stdout.strip().splitlines()[-1])["problems"] == 0
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (events,)
        assert con.execute("SELECT count(DISTINCT dossier_id) FROM events").fetchone() == (3,)
