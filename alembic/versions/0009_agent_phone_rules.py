"""agent phone rules: the SIP URIs, domains and CIDRs an org allows as agents' phones

Revision ID: 0009_agent_phone_rules
Revises: 0005_dialer
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_agent_phone_rules"
down_revision: str | None = "0007_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dialer_agent_phone_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_dialer_agent_phone_rules_agent_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_dialer_agent_phone_rules_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialer_agent_phone_rules")),
        sa.UniqueConstraint("org_id", "kind", "value", name="uq_dialer_agent_phone_rules_value"),
    )
    op.create_index(
        op.f("ix_dialer_agent_phone_rules_org_id"), "dialer_agent_phone_rules", ["org_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dialer_agent_phone_rules_org_id"), table_name="dialer_agent_phone_rules")
    op.drop_table("dialer_agent_phone_rules")
