"""where a transferred dossier came from: unit set, competent unit and procedure version at
receipt (NULL: never transferred, the current columns are the receipt's)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin_unit_set", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("origin_unit", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("origin_procedure_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        for name in ("origin_procedure_version", "origin_unit", "origin_unit_set"):
            batch_op.drop_column(name)
