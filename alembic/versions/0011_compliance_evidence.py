"""compliance evidence: the dial-time verdict stored with every call attempt, and its safe-harbor time

Revision ID: 0011_compliance_evidence
Revises: 0005_dialer
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_compliance_evidence"
down_revision: str | None = "0009_agent_phone_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The evidence document (campaigns.evidence.AttemptEvidence, versioned by its `schema_version`).
    # Attempts recorded before this revision have none: their evidence is `verdict_reasons` alone.
    op.add_column("call_attempts", sa.Column("evidence", postgresql.JSONB(), nullable=True))
    op.add_column("call_attempts", sa.Column("safe_harbor_at", sa.DateTime(timezone=True), nullable=True))
    # CDR exports walk an organization's attempts by time.
    op.create_index("ix_call_attempts_org_placed", "call_attempts", ["org_id", "placed_at"])


def downgrade() -> None:
    op.drop_index("ix_call_attempts_org_placed", table_name="call_attempts")
    op.drop_column("call_attempts", "safe_harbor_at")
    op.drop_column("call_attempts", "evidence")
