"""call attempts: the safe-harbor message's end (worker's clock), why a worker refused to play it, and
the keys the called party pressed

Revision ID: 0013_floor_safe_harbor
Revises: 0012_secpriv
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_floor_safe_harbor"
down_revision: str | None = "0012_secpriv"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "call_attempts", sa.Column("safe_harbor_played_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("call_attempts", sa.Column("safe_harbor_error", sa.Text(), nullable=True))
    op.add_column("call_attempts", sa.Column("dtmf_digits", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("call_attempts", "dtmf_digits")
    op.drop_column("call_attempts", "safe_harbor_error")
    op.drop_column("call_attempts", "safe_harbor_played_at")
