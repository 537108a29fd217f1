"""A writer for the crash-safety test: applies a deterministic command stream with idempotency
keys to a SQLite file and prints "ack N" after each command commits. Run again after a crash,
it replays the whole stream: commands already applied return their first result."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

from onestop import VN_TZ, Calendar, Engine, ManualClock

FIXTURES = Path(__file__).parent / "fixtures" / "workflows"
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=VN_TZ)


def stream(dossiers: int) -> list[tuple[int, str]]:
    """(dossier number, command) in an interleaved order; the same every run."""
    per = ["receive", "complete_step", "complete_step", "complete_step", "resolve", "return_result"]
    out = []
    for i in range(len(per)):
        for k in range(dossiers):
            out.append((k, per[i]))
    return out


def main() -> None:
    db, dossiers = sys.argv[1], int(sys.argv[2])
    clock = ManualClock(T0)
    engine = Engine.open(
        f"sqlite:///{db}", FIXTURES, clock=clock, calendar=Calendar.vietnam(years=[2025])
    )
    ids: dict[int, int] = {}
    for n, (k, command) in enumerate(stream(dossiers)):
        clock.set(max(clock.now(), T0 + timedelta(minutes=n)))
        key = f"{k}:{n}:{command}"
        if command == "receive":
            ids[k] = engine.receive("LAND", "D1", idempotency_key=key).id
        else:
            getattr(engine, command)(ids[k], idempotency_key=key)
        print(f"ack {n} {key}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
