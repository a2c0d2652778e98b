"""campaigns, lead lists, leads, call attempts

Revision ID: 0004_campaigns
Revises: 0003_attestation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0004_campaigns"
down_revision: str | None = "0003_attestation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("phone_raw", sa.Text(), nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("zip_code", sa.String(length=10), nullable=True),
        sa.Column("consent", sa.String(length=20), nullable=False),
        sa.Column("consent_at", sa.Date(), nullable=True),
        sa.Column("wireless", sa.Boolean(), nullable=True),
        sa.Column("extra", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outcome_counts", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("callback_agent_id", sa.Uuid(), nullable=True),
        sa.Column("lease_holder", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("verdict_reasons", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("scrubbed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('callable', 'blocked', 'in_progress', 'callback', 'done')",
            name=op.f("ck_leads_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    op.create_index(
        "ix_leads_campaign_list_e164", "leads", ["campaign_id", "list_id", "phone_e164"], unique=False
    )
    op.create_index(
        "ix_leads_hopper_callable",
        "leads",
        ["campaign_id", sa.literal_column("priority DESC"), "id"],
        unique=False,
        postgresql_where=sa.text("status = 'callable'"),
    )
    op.create_index(
        "ix_leads_hopper_callback",
        "leads",
        ["campaign_id", "callback_at"],
        unique=False,
        postgresql_where=sa.text("status = 'callback'"),
    )
    op.create_index(
        "ix_leads_hopper_expired",
        "leads",
        ["campaign_id", "lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'in_progress'"),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dial_method", sa.String(length=16), nullable=False),
        sa.Column("pacing_policy", sa.String(length=64), nullable=False),
        sa.Column("pacing_settings", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("abandon_target", sa.Float(), nullable=False),
        sa.Column("max_lines_per_agent", sa.Float(), nullable=False),
        sa.Column("trunk_profile", sa.String(length=100), nullable=False),
        sa.Column("max_cps", sa.Float(), nullable=True),
        sa.Column("max_lines", sa.Integer(), nullable=True),
        sa.Column("caller_id_mode", sa.String(length=16), nullable=False),
        sa.Column("caller_id", sa.String(length=16), nullable=True),
        sa.Column("calling_window_start", sa.Time(), nullable=True),
        sa.Column("calling_window_end", sa.Time(), nullable=True),
        sa.Column("allowed_countries", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("blocked_states", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("blocked_area_codes", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("default_region", sa.String(length=2), nullable=False),
        sa.Column("dedupe_scope", sa.String(length=16), nullable=False),
        sa.Column("recycle_rules", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("safe_harbor_wav", sa.Text(), nullable=True),
        sa.Column("opt_out_key", sa.String(length=1), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "caller_id_mode IN ('fixed', 'local_presence')", name=op.f("ck_campaigns_caller_id_mode")
        ),
        sa.CheckConstraint(
            "dedupe_scope IN ('none', 'list', 'campaign', 'organization')",
            name=op.f("ck_campaigns_dedupe_scope"),
        ),
        sa.CheckConstraint(
            "dial_method IN ('predictive', 'progressive', 'preview')", name=op.f("ck_campaigns_dial_method")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'paused', 'finished')", name=op.f("ck_campaigns_status")
        ),
        sa.CheckConstraint(
            "abandon_target > 0 AND abandon_target <= 0.03", name=op.f("ck_campaigns_abandon_target")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_campaigns_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("org_id", "name", name="uq_campaigns_org_name"),
    )
    op.create_index(op.f("ix_campaigns_org_id"), "campaigns", ["org_id"], unique=False)
    op.create_table(
        "call_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("trunk", sa.String(length=100), nullable=False),
        sa.Column("caller_id", sa.String(length=16), nullable=True),
        sa.Column("attestation", sa.String(length=1), nullable=True),
        sa.Column("attestation_reason", sa.Text(), nullable=True),
        sa.Column("origid", sa.String(length=64), nullable=True),
        sa.Column("identity_header_present", sa.Boolean(), nullable=False),
        sa.Column("sip_call_id", sa.String(length=255), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ringing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sip_status", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("verdict_reasons", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_call_attempts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_call_attempts_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_attempts")),
    )
    op.create_index(
        "ix_call_attempts_campaign_placed", "call_attempts", ["campaign_id", "placed_at"], unique=False
    )
    op.create_index("ix_call_attempts_lead", "call_attempts", ["lead_id"], unique=False)
    op.create_index(
        "ix_call_attempts_org_e164_placed", "call_attempts", ["org_id", "e164", "placed_at"], unique=False
    )
    op.create_table(
        "campaign_agents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_agents_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_campaign_agents_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_campaign_agents_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_agents")),
        sa.UniqueConstraint("campaign_id", "user_id", name="uq_campaign_agents_campaign_user"),
    )
    op.create_index(op.f("ix_campaign_agents_org_id"), "campaign_agents", ["org_id"], unique=False)
    op.create_table(
        "dispositions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("human_answered", sa.Boolean(), nullable=False),
        sa.Column("sale", sa.Boolean(), nullable=False),
        sa.Column("dnc", sa.Boolean(), nullable=False),
        sa.Column("callback", sa.Boolean(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_dispositions_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_dispositions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispositions")),
        sa.UniqueConstraint("campaign_id", "code", name="uq_dispositions_campaign_code"),
    )
    op.create_index(op.f("ix_dispositions_org_id"), "dispositions", ["org_id"], unique=False)
    op.create_table(
        "lead_lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("column_mapping", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("error_report", sa.Text(), nullable=True),
        sa.Column("import_job_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'paused', 'deleting')", name=op.f("ck_lead_lists_status")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_lead_lists_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_lead_lists_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_lists")),
    )
    op.create_index("ix_lead_lists_campaign_sha", "lead_lists", ["campaign_id", "file_sha256"], unique=False)
    op.create_index(op.f("ix_lead_lists_org_id"), "lead_lists", ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lead_lists_org_id"), table_name="lead_lists")
    op.drop_index("ix_lead_lists_campaign_sha", table_name="lead_lists")
    op.drop_table("lead_lists")
    op.drop_index(op.f("ix_dispositions_org_id"), table_name="dispositions")
    op.drop_table("dispositions")
    op.drop_index(op.f("ix_campaign_agents_org_id"), table_name="campaign_agents")
    op.drop_table("campaign_agents")
    op.drop_index("ix_call_attempts_org_e164_placed", table_name="call_attempts")
    op.drop_index("ix_call_attempts_lead", table_name="call_attempts")
    op.drop_index("ix_call_attempts_campaign_placed", table_name="call_attempts")
    op.drop_table("call_attempts")
    op.drop_index(op.f("ix_campaigns_org_id"), table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_index(
        "ix_leads_hopper_expired", table_name="leads", postgresql_where=sa.text("status = 'in_progress'")
    )
    op.drop_index(
        "ix_leads_hopper_callback", table_name="leads", postgresql_where=sa.text("status = 'callback'")
    )
    op.drop_index(
        "ix_leads_hopper_callable", table_name="leads", postgresql_where=sa.text("status = 'callable'")
    )
    op.drop_index("ix_leads_campaign_list_e164", table_name="leads")
    op.drop_table("leads")
