"""STIR/SHAKEN tables (attestation): TN inventory and signing certificates

Revision ID: 0003_attestation
Revises: 0002_dnc
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_attestation"
down_revision: str | None = "0002_dnc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tn_inventory",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_tn", sa.String(length=15, collation="C"), nullable=False),
        sa.Column("last_tn", sa.String(length=15, collation="C"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "length(first_tn) = length(last_tn) AND first_tn <= last_tn", name=op.f("ck_tn_inventory_range")
        ),
        sa.CheckConstraint("first_tn ~ '^[0-9]{8,15}$'", name=op.f("ck_tn_inventory_digits")),
        sa.CheckConstraint(
            "status IN ('pending', 'verified', 'rejected')", name=op.f("ck_tn_inventory_status")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_tn_inventory_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tn_inventory")),
    )
    op.create_index("ix_tn_inventory_org_first", "tn_inventory", ["org_id", "first_tn"], unique=False)
    op.create_index(op.f("ix_tn_inventory_org_id"), "tn_inventory", ["org_id"], unique=False)
    op.create_table(
        "signing_certificates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("spc", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("fingerprint_sha256", sa.String(length=64), nullable=False),
        sa.Column("chain_pem", sa.Text(), nullable=False),
        sa.Column("encrypted_key", sa.LargeBinary(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_signing_certificates_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_certificates")),
    )
    op.create_index(op.f("ix_signing_certificates_org_id"), "signing_certificates", ["org_id"], unique=False)
    op.create_index(
        "uq_signing_certificates_active_per_org",
        "signing_certificates",
        ["org_id"],
        unique=True,
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("uq_signing_certificates_active_per_org", table_name="signing_certificates")
    op.drop_index(op.f("ix_signing_certificates_org_id"), table_name="signing_certificates")
    op.drop_table("signing_certificates")
    op.drop_index(op.f("ix_tn_inventory_org_id"), table_name="tn_inventory")
    op.drop_index("ix_tn_inventory_org_first", table_name="tn_inventory")
    op.drop_table("tn_inventory")
