"""an audit log that misses nothing (change triggers, append-only), TOTP MFA and password resets

Revision ID: 0012_secpriv
Revises: 0012_evidence

Every insert, update and delete of the audited tables writes an audit row from inside PostgreSQL, so no
path (API, console, CLI, job, engine, a bulk statement) can change them unaudited; who made the change
comes from transaction-local settings the application sets (`core.audit`) or, failing that, from the
connection's application name. The audit log itself refuses UPDATE, DELETE and TRUNCATE except for the
retention job, which says so with `clearline.audit_retention`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_secpriv"
down_revision: str | None = "0012_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (action noun, columns never written to the audit log (secrets), columns that are bookkeeping:
# a change of only these is not audited, and they are left out of before/after)
AUDITED: dict[str, tuple[str, str, str]] = {
    "organizations": ("organization", "", ""),
    "users": ("user", "password_hash,mfa_secret", "last_login_at,mfa_last_step"),
    "jobs": ("job", "", "progress_pct,counts,worker,message,started_at,attempts"),
    "campaigns": ("campaign", "", "updated_at"),
    "campaign_agents": ("campaign_agent", "", ""),
    "dispositions": ("disposition", "", ""),
    "lead_lists": ("lead_list", "", "counts"),
    "dnc_internal_entries": ("dnc.internal_entry", "", ""),
    "dnc_area_code_blocks": ("dnc.area_code_block", "", ""),
    "dnc_policies": ("dnc.policy", "", "updated_at"),
    "dnc_list_versions": ("dnc.list_version", "", ""),
    "consent_records": ("consent", "", ""),
    "tn_inventory": ("tn_range", "", ""),
    "signing_certificates": ("certificate", "encrypted_key", "chain_pem"),
    "dialer_trunk_alarms": ("alarm", "", ""),
    "dialer_agent_phone_rules": ("agent_phone_rule", "", ""),
    "user_recovery_codes": ("mfa.recovery_code", "code_hash", "used_at"),
}

AUDIT_CHANGE = r"""
CREATE OR REPLACE FUNCTION clearline_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    secret text[] := string_to_array(TG_ARGV[1], ',');
    noise text[] := string_to_array(TG_ARGV[2], ',');
    old_doc jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_doc jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    doc jsonb := coalesce(new_doc, old_doc);
    before jsonb := '{}';
    after jsonb := '{}';
    changed_secrets text[] := '{}';
    k text;
    org uuid;
    verb text;
    detail jsonb := '{}';
BEGIN
    IF coalesce(current_setting('clearline.audit_bulk', true), '') <> '' THEN
        RETURN NULL;  -- a bulk statement: the caller writes one summary row instead (core.audit.bulk)
    END IF;
    FOR k IN SELECT jsonb_object_keys(doc) LOOP
        CONTINUE WHEN k = ANY(noise);
        IF k = ANY(secret) THEN
            IF TG_OP <> 'UPDATE' OR old_doc -> k IS DISTINCT FROM new_doc -> k THEN
                changed_secrets := changed_secrets || k;
            END IF;
            CONTINUE;
        END IF;
        IF TG_OP = 'UPDATE' AND old_doc -> k IS NOT DISTINCT FROM new_doc -> k THEN
            CONTINUE;
        END IF;
        IF old_doc IS NOT NULL THEN before := before || jsonb_build_object(k, old_doc -> k); END IF;
        IF new_doc IS NOT NULL THEN after := after || jsonb_build_object(k, new_doc -> k); END IF;
    END LOOP;
    IF TG_OP = 'UPDATE' AND before = '{}' AND cardinality(changed_secrets) = 0 THEN
        RETURN NULL;  -- only bookkeeping columns changed
    END IF;
    IF TG_TABLE_NAME = 'organizations' THEN
        org := (doc ->> 'id')::uuid;
    ELSIF doc ? 'org_id' THEN
        org := (doc ->> 'org_id')::uuid;
    ELSIF doc ? 'owner_org_id' THEN
        org := (doc ->> 'owner_org_id')::uuid;
    END IF;
    IF old_doc IS NOT NULL THEN detail := detail || jsonb_build_object('before', before); END IF;
    IF new_doc IS NOT NULL THEN detail := detail || jsonb_build_object('after', after); END IF;
    IF cardinality(changed_secrets) > 0 THEN
        detail := detail || jsonb_build_object('secrets_changed', to_jsonb(changed_secrets));
    END IF;
    verb := CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END;
    INSERT INTO audit_log (org_id, user_id, actor, process, action, target, outcome, client_ip, detail, at)
    VALUES (
        org,
        nullif(current_setting('clearline.user_id', true), '')::uuid,
        coalesce(current_setting('clearline.actor', true), ''),
        coalesce(nullif(current_setting('clearline.process', true), ''), current_setting('application_name')),
        TG_ARGV[0] || '.' || verb,
        TG_TABLE_NAME || ':' || coalesce(doc ->> 'id', doc ->> 'jurisdiction', ''),
        'ok',
        nullif(current_setting('clearline.client_ip', true), '')::inet,
        detail,
        now()
    );
    RETURN NULL;
END $$;
"""

APPEND_ONLY = r"""
CREATE OR REPLACE FUNCTION clearline_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('clearline.audit_retention', true) = 'on' THEN
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    -- Deleting an organization sets org_id NULL on its rows (the foreign key): allowed, nothing else is.
    IF TG_OP = 'UPDATE' AND NEW.org_id IS NULL
       AND (to_jsonb(NEW) - 'org_id') = (to_jsonb(OLD) - 'org_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("process", sa.String(200), nullable=False, server_default=""))
    op.create_index("ix_audit_log_org_id_id", "audit_log", ["org_id", "id"])

    op.add_column("users", sa.Column("mfa_secret", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("mfa_enabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("users", sa.Column("mfa_last_step", sa.BigInteger(), nullable=True))
    op.add_column(
        "users", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "user_recovery_codes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("org_id", sa.Uuid(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True),
        sa.Column("code_hash", sa.Text(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_user_recovery_codes_user_id", "user_recovery_codes", ["user_id"])

    op.execute(AUDIT_CHANGE)
    for table, (noun, secret, noise) in AUDITED.items():
        op.execute(
            f"CREATE TRIGGER audit_change AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION clearline_audit_change('{noun}', '{secret}', '{noise}')"
        )
    op.execute(APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION clearline_audit_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION clearline_audit_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS clearline_audit_append_only()")
    for table in AUDITED:
        op.execute(f"DROP TRIGGER IF EXISTS audit_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS clearline_audit_change()")
    op.drop_index("ix_user_recovery_codes_user_id", "user_recovery_codes")
    op.drop_table("user_recovery_codes")
    for column in ("must_change_password", "mfa_last_step", "mfa_enabled", "mfa_secret"):
        op.drop_column("users", column)
    op.drop_index("ix_audit_log_org_id_id", "audit_log")
    op.drop_column("audit_log", "process")
