"""call recording with consent: the campaign's recording mode, and one recording row per attempt

Revision ID: 0016_hrecord_call_recordings
Revises: 0015_harbor_messages
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_hrecord_call_recordings"
down_revision: str | None = "0015_harbor_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns", sa.Column("recording_mode", sa.String(length=16), server_default="off", nullable=False)
    )
    op.create_table(
        "call_recordings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("announced", sa.Boolean(), nullable=False),
        sa.Column("file_key", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_call_recordings_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_call_recordings_attempt_id_call_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_recordings")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_call_recordings_attempt_id")),
    )
    op.create_index(op.f("ix_call_recordings_org_id"), "call_recordings", ["org_id"], unique=False)
    op.create_index(
        "ix_call_recordings_org_created", "call_recordings", ["org_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_call_recordings_org_created", table_name="call_recordings")
    op.drop_index(op.f("ix_call_recordings_org_id"), table_name="call_recordings")
    op.drop_table("call_recordings")
    op.drop_column("campaigns", "recording_mode")
