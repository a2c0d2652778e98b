"""consent records and their revocation; an organization's wireless and revoke-all settings; a campaign's seller

Revision ID: 0011_consent_records
Revises: 0011_compliance_evidence

(The second revision of the compliance-evidence work: 0011_compliance_evidence landed before it.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_consent_records"
down_revision: str | None = "0010_first_hour"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("seller", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disclosure", sa.Text(), nullable=False),
        sa.Column("consumer_ip", sa.String(length=64), nullable=True),
        sa.Column("certificate_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_source", sa.String(length=40), nullable=True),
        sa.Column("revoked_note", sa.Text(), nullable=True),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        sa.Column("honored_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('none', 'express', 'express_written')", name=op.f("ck_consent_records_kind")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_consent_records_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(op.f("ix_consent_records_org_id"), "consent_records", ["org_id"])
    op.create_index("ix_consent_records_org_e164", "consent_records", ["org_id", "e164"])
    op.add_column(
        "dnc_policies",
        sa.Column("unknown_line_type", sa.String(length=16), nullable=False, server_default="wireless"),
    )
    op.add_column(
        "dnc_policies", sa.Column("revoke_all", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("campaigns", sa.Column("seller", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("campaigns", "seller")
    op.drop_column("dnc_policies", "revoke_all")
    op.drop_column("dnc_policies", "unknown_line_type")
    op.drop_index("ix_consent_records_org_e164", table_name="consent_records")
    op.drop_index(op.f("ix_consent_records_org_id"), table_name="consent_records")
    op.drop_table("consent_records")
