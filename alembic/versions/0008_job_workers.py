"""jobs remember which worker runs them and the message that started them, so a job whose worker died
is found and retried

Revision ID: 0008_job_workers
Revises: 0011_compliance_evidence
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_job_workers"
down_revision: str | None = "0011_compliance_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("worker", sa.String(length=200), nullable=True))
    op.add_column("jobs", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("jobs", sa.Column("message", postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "message")
    op.drop_column("jobs", "attempts")
    op.drop_column("jobs", "worker")
