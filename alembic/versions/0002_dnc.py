"""compliance engine tables (dnc)

Revision ID: 0002_dnc
Revises: 0001_foundation
"""

from collections.abc import Sequence

revision: str = "0002_dnc"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the issue that builds this package


def downgrade() -> None:
    pass
