"""STIR/SHAKEN tables (attestation)

Revision ID: 0003_attestation
Revises: 0002_dnc
"""

from collections.abc import Sequence

revision: str = "0003_attestation"
down_revision: str | None = "0002_dnc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the issue that builds this package


def downgrade() -> None:
    pass
