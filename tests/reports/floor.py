"""A seeded random floor for the report tests: two campaigns, three agents, four lists, calls (some
blocked, some outside the range), agent sessions, opt-outs and revocations, written to PostgreSQL and
kept as plain dicts so the tests can recount every figure independently of the SQL."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from campaigns.models import CallAttempt, Lead, LeadList
from core.db import Scope
from dialer.models import AgentSession
from dnc.models import ConsentRecord, InternalDncEntry
from tests.conftest import Tenant
from tests.engine.factories import make_campaign

SINCE = date(2026, 6, 1)
UNTIL = date(2026, 6, 3)
START = datetime(2026, 6, 1, tzinfo=UTC)
END = datetime(2026, 6, 4, tzinfo=UTC)
OUTCOMES = ("human", "abandoned", "machine", "no_answer", "busy", "blocked", "failed")
CODES = ("SALE", "NI", "CALLBACK", "DNC")
REASONS = ("national_dnc", "internal_dnc", "calling_hours", "state_dnc")


@dataclass
class Floor:
    campaigns: list[uuid.UUID]
    lists: dict[uuid.UUID, uuid.UUID]  # list -> campaign
    agents: list[uuid.UUID]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    dnc: list[dict[str, Any]] = field(default_factory=list)
    revocations: list[dict[str, Any]] = field(default_factory=list)


def generate_floor(runtime: Any, tenant: Tenant, seed: int = 17) -> Floor:
    rng = random.Random(seed)
    agent_ids = [tenant.users["agent"].id, tenant.users["manager"].id, tenant.users["org_admin"].id]
    campaigns = [make_campaign(runtime, tenant.id, active=False) for _ in range(2)]
    floor = Floor([c.id for c in campaigns], {}, agent_ids)
    with runtime.db.session(Scope(tenant.id)) as s:
        for campaign in campaigns:
            for n in range(2):
                lead_list = LeadList(org_id=tenant.id, campaign_id=campaign.id, name=f"list-{n}")
                s.add(lead_list)
                s.flush()
                floor.lists[lead_list.id] = campaign.id
        list_ids = list(floor.lists)
        for i in range(160):
            list_id = rng.choice(list_ids)
            status = rng.choice(("callable", "callable", "done", "blocked", "callback"))
            dialed = rng.random() < 0.6
            lead = Lead(
                org_id=tenant.id,
                campaign_id=floor.lists[list_id],
                list_id=list_id,
                row_number=i + 2,
                phone_raw=f"+1303555{i:04d}",
                phone_e164=f"+1303555{i:04d}",
                status=status,
                last_attempt_at=START if dialed else None,
            )
            s.add(lead)
            s.flush()
            floor.leads.append({"id": lead.id, "list": list_id, "status": status, "dialed": dialed})
        # Calls from half an hour before the range to half an hour after it: the edges must not count.
        for _ in range(900):
            lead = rng.choice(floor.leads)
            campaign_id = floor.lists[lead["list"]]
            placed = (
                START
                - timedelta(minutes=30)
                + timedelta(seconds=rng.randrange(int((END - START).total_seconds()) + 3600))
            )
            outcome = rng.choice(OUTCOMES)
            row: dict[str, Any] = {
                "campaign": campaign_id,
                "placed": placed,
                "outcome": outcome,
                "lead": lead["id"],
                "list": lead["list"],
                "agent": None,
                "connected": None,
                "ended": None,
                "disposed": None,
                "disposition": None,
                "reasons": [],
                "e164": f"+1303555{lead['id'] % 10000:04d}",
            }
            if outcome == "blocked":
                row["reasons"] = rng.sample(REASONS, rng.choice((1, 1, 2)))
            elif outcome in ("human", "abandoned", "machine"):
                row["answered"] = placed + timedelta(seconds=5)
            if outcome == "human":
                row["agent"] = rng.choice(agent_ids)
                row["connected"] = placed + timedelta(seconds=6)
                row["ended"] = row["connected"] + timedelta(seconds=rng.randint(10, 300))
                if rng.random() < 0.85:
                    row["disposed"] = row["ended"] + timedelta(seconds=rng.randint(1, 40))
                    row["disposition"] = rng.choice(CODES)
            floor.attempts.append(row)
            s.add(
                CallAttempt(
                    org_id=tenant.id,
                    lead_id=lead["id"],
                    campaign_id=campaign_id,
                    e164=row["e164"],
                    placed_at=placed,
                    answered_at=row.get("answered"),
                    agent_connected_at=row["connected"],
                    ended_at=row["ended"],
                    outcome=outcome,
                    agent_id=row["agent"],
                    disposition=row["disposition"],
                    disposed_at=row["disposed"],
                    verdict_reasons=row["reasons"],
                )
            )
        for agent in agent_ids:  # sessions, one straddling the range's start
            for start, hours in ((START - timedelta(hours=2), 5), (START + timedelta(days=1, hours=3), 7)):
                campaign_id = rng.choice(floor.campaigns)
                s.add(
                    AgentSession(
                        org_id=tenant.id,
                        agent_id=agent,
                        campaign_id=campaign_id,
                        sip_uri="sip:a@127.0.0.1",
                        started_at=start,
                        ended_at=start + timedelta(hours=hours),
                    )
                )
                floor.sessions.append(
                    {
                        "agent": agent,
                        "campaign": campaign_id,
                        "start": start,
                        "end": start + timedelta(hours=hours),
                    }
                )
        for _ in range(
            40
        ):  # opt-outs about numbers called (some by another campaign, some outside the range)
            call = rng.choice(floor.attempts)
            at = call["placed"] + timedelta(minutes=rng.randint(1, 60 * 30))
            entry = {
                "e164": call["e164"],
                "source": rng.choice(("agent", "opt_out_key", "api")),
                "at": at,
                "campaign": rng.choice((None, None, call["campaign"])),
            }
            if any(d["e164"] == entry["e164"] and d["campaign"] == entry["campaign"] for d in floor.dnc):
                continue  # one entry per number and scope
            s.add(
                InternalDncEntry(
                    org_id=tenant.id,
                    e164=entry["e164"],
                    campaign_id=entry["campaign"],
                    source=entry["source"],
                    added_at=at,
                )
            )
            floor.dnc.append(entry)
        for _ in range(30):
            call = rng.choice(floor.attempts)
            at = call["placed"] + timedelta(minutes=rng.randint(1, 60 * 30))
            source = rng.choice(("agent", "api", "opt_out_key"))
            s.add(
                ConsentRecord(
                    org_id=tenant.id,
                    e164=call["e164"],
                    seller="seller",
                    kind="express",
                    source="api",
                    given_at=START - timedelta(days=30),
                    revoked_at=at,
                    revoked_source=source,
                )
            )
            floor.revocations.append({"e164": call["e164"], "at": at, "source": source})
    return floor
