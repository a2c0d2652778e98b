"""first-hour fixes: one internal DNC entry / area-code block per number and scope, their removal
history, campaign wrap-up time, timeout disposition and pause codes, who disposed of a call

Revision ID: 0010_first_hour
Revises: 0011_compliance_evidence
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_first_hour"
down_revision: str | None = "0008_job_workers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_PAUSE_CODES = '["BREAK", "LUNCH", "TRAINING", "MEETING", "TECH"]'


def upgrade() -> None:
    # Duplicates made before the rule: keep the oldest of each number (or area code) and scope.
    op.execute(
        """
        DELETE FROM dnc_internal_entries d USING dnc_internal_entries k
        WHERE d.org_id = k.org_id AND d.e164 = k.e164
          AND d.campaign_id IS NOT DISTINCT FROM k.campaign_id AND d.id > k.id
        """
    )
    op.execute(
        """
        DELETE FROM dnc_area_code_blocks d USING dnc_area_code_blocks k
        WHERE d.org_id = k.org_id AND d.area_code = k.area_code
          AND d.campaign_id IS NOT DISTINCT FROM k.campaign_id AND d.id > k.id
        """
    )
    op.create_index(
        "uq_dnc_internal_entries_org_e164_campaign",
        "dnc_internal_entries",
        ["org_id", "e164", "campaign_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_index(
        "uq_dnc_area_code_blocks_org_code_campaign",
        "dnc_area_code_blocks",
        ["org_id", "area_code", "campaign_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "dnc_removals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by", sa.Uuid(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removal_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_dnc_removals_org_id_organizations", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_removals"),
    )
    op.create_index("ix_dnc_removals_org_id", "dnc_removals", ["org_id"])
    op.add_column("campaigns", sa.Column("wrap_up_s", sa.Integer(), nullable=False, server_default="30"))
    op.add_column(
        "campaigns",
        sa.Column("timeout_disposition", sa.String(length=32), nullable=False, server_default="TIMEOUT"),
    )
    op.add_column(
        "campaigns",
        sa.Column(
            "pause_codes",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text(f"'{DEFAULT_PAUSE_CODES}'::jsonb"),
        ),
    )
    # Existing campaigns get the disposition their timed-out calls are recorded with.
    op.execute(
        """
        INSERT INTO dispositions (id, org_id, campaign_id, code, label, human_answered, sale, dnc, callback, final)
        SELECT gen_random_uuid(), c.org_id, c.id, 'TIMEOUT', 'No disposition (wrap-up timed out)',
               true, false, false, false, false
        FROM campaigns c
        WHERE NOT EXISTS (SELECT 1 FROM dispositions d WHERE d.campaign_id = c.id AND d.code = 'TIMEOUT')
        """
    )
    op.add_column("call_attempts", sa.Column("disposition_source", sa.String(length=16), nullable=True))
    op.add_column("call_attempts", sa.Column("disposed_by", sa.Uuid(), nullable=True))
    op.add_column("call_attempts", sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("call_attempts", "disposed_at")
    op.drop_column("call_attempts", "disposed_by")
    op.drop_column("call_attempts", "disposition_source")
    op.drop_column("campaigns", "pause_codes")
    op.drop_column("campaigns", "timeout_disposition")
    op.drop_column("campaigns", "wrap_up_s")
    op.drop_index("ix_dnc_removals_org_id", table_name="dnc_removals")
    op.drop_table("dnc_removals")
    op.drop_index("uq_dnc_area_code_blocks_org_code_campaign", table_name="dnc_area_code_blocks")
    op.drop_index("uq_dnc_internal_entries_org_e164_campaign", table_name="dnc_internal_entries")
