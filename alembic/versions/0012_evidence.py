"""state calling rules move to a data file (dnc/state_rules.toml); per-period call caps per organization and
campaign; a "revoke" disposition flag (and REVOKED for existing campaigns)

Revision ID: 0012_evidence
Revises: 0011_consent_records

The calling rules were rows seeded by 0002; they now live with their sources in one data file read by
`dnc.state_rules`, so the table (a second, stale copy: no Texas Sunday hours) is dropped.
"""

from collections.abc import Sequence
from datetime import time

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_evidence"
down_revision: str | None = "0012_linework_ended_by"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("dnc_calling_rules")
    for table in ("campaigns", "dnc_policies"):
        op.add_column(
            table,
            sa.Column(
                "call_caps", postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default="[]"
            ),
        )
    op.add_column("dispositions", sa.Column("revoke", sa.Boolean(), nullable=False, server_default="false"))
    # Every existing campaign gets the REVOKED disposition new campaigns have (campaigns.service).
    op.execute(
        """
        INSERT INTO dispositions (id, org_id, campaign_id, code, label, human_answered, sale, dnc, callback,
                                  final, revoke)
        SELECT gen_random_uuid(), c.org_id, c.id, 'REVOKED', 'Revoked consent (stop these calls)', true,
               false, false, false, true, true
        FROM campaigns c
        ON CONFLICT (campaign_id, code) DO NOTHING
        """
    )


def downgrade() -> None:
    op.execute("DELETE FROM dispositions WHERE code = 'REVOKED' AND revoke")
    op.drop_column("dispositions", "revoke")
    for table in ("campaigns", "dnc_policies"):
        op.drop_column(table, "call_caps")
    rules = op.create_table(
        "dnc_calling_rules",
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=False),
        sa.Column("window_end", sa.Time(), nullable=False),
        sa.Column("no_sunday", sa.Boolean(), nullable=False),
        sa.Column("no_holidays", sa.Boolean(), nullable=False),
        sa.Column("max_calls_per_24h", sa.Integer(), nullable=True),
        sa.Column("has_state_dnc_list", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("jurisdiction", name="pk_dnc_calling_rules"),
    )
    op.bulk_insert(
        rules,
        [
            {
                "jurisdiction": "US",
                "window_start": time(8),
                "window_end": time(21),
                "no_sunday": False,
                "no_holidays": False,
                "max_calls_per_24h": None,
                "has_state_dnc_list": False,
                "source": "47 CFR 64.1200(c)(1); 16 CFR 310.4(c)",
            }
        ],
    )
