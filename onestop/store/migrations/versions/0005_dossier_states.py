"""dossier states after each event, for reports as of any instant

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
    # The backfill reads and writes through the schema's tables (timestamps in UTC, aware).
    from onestop.store.event_log import states
    from onestop.store.schema import dossier_states, events

    op.create_table(
        "dossier_states",
        sa.Column("dossier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("agency", sa.String(length=60), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("apologies", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"],
                                name=op.f("fk_dossier_states_dossier_id_dossiers")),
        sa.PrimaryKeyConstraint("dossier_id", "seq", name=op.f("pk_dossier_states")),
    )  # fmt: skip
    # Backfill from the event log (each event's data["set"] holds the columns it changed).
    conn = op.get_bind()
    rows = conn.execute(sa.select(events).order_by(events.c.dossier_id, events.c.seq)).mappings()
    batch: list[dict[str, Any]] = []
    for state in states(rows):
        batch.append(state)
        if len(batch) >= 5000:
            conn.execute(sa.insert(dossier_states), batch)
            batch = []
    if batch:
        conn.execute(sa.insert(dossier_states), batch)


def downgrade() -> None:
    op.drop_table("dossier_states")
