"""a DNC change list is stored as a delta on its base pack: each list version records the ordered chain
of delta files (key, sha256, size) applied on top of the pack named by index_dir / index_sha256

Revision ID: 0019_hdelta_index_deltas
Revises: 0018_hstore_files
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019_hdelta_index_deltas"
down_revision: str | None = "0018_hstore_files"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "dnc_list_versions",
        sa.Column("index_deltas", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    )


def downgrade() -> None:
    # A current version stored as a delta has no pack of its own: without the column its index could not
    # be rebuilt, so the downgrade refuses rather than leave such a list pointing at its base.
    chained = op.get_bind().execute(
        sa.text(
            "SELECT count(*) FROM dnc_list_versions v JOIN dnc_lists l ON l.current_version_id = v.id "
            "WHERE v.index_deltas <> '[]'::jsonb"
        )
    )
    if chained.scalar():
        raise RuntimeError("a current DNC list version is stored as a delta: import a full copy first")
    op.drop_column("dnc_list_versions", "index_deltas")
