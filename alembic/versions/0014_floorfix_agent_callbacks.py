"""campaigns: how long an agent's own callback waits for that agent, and what becomes of it after

Revision ID: 0014_floorfix_agent_callbacks
Revises: 0014_evidence_internal_version
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_floorfix_agent_callbacks"
down_revision: str | None = "0014_amd_campaign_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("agent_callback_window_min", sa.Integer(), nullable=False, server_default="60"),
    )
    op.add_column(
        "campaigns",
        sa.Column("agent_callback_fallback", sa.String(16), nullable=False, server_default="keep_waiting"),
    )
    op.create_check_constraint(
        op.f("ck_campaigns_agent_callback_fallback"),
        "campaigns",
        "agent_callback_fallback IN ('keep_waiting', 'give_to_anyone')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_campaigns_agent_callback_fallback"), "campaigns", type_="check")
    op.drop_column("campaigns", "agent_callback_fallback")
    op.drop_column("campaigns", "agent_callback_window_min")
