"""tamper-evident event chain and daily anchors

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:28:26.031920
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('anchors',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_anchors'))
    )
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_hash', sa.String(length=64), nullable=True))

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hash', sa.String(length=64), server_default='', nullable=False))




def downgrade() -> None:

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('hash')

    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_column('event_hash')

    op.drop_table('anchors')

