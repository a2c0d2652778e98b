"""campaigns: answering-machine detection settings ({"enabled": bool, thresholds...}, default {}: off)

Revision ID: 0014_amd_campaign_settings
Revises: 0014_reports_agent_states
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_amd_campaign_settings"
down_revision: str | None = "0014_evidence_internal_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("amd_settings", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )


def downgrade() -> None:
    op.drop_column("campaigns", "amd_settings")
