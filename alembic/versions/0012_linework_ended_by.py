"""call attempts: who ended an answered call when it was the agent's side (`agent`, `agent_phone`)

Revision ID: 0012_linework_ended_by
Revises: 0011_consent_records
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_linework_ended_by"
down_revision: str | None = "0011_consent_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_attempts", sa.Column("ended_by", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("call_attempts", "ended_by")
