"""Crash safety: SIGKILL a writer at random points; nothing acknowledged is lost or doubled."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

from onestop.audit import verify
from onestop.authority import Authority
from onestop.definitions import Definitions
from onestop.store import Store
from onestop.store.schema import dossiers, events, idempotency_keys
from onestop.vault import load_vault_key

from .crash_writer import FIXTURES, stream

WRITER = Path(__file__).with_name("crash_writer.py")
DOSSIERS = 300
KILLS = 6


def run_writer(db: Path, kill_after: float | None) -> tuple[list[str], bool]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(db), str(DOSSIERS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    if kill_after is not None:
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    if kill_after is None:
        assert proc.returncode == 0, err
    acks = [line.split()[2] for line in out.splitlines() if line.startswith("ack ")]
    return acks, "done" in out


def test_sigkill_at_random_points_loses_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    rng = random.Random(7)
    acknowledged: set[str] = set()
    kills = 0
    for _ in range(KILLS):
        acks, done = run_writer(db, kill_after=rng.uniform(0.7, 2.2))
        acknowledged |= set(acks)
        kills += not done
    acks, done = run_writer(db, kill_after=None)
    assert done
    acknowledged |= set(acks)
    assert kills >= 3  # most runs were really cut short
    print(f"{kills} kills survived, {len(acknowledged)} acknowledged commands checked")

    # Keys are stored scoped to (user, command, dossier): the writer names no user.
    scope = Authority(None, Definitions.load(FIXTURES).catalog.units, directory=False,
                      vault=load_vault_key())  # fmt: skip
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        query = select(idempotency_keys.c.key, idempotency_keys.c.dossier_id)
        by_key = {key: dossier for key, dossier in conn.execute(query)}
        keys = set(by_key)
        ids = {k: by_key[scope.scoped_key(None, None, "receive", None, f"{k}:{k}:receive")]
               for k in range(DOSSIERS)}  # fmt: skip

        def stored(ack: str) -> str:
            k, _, command = ack.split(":")
            dossier = None if command == "receive" else ids[int(k)]
            return scope.scoped_key(None, None, command, dossier, ack)

        # Every acknowledged command is stored exactly once (the key is the primary key) ...
        assert {stored(a) for a in acknowledged} <= keys
        assert len(keys) == len(stream(DOSSIERS))
        # ... and applied exactly once: one event per command, no more.
        assert conn.execute(select(func.count()).select_from(events)).scalar() == len(keys)
        # No dossier is half-applied; every event log is contiguous and untampered.
        assert verify(Store(f"sqlite:///{db}")) == []
        statuses = {row[0] for row in conn.execute(select(dossiers.c.status))}
        assert statuses == {"returned"}
        assert conn.execute(select(func.count()).select_from(dossiers)).scalar() == DOSSIERS
