"""daily anchors chained to the previous day and sealed with the audit key

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing anchors keep their plain digest and are marked as such ("sha256-v1"); the next
    # anchor chains to the last of them.
    with op.batch_alter_table("anchors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("prev_hash", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("key_id", sa.String(length=20), server_default="sha256-v1", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("anchors", schema=None) as batch_op:
        batch_op.drop_column("key_id")
        batch_op.drop_column("prev_hash")
