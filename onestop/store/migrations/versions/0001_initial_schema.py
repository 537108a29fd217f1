"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 22:27:43.990252
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('agencies',
    sa.Column('unit_set', sa.String(length=60), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('unit_set', 'code', name=op.f('pk_agencies'))
    )
    op.create_table('dossiers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('unit_set', sa.String(length=60), nullable=False),
    sa.Column('rule_set', sa.String(length=60), nullable=False),
    sa.Column('procedure_code', sa.String(length=60), nullable=False),
    sa.Column('procedure_version', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('competent_unit', sa.String(length=40), nullable=False),
    sa.Column('intake_unit', sa.String(length=40), nullable=False),
    sa.Column('intake_mode', sa.String(length=30), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('return_method', sa.String(length=20), nullable=False),
    sa.Column('applicant_name', sa.String(length=200), nullable=True),
    sa.Column('applicant_id_number', sa.String(length=20), nullable=True),
    sa.Column('applicant_phone', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=False),
    sa.Column('step_count', sa.Integer(), nullable=False),
    sa.Column('current_agency', sa.String(length=60), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('original_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('step_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('apologies', sa.Integer(), nullable=False),
    sa.Column('paused_from', sa.String(length=30), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('timeliness', sa.String(length=20), nullable=True),
    sa.Column('fee_paid_online', sa.Boolean(), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossiers')),
    sa.UniqueConstraint('reference', name=op.f('uq_dossiers_reference'))
    )
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.create_index('ix_dossiers_competent_unit_status', ['competent_unit', 'status'], unique=False)
        batch_op.create_index('ix_dossiers_current_agency_status', ['current_agency', 'status'], unique=False)
        batch_op.create_index('ix_dossiers_received_on_level', ['received_on', 'level'], unique=False)
        batch_op.create_index('ix_dossiers_resolved_on_level', ['resolved_on', 'level'], unique=False)
        batch_op.create_index('ix_dossiers_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_dossiers_status_step_due', ['status', 'step_due_at'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('command', sa.String(length=40), nullable=False),
    sa.Column('dossier_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('procedures',
    sa.Column('unit_set', sa.String(length=60), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name_vi', sa.String(length=500), nullable=False),
    sa.Column('name_en', sa.String(length=500), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('statutory_days', sa.Float(), nullable=False),
    sa.Column('time_unit', sa.String(length=20), nullable=False),
    sa.Column('fee_vnd', sa.BigInteger(), nullable=False),
    sa.Column('online', sa.String(length=10), nullable=False),
    sa.Column('postal', sa.Boolean(), nullable=False),
    sa.Column('location_independent', sa.Boolean(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('unit_set', 'code', 'version', name=op.f('pk_procedures'))
    )
    op.create_table('units',
    sa.Column('unit_set', sa.String(length=60), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('parent', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('unit_set', 'code', name=op.f('pk_units'))
    )
    op.create_table('dossier_steps',
    sa.Column('dossier_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('step_code', sa.String(length=60), nullable=False),
    sa.Column('agency', sa.String(length=60), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('timeliness', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_dossier_steps_dossier_id_dossiers')),
    sa.PrimaryKeyConstraint('dossier_id', 'seq', name=op.f('pk_dossier_steps'))
    )
    with op.batch_alter_table('dossier_steps', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_steps_agency_timeliness', ['agency', 'timeliness'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dossier_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trigger', sa.String(length=40), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=False),
    sa.Column('to_status', sa.String(length=30), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=False),
    sa.Column('agency', sa.String(length=60), nullable=True),
    sa.Column('unit', sa.String(length=40), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_events_dossier_id_dossiers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('dossier_id', 'seq', name=op.f('uq_events_dossier_id_seq'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_at', ['at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_at')

    op.drop_table('events')
    with op.batch_alter_table('dossier_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_steps_agency_timeliness')

    op.drop_table('dossier_steps')
    op.drop_table('units')
    op.drop_table('procedures')
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_index('ix_dossiers_status_step_due')
        batch_op.drop_index('ix_dossiers_status_due')
        batch_op.drop_index('ix_dossiers_resolved_on_level')
        batch_op.drop_index('ix_dossiers_received_on_level')
        batch_op.drop_index('ix_dossiers_current_agency_status')
        batch_op.drop_index('ix_dossiers_competent_unit_status')

    op.drop_table('dossiers')
    op.drop_table('agencies')

