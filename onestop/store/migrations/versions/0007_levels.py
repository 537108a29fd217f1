"""levels of each unit set, so reports name them from the definitions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled by Store.sync_definitions (Engine.open) from the unit set's files.
    op.create_table(
        "levels",
        sa.Column("unit_set", sa.String(length=60), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_vi", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit_set", "code", name=op.f("pk_levels")),
    )


def downgrade() -> None:
    op.drop_table("levels")
