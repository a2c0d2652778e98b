"""data-subject requests (access, deletion, correction) of a called person or a platform user: the
request, its 30-day due date, the job that runs it, the evidence of its completion and the access export

Revision ID: 0014_privacy_requests
Revises: 0013_floor_safe_harbor
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_privacy_requests"
down_revision: str | None = "0014_reports_agent_states"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("org_id", sa.Uuid(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(8), nullable=False),
        sa.Column("phone_e164", sa.String(16), nullable=True),
        sa.Column("subject_user_id", sa.Uuid(), nullable=True),
        sa.Column("subject_name", sa.Text(), nullable=True),
        sa.Column("subject_email", sa.Text(), nullable=True),
        sa.Column("corrections", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("evidence", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("export", postgresql.JSONB(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('access', 'deletion', 'correction')", name="ck_privacy_requests_kind"),
        sa.CheckConstraint("subject IN ('lead', 'user')", name="ck_privacy_requests_subject"),
        sa.CheckConstraint(
            "status IN ('received', 'running', 'completed', 'failed')", name="ck_privacy_requests_status"
        ),
    )
    op.create_index("ix_privacy_requests_org_received", "privacy_requests", ["org_id", "received_at"])
    op.create_index("ix_privacy_requests_org_phone", "privacy_requests", ["org_id", "phone_e164"])
    # Audited like every compliance table (migration 0012's trigger); the person's name, email and the
    # corrected values are never copied into the audit log, nor is the access export.
    op.execute(
        "CREATE TRIGGER audit_change AFTER INSERT OR UPDATE OR DELETE ON privacy_requests FOR EACH ROW "
        "EXECUTE FUNCTION clearline_audit_change('privacy_request', 'subject_name,subject_email,corrections', "
        "'export')"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_change ON privacy_requests")
    op.drop_index("ix_privacy_requests_org_phone", "privacy_requests")
    op.drop_index("ix_privacy_requests_org_received", "privacy_requests")
    op.drop_table("privacy_requests")
