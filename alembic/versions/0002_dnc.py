"""compliance engine tables (dnc)

Revision ID: 0002_dnc
Revises: 0001_foundation
"""

from collections.abc import Sequence
from datetime import time

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_dnc"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)

# (jurisdiction, start, end, no_sunday, no_holidays, max_calls_per_24h, has_state_dnc_list, source)
CALLING_RULES = [
    ("US", time(8), time(21), False, False, None, False, "47 CFR 64.1200(c)(1); 16 CFR 310.4(c)"),
    ("FL", time(8), time(20), False, False, 3, True, "Fla. Stat. 501.616 (FTSA); state DNC list"),
    ("OK", time(8), time(20), False, False, 3, True, "Okla. Telephone Solicitation Act; state DNC list"),
    ("MD", time(8), time(20), False, False, 3, False, "Md. Stop the Spam Calls Act"),
    ("WA", time(8), time(20), False, False, None, False, "RCW 80.36.390"),
    ("AL", time(8), time(20), True, True, None, False, "Ala. Code 8-19C; no Sunday or holiday calls"),
    ("CA", time(9), time(21), False, False, None, False, "vendor data (CA)"),
    ("LA", time(8), time(20), True, True, None, True, "La. R.S. 45:844.31; state DNC list"),
    ("MS", time(8), time(20), True, False, None, True, "Miss. Code 77-3-725; state DNC list"),
    ("CO", time(8), time(21), False, False, None, True, "state DNC list"),
    ("IN", time(8), time(21), False, False, None, True, "state DNC list"),
    ("MA", time(8), time(21), False, False, None, True, "state DNC list"),
    ("MO", time(8), time(21), False, False, None, True, "state DNC list"),
    ("PA", time(8), time(21), False, False, None, True, "state DNC list"),
    ("TN", time(8), time(21), False, False, None, True, "state DNC list"),
    ("TX", time(8), time(21), False, False, None, True, "state DNC list"),
    ("WY", time(8), time(21), False, False, None, True, "state DNC list"),
]


def upgrade() -> None:
    jsonb = postgresql.JSONB(astext_type=sa.Text())
    op.create_table(
        "dnc_lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("owner_org_id", sa.Uuid(), nullable=True),
        sa.Column("current_version_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organizations.id"],
            name="fk_dnc_lists_owner_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_lists"),
        sa.UniqueConstraint(
            "kind", "scope", "owner_org_id", name="uq_dnc_lists_kind", postgresql_nulls_not_distinct=True
        ),
    )
    op.create_index("ix_dnc_lists_owner_org_id", "dnc_lists", ["owner_org_id"])
    op.create_table(
        "dnc_list_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("change_list", sa.Boolean(), nullable=False),
        sa.Column("source_file", sa.String(500), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("added", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.BigInteger(), nullable=False),
        sa.Column("obtained_at", TS, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.Column("imported_by", sa.Uuid(), nullable=True),
        sa.Column("index_dir", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["dnc_lists.id"], name="fk_dnc_list_versions_list_id_dnc_lists", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_list_versions"),
        sa.UniqueConstraint("list_id", "seq", name="uq_dnc_list_versions_list_id"),
    )
    op.create_index("ix_dnc_list_versions_list_id", "dnc_list_versions", ["list_id"])
    op.create_table(
        "dnc_internal_entries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("e164", sa.String(16), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_dnc_internal_entries_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_internal_entries"),
    )
    op.create_index("ix_dnc_internal_entries_org_id", "dnc_internal_entries", ["org_id"])
    op.create_index("ix_dnc_internal_entries_org_e164", "dnc_internal_entries", ["org_id", "e164"])
    op.create_table(
        "dnc_area_code_blocks",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("area_code", sa.String(3), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_dnc_area_code_blocks_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_area_code_blocks"),
    )
    op.create_index("ix_dnc_area_code_blocks_org_id", "dnc_area_code_blocks", ["org_id"])
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
                "jurisdiction": j,
                "window_start": start,
                "window_end": end,
                "no_sunday": no_sunday,
                "no_holidays": no_holidays,
                "max_calls_per_24h": cap,
                "has_state_dnc_list": has_list,
                "source": source,
            }
            for j, start, end, no_sunday, no_holidays, cap, has_list, source in CALLING_RULES
        ],
    )
    op.create_table(
        "dnc_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("allowed_countries", jsonb, nullable=False),
        sa.Column("blocked_states", jsonb, nullable=False),
        sa.Column("blocked_area_codes", jsonb, nullable=False),
        sa.Column("ip_allow_cidrs", jsonb, nullable=False),
        sa.Column("ip_deny_cidrs", jsonb, nullable=False),
        sa.Column("ip_allowed_countries", jsonb, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_dnc_policies_org_id_organizations", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_policies"),
        sa.UniqueConstraint("org_id", name="uq_dnc_policies_org_id"),
    )
    op.create_index("ix_dnc_policies_org_id", "dnc_policies", ["org_id"])
    op.create_table(
        "dnc_scrub_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("checked_at", TS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source_file", sa.String(500), nullable=False),
        sa.Column("counts", jsonb, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_dnc_scrub_reports_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_scrub_reports"),
    )
    op.create_index("ix_dnc_scrub_reports_org_id", "dnc_scrub_reports", ["org_id"])


def downgrade() -> None:
    for table in (
        "dnc_scrub_reports",
        "dnc_policies",
        "dnc_calling_rules",
        "dnc_area_code_blocks",
        "dnc_internal_entries",
        "dnc_list_versions",
        "dnc_lists",
    ):
        op.drop_table(table)
