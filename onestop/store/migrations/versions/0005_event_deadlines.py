"""each event carries the dossier's deadline after it, for reports as of any instant

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 00:10:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The backfill reads and writes through the schema's table (timestamps in UTC, aware).
    from onestop.store.event_log import states
    from onestop.store.schema import events

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("apologies", sa.Integer(), nullable=True))
    # Backfill from the log itself: each event's data["set"] holds the columns it changed.
    conn = op.get_bind()
    # Only the columns that existed at this revision (the schema's table has grown since).
    e = events.c
    columns = (e.id, e.dossier_id, e.seq, e.at, e.to_status, e.agency, e.data)
    rows = conn.execute(sa.select(*columns).order_by(e.dossier_id, e.seq)).mappings()
    update = (
        sa.update(events)
        .where(events.c.id == sa.bindparam("b_id"))
        .values(
            due_at=sa.bindparam("due_at"),
            paused_at=sa.bindparam("paused_at"),
            apologies=sa.bindparam("apologies"),
        )
    )
    batch: list[dict[str, Any]] = []
    for state in states(list(rows)):
        batch.append({"b_id": state["id"], **{k: state[k] for k in ("due_at", "paused_at", "apologies")}})
        if len(batch) >= 5000:
            conn.execute(update, batch)
            batch = []
    if batch:
        conn.execute(update, batch)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        for name in ("apologies", "paused_at", "due_at"):
            batch_op.drop_column(name)
