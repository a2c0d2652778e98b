"""agent state intervals (the durable history of READY / INCALL / WRAP / PAUSED with pause codes that the
agent performance report reads); for the daily reports on call_attempts: a partial index of the calls
bridged to an agent (covering the agent performance figures), one of the blocked calls, and statistics on
the placement hour (without them PostgreSQL expects one group per row and sorts a month of attempts)

Revision ID: 0014_reports_agent_states
Revises: 0013_floor_safe_harbor
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_reports_agent_states"
down_revision: str | None = "0014_webhooks_endpoints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dialer_agent_state_intervals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pause_code", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_dialer_agent_state_intervals_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialer_agent_state_intervals")),
    )
    op.create_index("ix_dialer_agent_state_intervals_org_id", "dialer_agent_state_intervals", ["org_id"])
    op.create_index(
        "ix_dialer_agent_state_intervals_org_started",
        "dialer_agent_state_intervals",
        ["org_id", "started_at"],
    )
    op.create_index(
        "ix_dialer_agent_state_intervals_open",
        "dialer_agent_state_intervals",
        ["agent_id"],
        postgresql_where=sa.text("ended_at IS NULL"),
    )

    op.create_index(
        "ix_call_attempts_org_placed_agent",
        "call_attempts",
        ["org_id", "placed_at"],
        postgresql_include=[
            "agent_id",
            "campaign_id",
            "disposition",
            "agent_connected_at",
            "ended_at",
            "disposed_at",
        ],
        postgresql_where=sa.text("agent_id IS NOT NULL"),
    )
    op.create_index(
        "ix_call_attempts_org_placed_blocked",
        "call_attempts",
        ["org_id", "placed_at"],
        postgresql_where=sa.text("outcome = 'blocked'"),
    )
    op.execute(
        "CREATE STATISTICS st_call_attempts_placed_hour ON (date_trunc('hour', timezone('UTC', placed_at))) "
        "FROM call_attempts"
    )


def downgrade() -> None:
    op.execute("DROP STATISTICS IF EXISTS st_call_attempts_placed_hour")
    op.drop_index("ix_call_attempts_org_placed_blocked", table_name="call_attempts")
    op.drop_index("ix_call_attempts_org_placed_agent", table_name="call_attempts")
    op.drop_table("dialer_agent_state_intervals")
