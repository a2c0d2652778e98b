"""dialer engine tables

Revision ID: 0005_dialer
Revises: 0004_campaigns
"""

from collections.abc import Sequence

revision: str = "0005_dialer"
down_revision: str | None = "0004_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the issue that builds this package


def downgrade() -> None:
    pass
