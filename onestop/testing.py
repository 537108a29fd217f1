"""Helpers for testing code that embeds onestop (and onestop's own tests).

Example:
    >>> from onestop.testing import fingerprint  # compare before/after a refused command
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import create_engine, select, text

from onestop.engine import Engine
from onestop.store import replay, schema


def assert_replays(engine: Engine, dossier_id: int) -> None:
    """Assert that the stored dossier row equals the fold of its events.

    Raises:
        AssertionError: If they differ (the message shows both).
    """
    with engine.store.read() as uow:
        row = uow.load_dossier(dossier_id)
    rebuilt = replay(engine.history(dossier_id))
    assert rebuilt == row, f"row {row!r} != replay {rebuilt!r}"


def fingerprint(engine: Engine) -> dict[str, Any]:
    """Row count and content hash of every onestop table: equal before and after a command
    means the command changed nothing."""
    out: dict[str, Any] = {}
    with engine.store.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            keys = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*keys)).all()  # one round trip a table
            digest = hashlib.sha256(
                json.dumps([list(r) for r in rows], default=str).encode()
            ).hexdigest()
            out[table.name] = (len(rows), digest)
    return out


def reset_postgres(url: str) -> None:
    """Drop and recreate the ``public`` schema of a PostgreSQL test database (it must be one
    you own: everything in it is deleted)."""
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()
