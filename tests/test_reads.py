"""Reads never take SQLite's write lock: a report completes while a writer holds a transaction."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from onestop import Engine, ManualClock
from onestop.periods import Period
from onestop.reports import on_time_report

from .conftest import FIXTURES


def test_a_report_completes_while_a_writer_holds_the_lock(
    tmp_path: Path, clock: ManualClock
) -> None:
    engine = Engine.open(f"sqlite:///{tmp_path / 'wal.db'}", FIXTURES, clock=clock)
    engine.receive("COPY", "W1")
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with engine.store.write() as uow:  # BEGIN IMMEDIATE: the database's write lock
            uow.conn.execute(text("UPDATE dossiers SET updated_at = updated_at"))
            holding.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(timeout=30)
        # While the lock is held, a report and a read of the dossier both complete (a reader
        # taking the lock would wait here for the 30 s busy timeout, then fail).
        report = on_time_report(engine.store, Period.parse("2025"), ["level"])
        # The copy was due 24 January 17:00: open and overdue at the year's end.
        rows = [(r.key["level"], r.open_in_time, r.open_overdue) for r in report.rows]
        assert rows == [("commune", 0, 1)]
        assert engine.get(1).procedure_code == "COPY"
        assert not release.is_set()  # the writer still held its transaction throughout
    finally:
        release.set()
        thread.join()
    engine.store.dispose()
