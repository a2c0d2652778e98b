"""dial methods: `manual` campaigns, and the record of leads an agent skipped in preview

Revision ID: 0014_methods_dial_methods
Revises: 0014_evidence_internal_version
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_methods_dial_methods"
down_revision: str | None = "0014_floorfix_agent_callbacks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_campaigns_dial_method"), "campaigns", type_="check")
    op.create_check_constraint(
        op.f("ck_campaigns_dial_method"),
        "campaigns",
        "dial_method IN ('predictive', 'progressive', 'preview', 'manual')",
    )
    op.create_table(
        "campaign_preview_skips",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("skipped_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_campaign_preview_skips_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_preview_skips_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_preview_skips")),
    )
    op.create_index("ix_campaign_preview_skips_lead", "campaign_preview_skips", ["lead_id"], unique=False)
    op.create_index(
        op.f("ix_campaign_preview_skips_org_id"), "campaign_preview_skips", ["org_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_campaign_preview_skips_org_id"), table_name="campaign_preview_skips")
    op.drop_index("ix_campaign_preview_skips_lead", table_name="campaign_preview_skips")
    op.drop_table("campaign_preview_skips")
    op.drop_constraint(op.f("ck_campaigns_dial_method"), "campaigns", type_="check")
    op.create_check_constraint(
        op.f("ck_campaigns_dial_method"),
        "campaigns",
        "dial_method IN ('predictive', 'progressive', 'preview')",
    )
