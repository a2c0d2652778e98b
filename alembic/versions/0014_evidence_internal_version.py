"""the internal DNC list's own version per organization: a counter per organization, and the version each
entry, area-code block and removal was added / removed at (the evidence's internal version no longer shows
the global row sequence)

Revision ID: 0014_evidence_internal_version
Revises: 0014_reports_agent_states
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_evidence_internal_version"
down_revision: str | None = "0014_privacy_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Existing rows: each organization's entries, then its blocks, numbered 1, 2, ... in the order they were
# made; the organization's version is their count. Earlier removals stay at 0 (before versions).
BACKFILL = """
WITH rows AS (
    SELECT 'e' AS t, id, org_id FROM dnc_internal_entries
    UNION ALL SELECT 'b', id, org_id FROM dnc_area_code_blocks
), numbered AS (
    SELECT t, id, org_id, row_number() OVER (PARTITION BY org_id ORDER BY t DESC, id) AS n FROM rows
), entries AS (
    UPDATE dnc_internal_entries e SET added_seq = n FROM numbered
    WHERE numbered.t = 'e' AND numbered.id = e.id RETURNING e.id
), blocks AS (
    UPDATE dnc_area_code_blocks b SET added_seq = n FROM numbered
    WHERE numbered.t = 'b' AND numbered.id = b.id RETURNING b.id
)
INSERT INTO dnc_internal_versions (id, org_id, seq)
SELECT gen_random_uuid(), org_id, max(n) FROM numbered GROUP BY org_id
ON CONFLICT (org_id) DO UPDATE SET seq = EXCLUDED.seq
"""


def upgrade() -> None:
    op.create_table(
        "dnc_internal_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_dnc_internal_versions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dnc_internal_versions")),
        sa.UniqueConstraint("org_id", name=op.f("uq_dnc_internal_versions_org_id")),
    )
    op.create_index(op.f("ix_dnc_internal_versions_org_id"), "dnc_internal_versions", ["org_id"])
    for table in ("dnc_internal_entries", "dnc_area_code_blocks", "dnc_removals"):
        op.add_column(table, sa.Column("added_seq", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column(
        "dnc_removals", sa.Column("removed_seq", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_column("dnc_removals", "removed_seq")
    for table in ("dnc_removals", "dnc_area_code_blocks", "dnc_internal_entries"):
        op.drop_column(table, "added_seq")
    op.drop_index(op.f("ix_dnc_internal_versions_org_id"), table_name="dnc_internal_versions")
    op.drop_table("dnc_internal_versions")
