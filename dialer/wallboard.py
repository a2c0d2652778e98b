"""A campaign's wallboard: what the engine is doing now (its live counters and the agent board in Redis,
cheap enough to read every tick) and the day's and 30 days' figures from the call records (PostgreSQL,
read every few seconds). `wallboard_snapshot` turns both into the one JSON document the console renders
and pushes; it is a plain function of its inputs and the clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.legal import ABANDON_LIMIT as LEGAL_LIMIT
from core.models import User
from dialer.abandon_report import AbandonReport, load_report
from dialer.engine.live import CampaignLive
from dialer.figures import Figures, MinuteFigures, campaign_figures, per_minute, start_of_utc_day

CHART_MINUTES = 60  # the per-minute chart shows the last hour


@dataclass(frozen=True)
class RecordFigures:
    """The wallboard's figures from the call records."""

    today: Figures
    rolling: AbandonReport
    minutes: list[MinuteFigures]
    agent_names: dict[str, str] = field(default_factory=dict)


def read_record_figures(
    session: Session, campaign_id: uuid.UUID, agent_ids: list[str], *, now: datetime
) -> RecordFigures:
    names: dict[str, str] = {}
    if agent_ids:
        rows = session.execute(
            select(User.id, User.email).where(User.id.in_([uuid.UUID(a) for a in agent_ids]))
        ).all()
        names = {str(r.id): r.email for r in rows}
    return RecordFigures(
        today=campaign_figures(session, campaign_id, start_of_utc_day(now)),
        rolling=load_report(session, campaign_id, now=now),
        minutes=per_minute(session, campaign_id, now - timedelta(minutes=CHART_MINUTES)),
        agent_names=names,
    )


def _chart(minutes: list[MinuteFigures], now: datetime) -> dict[str, list[int]]:
    """Every minute of the last hour (zeros included), as uPlot-style columns."""
    first = now.astimezone(UTC).replace(second=0, microsecond=0) - timedelta(minutes=CHART_MINUTES - 1)
    by_minute = {m.minute: m for m in minutes}
    out: dict[str, list[int]] = {"t": [], "placed": [], "answered": [], "abandoned": []}
    for i in range(CHART_MINUTES):
        at = first + timedelta(minutes=i)
        m = by_minute.get(at)
        out["t"].append(int(at.timestamp()))
        out["placed"].append(m.placed if m else 0)
        out["answered"].append(m.answered if m else 0)
        out["abandoned"].append(m.abandoned if m else 0)
    return out


def wallboard_snapshot(
    campaign_id: uuid.UUID,
    status: str,
    live: CampaignLive,
    records: RecordFigures,
    *,
    now: datetime,
) -> dict[str, Any]:
    stats = live.stats
    rolling = records.rolling
    return {
        "campaign_id": str(campaign_id),
        "status": status,
        "engine_running": stats.running,
        "engine_updated_ms": stats.updated_ms,
        "calls_in_progress": stats.calls_in_progress,
        "calls_placed": stats.calls_placed,
        "answered": stats.answered,
        "connected": stats.connected,
        "abandoned": stats.abandoned,
        "dial_level": round(stats.dial_level, 2),
        "legal_limit": LEGAL_LIMIT,
        "today": {
            "placed": records.today.calls_placed,
            "answered": records.today.answered,
            "connected": records.today.connected,
            "abandoned": records.today.abandoned,
            "abandon_rate": records.today.abandon_rate,
        },
        "rolling": {
            "answered": rolling.human_answered,
            "abandoned": rolling.abandoned,
            "abandon_rate": rolling.abandon_rate,
            "compliant": rolling.compliant,
            "drops_until_limit": rolling.drops_until_limit,
        },
        "agent_states": live.agent_states,
        "agents": [
            {
                "agent_id": a.agent_id,
                "name": records.agent_names.get(a.agent_id, a.agent_id[:8]),
                "state": a.state.value,
                "since_ms": a.since_ms,
                "pause_code": a.pause_code,
                "pause_requested": a.pause_requested,
            }
            for a in sorted(live.agents, key=lambda a: records.agent_names.get(a.agent_id, a.agent_id))
        ],
        "chart": _chart(records.minutes, now),
        "now_ms": int(now.timestamp() * 1000),
    }
