"""safe-harbor messages: the generated message's callback number, and a kept copy of each message played

Revision ID: 0015_harbor_messages
Revises: 0014_methods_dial_methods
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_harbor_messages"
down_revision: str | None = "0014_methods_dial_methods"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("safe_harbor_callback_number", sa.String(length=16), nullable=True))
    op.add_column("campaigns", sa.Column("safe_harbor_source", sa.String(length=16), nullable=True))
    op.add_column("campaigns", sa.Column("safe_harbor_sha256", sa.String(length=64), nullable=True))
    op.add_column("call_attempts", sa.Column("safe_harbor_sha256", sa.String(length=64), nullable=True))
    op.create_table(
        "safe_harbor_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_safe_harbor_messages_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safe_harbor_messages")),
        sa.UniqueConstraint("org_id", "sha256", name="uq_safe_harbor_messages_org_sha256"),
    )
    op.create_index(op.f("ix_safe_harbor_messages_org_id"), "safe_harbor_messages", ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_safe_harbor_messages_org_id"), table_name="safe_harbor_messages")
    op.drop_table("safe_harbor_messages")
    op.drop_column("call_attempts", "safe_harbor_sha256")
    op.drop_column("campaigns", "safe_harbor_sha256")
    op.drop_column("campaigns", "safe_harbor_source")
    op.drop_column("campaigns", "safe_harbor_callback_number")
