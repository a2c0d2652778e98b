"""dialer engine tables: agent sessions and trunk alarms

Revision ID: 0005_dialer
Revises: 0004_campaigns
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_dialer"
down_revision: str | None = "0004_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dialer_agent_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("sip_uri", sa.String(length=300), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("leg_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=False),
        sa.Column("calls_handled", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_dialer_agent_sessions_agent_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_dialer_agent_sessions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialer_agent_sessions")),
    )
    op.create_index(
        op.f("ix_dialer_agent_sessions_org_id"), "dialer_agent_sessions", ["org_id"], unique=False
    )
    op.create_index(
        op.f("ix_dialer_agent_sessions_campaign_id"), "dialer_agent_sessions", ["campaign_id"], unique=False
    )
    op.create_index(
        "ix_dialer_agent_sessions_agent_started", "dialer_agent_sessions", ["agent_id", "started_at"]
    )
    op.create_table(
        "dialer_trunk_alarms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("trunk", sa.String(length=100), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("attempt_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("sip_status", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_dialer_trunk_alarms_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialer_trunk_alarms")),
    )
    op.create_index(op.f("ix_dialer_trunk_alarms_org_id"), "dialer_trunk_alarms", ["org_id"], unique=False)
    op.create_index("ix_dialer_trunk_alarms_org_raised", "dialer_trunk_alarms", ["org_id", "raised_at"])


def downgrade() -> None:
    op.drop_table("dialer_trunk_alarms")
    op.drop_table("dialer_agent_sessions")
