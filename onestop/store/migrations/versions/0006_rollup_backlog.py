"""daily rollups keep the open backlog at the end of each day

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = ("open_in_time", "open_overdue", "open_apologies")


def upgrade() -> None:
    with op.batch_alter_table("daily_rollups", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("daily_rollups", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.drop_column(name)
