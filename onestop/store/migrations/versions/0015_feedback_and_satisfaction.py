"""citizen feedback cases (their events in the shared log) and satisfaction answers

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Feedback events live in ``events`` under negative case ids: the foreign key to dossiers
    # goes (verification checks every event's case, of either kind).
    # (On SQLite the table is rebuilt: it keeps AUTOINCREMENT, migration 0011's.)
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "events", table_kwargs={"sqlite_autoincrement": True} if sqlite else {}
    ) as batch_op:
        batch_op.drop_constraint("fk_events_dossier_id_dossiers", type_="foreignkey")
    # Feedback alerts too (due soon, overdue), under the same negative ids.
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alerts_dossier_id_dossiers", type_="foreignkey")
    op.create_table(
        "feedback_cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("law", sa.String(length=60), nullable=False),
        sa.Column("rule_set", sa.String(length=60), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=30), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=True),
        sa.Column("procedure_code", sa.String(length=60), nullable=True),
        sa.Column(
            "linked_dossier", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("agency", sa.String(length=60), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("original_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("reject_reason", sa.String(length=30), nullable=True),
        sa.Column("forwarded_to", sa.String(length=60), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("timeliness", sa.String(length=20), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating_channel", sa.String(length=20), nullable=True),
        sa.Column("event_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_feedback_cases_reference")),
    )
    with op.batch_alter_table("feedback_cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feedback_cases_received_on_level", ["received_on", "level"], unique=False
        )
        batch_op.create_index(
            "ix_feedback_cases_resolved_on_level", ["resolved_on", "level"], unique=False
        )
        batch_op.create_index("ix_feedback_cases_status_due", ["status", "due_at"], unique=False)
    op.create_table(
        "satisfaction",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("form_id", sa.String(length=100), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("level", sa.String(length=40), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satisfaction")),
        sa.UniqueConstraint("kind", "form_id", name=op.f("uq_satisfaction_kind_form_id")),
    )
    with op.batch_alter_table("satisfaction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_satisfaction_answered_on_kind", ["answered_on", "kind"], unique=False
        )


def downgrade() -> None:
    op.drop_table("satisfaction")
    op.drop_table("feedback_cases")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_alerts_dossier_id_dossiers", "dossiers", ["dossier_id"], ["id"]
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_events_dossier_id_dossiers", "dossiers", ["dossier_id"], ["id"]
        )
