"""staff directory, personal-data vault, idempotency keys scoped and bound to their arguments

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 04:00:00
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_PLAIN = ("applicant_name", "applicant_id_number", "applicant_phone")


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("agency", sa.String(length=60), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "valid_from", name=op.f("pk_officers")),
    )
    op.create_table(
        "personal_data",
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("dossier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("key_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=600), nullable=True),
        sa.Column("id_number", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=1200), nullable=True),
        sa.Column("id_index", sa.String(length=64), nullable=True),
        sa.Column("account_index", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"],
                                name=op.f("fk_personal_data_dossier_id_dossiers")),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_personal_data")),
    )  # fmt: skip
    op.create_index("ix_personal_data_id_index", "personal_data", ["id_index"])
    op.create_index("ix_personal_data_account_index", "personal_data", ["account_index"])
    op.create_index("ix_personal_data_dossier_id", "personal_data", ["dossier_id"])
    op.add_column("idempotency_keys", sa.Column("args_digest", sa.String(length=64)))
    op.add_column("dossiers", sa.Column("applicant_ref", sa.String(length=40)))
    _move_into_vault()
    op.create_index("ix_dossiers_applicant_ref", "dossiers", ["applicant_ref"])
    for column in _PLAIN:
        # In place (SQLite 3.35+ drops a plain column itself): a batch copy of the table would
        # have to drop the old one, which the events' foreign keys forbid.
        op.execute(f"ALTER TABLE dossiers DROP COLUMN {column}")


def _move_into_vault() -> None:
    """Existing applicants' data goes into the vault (encrypted with the vault key from the
    environment, which must then be set); their dossier rows keep only the reference. Their
    first events, written before this revision, still hold the data: the chain cannot be
    rewritten without breaking it (see the README, "Personal data")."""
    from onestop.errors import VaultKeyError
    from onestop.vault import HOW_TO, load_vault_key

    conn = op.get_bind()
    d = sa.table(
        "dossiers", sa.column("id"), sa.column("applicant_ref"), *(sa.column(c) for c in _PLAIN)
    )
    rows = conn.execute(
        sa.select(d.c.id, *(d.c[c] for c in _PLAIN)).where(
            sa.or_(*(d.c[c].is_not(None) for c in _PLAIN))
        )
    ).all()
    if not rows:
        return
    key = load_vault_key()
    if key is None:
        raise VaultKeyError(
            f"migration 0014 moves {len(rows)} applicants' personal data into the vault and "
            f"needs the vault key: {HOW_TO}"
        )
    vault = sa.table(
        "personal_data",
        *(sa.column(c) for c in ("ref", "dossier_id", "key_id", "name", "id_number", "phone")),
        sa.column("id_index"),
        sa.column("created_at"),
        sa.column("updated_at"),
    )
    now = datetime.now(UTC)
    for dossier_id, name, id_number, phone in rows:
        ref = "pd_" + secrets.token_hex(12)
        plain = {"name": name, "id_number": id_number, "phone": phone}
        conn.execute(
            sa.insert(vault).values(
                ref=ref, dossier_id=dossier_id, key_id=key.key_id,
                **{k: None if v is None else key.seal(ref, k, v) for k, v in plain.items()},
                id_index=None if id_number is None else key.index("id_number", id_number),
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        conn.execute(sa.update(d).where(d.c.id == dossier_id).values(applicant_ref=ref))


def downgrade() -> None:
    op.drop_index("ix_dossiers_applicant_ref", "dossiers")
    op.execute("ALTER TABLE dossiers DROP COLUMN applicant_ref")
    op.add_column("dossiers", sa.Column("applicant_name", sa.String(length=200)))
    op.add_column("dossiers", sa.Column("applicant_id_number", sa.String(length=20)))
    op.add_column("dossiers", sa.Column("applicant_phone", sa.String(length=20)))
    op.execute("ALTER TABLE idempotency_keys DROP COLUMN args_digest")
    op.drop_table("personal_data")
    op.drop_table("officers")
