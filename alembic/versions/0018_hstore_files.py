"""files every host reaches: the shared file store (stored_files + their bytea chunks), and the content
hash of each DNC list version's index in that store

Revision ID: 0018_hstore_files
Revises: 0017_hamdlive_amd_evidence
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_hstore_files"
down_revision: str | None = "0017_hamdlive_amd_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stored_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_stored_files_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_files")),
        sa.UniqueConstraint("key", name=op.f("uq_stored_files_key")),
    )
    op.create_index(op.f("ix_stored_files_org_id"), "stored_files", ["org_id"])
    op.create_table(
        "stored_file_chunks",
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["stored_files.id"],
            name=op.f("fk_stored_file_chunks_file_id_stored_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_id", "seq", name=op.f("pk_stored_file_chunks")),
    )
    # Chunks are kept out of line and uncompressed: DNC bitmaps do not compress, and reading them back
    # without pglz is what keeps a cold index fetch fast.
    op.execute("ALTER TABLE stored_file_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.add_column("dnc_list_versions", sa.Column("index_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("dnc_list_versions", "index_sha256")
    op.drop_table("stored_file_chunks")
    op.drop_index(op.f("ix_stored_files_org_id"), table_name="stored_files")
    op.drop_table("stored_files")
