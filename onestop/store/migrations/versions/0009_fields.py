"""field vocabulary of each unit set's catalog, so reports name fields from the definitions

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled by Store.sync_definitions (Engine.open) from the fields file.
    op.create_table(
        "fields",
        sa.Column("unit_set", sa.String(length=60), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name_vi", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("unit_set", "code", name=op.f("pk_fields")),
    )


def downgrade() -> None:
    op.drop_table("fields")
