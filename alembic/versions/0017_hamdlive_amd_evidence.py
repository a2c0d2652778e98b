"""call attempts: the answering-machine detection's result, cause and timing, and the voicemail left

Revision ID: 0017_hamdlive_amd_evidence
Revises: 0016_hrecord_call_recordings
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_hamdlive_amd_evidence"
down_revision: str | None = "0016_hrecord_call_recordings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    sa.Column("amd_result", sa.String(length=8), nullable=True),
    sa.Column("amd_cause", sa.String(length=64), nullable=True),
    sa.Column("amd_decided_ms", sa.Integer(), nullable=True),
    sa.Column("amd_greeting_ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("voicemail_sha256", sa.String(length=64), nullable=True),
    sa.Column("voicemail_left_at", sa.DateTime(timezone=True), nullable=True),
)


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("call_attempts", column)


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.drop_column("call_attempts", column.name)
