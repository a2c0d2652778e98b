"""campaigns, lead lists, leads, call attempts

Revision ID: 0004_campaigns
Revises: 0003_attestation
"""

from collections.abc import Sequence

revision: str = "0004_campaigns"
down_revision: str | None = "0003_attestation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the issue that builds this package


def downgrade() -> None:
    pass
