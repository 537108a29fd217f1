"""keyed event chain (events.key_id), and ids never reused on SQLite (AUTOINCREMENT)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing events keep their plain sha256 chain (key_id NULL); `onestop verify` counts them.
    sqlite = op.get_bind().dialect.name == "sqlite"
    autoincrement = {"sqlite_autoincrement": True} if sqlite else {}
    # On SQLite the tables are rebuilt with AUTOINCREMENT (Store.migrate switches foreign keys
    # off around migrations, as SQLite requires for a rebuild); PostgreSQL's sequences never
    # reuse a value already.
    with op.batch_alter_table(
        "events", recreate="always" if sqlite else "auto", table_kwargs=autoincrement
    ) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=20), nullable=True))
    if sqlite:
        with op.batch_alter_table("dossiers", recreate="always", table_kwargs=autoincrement):
            pass


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("key_id")
