"""digitisation of dossiers and results, and reuse of digitised data

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = ("digitised_intake", "reused_data", "result_electronic", "result_digitised")


def upgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.drop_column(name)
