"""Tables of the dialer package: agent sessions, trunk alarms and the agent phones an org allows.

Call attempts themselves are `campaigns.models.CallAttempt`; live agent state is in Redis
(`dialer.engine.agents`). These tables keep what must outlive a process: who was logged in, from which
phone, when their leg was up (evidence for the connect times in the attempts), and carrier rejections that
need a human (STIR/SHAKEN identity failures 428/436/437/438, trunk outages).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, OrgScoped, utcnow


class AgentSession(OrgScoped, Base):
    """One login of an agent to a campaign, from `started_at` until logout or loss of the phone leg."""

    __tablename__ = "dialer_agent_sessions"
    __table_args__ = (Index("ix_dialer_agent_sessions_agent_started", "agent_id", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    campaign_id: Mapped[uuid.UUID] = mapped_column(index=True)
    sip_uri: Mapped[str] = mapped_column(String(300))
    worker: Mapped[str] = mapped_column(String(64), default="")
    leg_id: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    connected_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str] = mapped_column(String(64), default="")
    calls_handled: Mapped[int] = mapped_column(default=0)


CAMPAIGN_CANNOT_RUN = "campaign_cannot_run"


class TrunkAlarm(OrgScoped, Base):
    """What a human must look at: carrier identity rejections (428/436/437/438), trunk failures, and an
    active campaign the engine cannot run (`campaign_cannot_run`: the reason, e.g. a broken profile)."""

    __tablename__ = "dialer_trunk_alarms"
    __table_args__ = (Index("ix_dialer_trunk_alarms_org_raised", "org_id", "raised_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    trunk: Mapped[str] = mapped_column(String(100))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    kind: Mapped[str] = mapped_column(
        String(40)
    )  # identity_rejected | trunk_failure | campaign_cannot_run | safe_harbor_failed
    sip_status: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(default=None)


class AgentPhoneRule(OrgScoped, Base):
    """What an org admin allows as an agent's phone (`dialer.phone_rules`): a registered phone URI
    (optionally reserved to one agent), a domain or a CIDR. No rule, no call to the phone."""

    __tablename__ = "dialer_agent_phone_rules"
    __table_args__ = (UniqueConstraint("org_id", "kind", "value", name="uq_dialer_agent_phone_rules_value"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))  # phone | domain | cidr
    value: Mapped[str] = mapped_column(String(300))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentStateInterval(OrgScoped, Base):
    """One stretch of an agent in one state (READY, INCALL, WRAP, PAUSED with its pause code, CONNECTING),
    from the live board's event stream (`dialer.engine.state_log`): the durable history the agent
    performance report reads pause time from. `ended_at` is NULL while the agent is still in it."""

    __tablename__ = "dialer_agent_state_intervals"
    __table_args__ = (
        Index("ix_dialer_agent_state_intervals_org_started", "org_id", "started_at"),
        Index(
            "ix_dialer_agent_state_intervals_open",
            "agent_id",
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    agent_id: Mapped[uuid.UUID] = mapped_column()
    campaign_id: Mapped[uuid.UUID] = mapped_column()
    state: Mapped[str] = mapped_column(String(16))
    pause_code: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
