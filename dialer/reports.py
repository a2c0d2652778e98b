"""The daily reports of a call center, for a date range, per campaign or for the whole organization:

- `agent_performance`: calls handled, talk and wrap-up time, logged-in, ready and paused time (by pause
  code, from the agent state history `dialer.engine.state_log` writes), occupancy, dispositions, sales;
- `campaign_by_hour`: dials, answers (person / machine), connects, abandons, contact and abandon rate;
- `list_penetration`: dispositions of the range, and each list's leads not yet dialed, dialed, done, blocked;
- `dnc_compliance`: dial-time blocks by reason and by list, opt-outs and consent revocations.

Every figure is one grouped SQL query through the caller's organization-scoped session (the ORM hook adds
`org_id = :scope`), bounded by the range on an indexed time column (`call_attempts` by `placed_at`): the
API, the CSV download and the console page are thin callers of `build`. A report is a list of `Table`s of
plain values, so JSON, CSV and HTML are written the same way for all four.

Days are UTC days; `until` is inclusive. Calls count in the range by their placement time.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO

from sqlalchemy import and_, func, literal_column, or_, select
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, Campaign, Disposition, Lead, LeadList, LeadStatus, Outcome
from core.errors import ValidationError
from core.models import User
from core.safe_csv import SafeWriter
from dialer.models import AgentSession, AgentStateInterval
from dnc.models import ConsentRecord, InternalDncEntry

# A report spans at most this many days: a quarter, enough for monthly comparisons, small enough that one
# request cannot scan the whole history of a big floor.
MAX_DAYS = 92
PERSON_ANSWERED = (Outcome.HUMAN.value, Outcome.ABANDONED.value)
# An opt-out made during a call is recorded a little after the call was placed: how far back to look for
# the campaign's call to the number when a campaign's opt-outs are counted.
OPT_OUT_LOOKBACK = timedelta(days=1)
# No agent state lasts longer than this (shifts are shorter): bounds the scan of the state history.
LONGEST_STATE = timedelta(days=1)


class ReportKind(enum.StrEnum):
    AGENT_PERFORMANCE = "agent-performance"
    CAMPAIGN_BY_HOUR = "campaign-by-hour"
    LIST_PENETRATION = "list-penetration"
    DNC_COMPLIANCE = "dnc-compliance"


TITLES = {
    ReportKind.AGENT_PERFORMANCE: "Agent performance",
    ReportKind.CAMPAIGN_BY_HOUR: "Campaign by hour",
    ReportKind.LIST_PENETRATION: "Dispositions and list penetration",
    ReportKind.DNC_COMPLIANCE: "DNC and compliance",
}


@dataclass(frozen=True)
class ReportRange:
    """UTC days `since`..`until` (inclusive), optionally one campaign."""

    since: date
    until: date
    campaign_id: uuid.UUID | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:  # exclusive
        return datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=UTC)


def parse_range(
    since: str | None, until: str | None, campaign_id: uuid.UUID | None, *, today: date
) -> ReportRange:
    """The range a user asked for (ISO dates; default: the last 7 days up to `today`), or a clear error."""

    def day(name: str, value: str | None, default: date) -> date:
        if value is None or value == "":
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"{name} must be a date YYYY-MM-DD, got {value!r}", field=name) from None

    end = day("until", until, today)
    start = day("since", since, end - timedelta(days=6))
    if start > end:
        raise ValidationError(
            f"since ({start.isoformat()}) must not be after until ({end.isoformat()})", field="since"
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationError(
            f"a report spans at most {MAX_DAYS} days; {start.isoformat()}..{end.isoformat()} is "
            f"{(end - start).days + 1}",
            field="since",
        )
    return ReportRange(start, end, campaign_id)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "int"  # int | seconds | ratio | text


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] | None = None
    # The chart of this table: bars of `chart_value` per `chart_label` (None: no chart).
    chart_label: str | None = None
    chart_values: tuple[str, ...] = ()


@dataclass
class Report:
    kind: ReportKind
    range: ReportRange
    tables: list[Table]

    @property
    def title(self) -> str:
        return TITLES[self.kind]


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _in_range(rng: ReportRange) -> list[Any]:
    where = [CallAttempt.placed_at >= rng.start, CallAttempt.placed_at < rng.end]
    if rng.campaign_id is not None:
        where.append(CallAttempt.campaign_id == rng.campaign_id)
    return where


def _seconds(later: Any, earlier: Any) -> Any:
    return func.coalesce(func.sum(func.extract("epoch", later - earlier)), 0)


# --------------------------------------------------------------------------------- agent performance


def agent_performance(session: Session, rng: ReportRange, *, now: datetime) -> Report:
    """Per agent: calls bridged to them, talk (connect to end), wrap-up (end to disposition), logged-in time
    (their sessions' overlap with the range), occupancy = (talk + wrap) / logged in, dispositions, sales."""
    connected = CallAttempt.agent_connected_at.is_not(None)
    ended = and_(connected, CallAttempt.ended_at.is_not(None))
    wrapped = and_(
        ended, CallAttempt.disposed_at.is_not(None), CallAttempt.disposed_at >= CallAttempt.ended_at
    )
    calls = session.execute(
        select(
            CallAttempt.agent_id,
            CallAttempt.campaign_id,
            CallAttempt.disposition,
            func.count().filter(connected).label("handled"),
            func.coalesce(
                func.sum(func.extract("epoch", CallAttempt.ended_at - CallAttempt.agent_connected_at)).filter(
                    ended
                ),
                0,
            ).label("talk_s"),
            func.coalesce(
                func.sum(func.extract("epoch", CallAttempt.disposed_at - CallAttempt.ended_at)).filter(
                    wrapped
                ),
                0,
            ).label("wrap_s"),
        )
        .where(*_in_range(rng), CallAttempt.agent_id.is_not(None))
        .group_by(CallAttempt.agent_id, CallAttempt.campaign_id, CallAttempt.disposition)
    ).all()
    sale_codes = _sale_codes(session, {row.campaign_id for row in calls})

    sessions_where = [
        AgentSession.started_at < rng.end,
        or_(AgentSession.ended_at.is_(None), AgentSession.ended_at > rng.start),
    ]
    if rng.campaign_id is not None:
        sessions_where.append(AgentSession.campaign_id == rng.campaign_id)
    upper = func.least(func.coalesce(AgentSession.ended_at, now), rng.end)
    lower = func.greatest(AgentSession.started_at, rng.start)
    logged: dict[uuid.UUID, float] = {
        agent_id: float(seconds)
        for agent_id, seconds in session.execute(
            select(
                AgentSession.agent_id,
                func.coalesce(func.sum(func.greatest(func.extract("epoch", upper - lower), 0)), 0),
            )
            .where(*sessions_where)
            .group_by(AgentSession.agent_id)
        ).all()
    }
    states = _state_seconds(session, rng, now=now)
    per_agent: dict[uuid.UUID, dict[str, Any]] = {}
    for row in calls:
        agent = per_agent.setdefault(
            row.agent_id, {"handled": 0, "talk_s": 0.0, "wrap_s": 0.0, "sales": 0, "dispositions": {}}
        )
        agent["handled"] += int(row.handled)
        agent["talk_s"] += float(row.talk_s)
        agent["wrap_s"] += float(row.wrap_s)
        if row.disposition:
            agent["dispositions"][row.disposition] = agent["dispositions"].get(row.disposition, 0) + int(
                row.handled
            )
            if row.disposition in sale_codes.get(row.campaign_id, ()):
                agent["sales"] += int(row.handled)
    agents = set(per_agent) | set(logged) | {agent for agent, _, _ in states}
    pause_codes = sorted({code for (_, state, code) in states if state == "PAUSED"})
    names = _user_names(session, agents)
    codes = sorted({code for a in per_agent.values() for code in a["dispositions"]})
    table = Table(
        "agents",
        "Per agent",
        [
            Column("agent", "Agent", "text"),
            Column("handled", "Calls handled"),
            Column("talk_s", "Talk time", "seconds"),
            Column("wrap_s", "Wrap-up time", "seconds"),
            Column("logged_in_s", "Logged in", "seconds"),
            Column("ready_s", "Ready (waiting)", "seconds"),
            Column("paused_s", "Paused", "seconds"),
            Column("occupancy", "Occupancy", "ratio"),
            Column("sales", "Sales"),
            Column("dispositions", "Dispositions", "text"),
        ],
        chart_label="agent",
        chart_values=("handled", "sales"),
    )
    for agent_id in sorted(agents, key=lambda a: names.get(a, str(a))):
        a = per_agent.get(
            agent_id, {"handled": 0, "talk_s": 0.0, "wrap_s": 0.0, "sales": 0, "dispositions": {}}
        )
        logged_s = float(logged.get(agent_id, 0.0))
        busy = a["talk_s"] + a["wrap_s"]
        table.rows.append(
            {
                "agent_id": str(agent_id),
                "agent": names.get(agent_id, str(agent_id)),
                "handled": a["handled"],
                "talk_s": round(a["talk_s"], 1),
                "wrap_s": round(a["wrap_s"], 1),
                "logged_in_s": round(logged_s, 1),
                "ready_s": round(states.get((agent_id, "READY", ""), 0.0), 1),
                "paused_s": round(sum(states.get((agent_id, "PAUSED", c), 0.0) for c in pause_codes), 1),
                "occupancy": round(min(_ratio(busy, logged_s), 1.0), 4),
                "sales": a["sales"],
                "dispositions": " ".join(
                    f"{c}={a['dispositions'][c]}" for c in codes if c in a["dispositions"]
                ),
            }
        )
    table.total = _sum_total(table, label_key="agent", ratios={"occupancy": ("talk_s+wrap_s", "logged_in_s")})
    by_code = Table(
        "dispositions_by_agent",
        "Dispositions per agent",
        [Column("agent", "Agent", "text"), *(Column(c, c) for c in codes)],
    )
    for agent_row in table.rows:
        d = per_agent.get(uuid.UUID(agent_row["agent_id"]), {"dispositions": {}})["dispositions"]
        by_code.rows.append({"agent": agent_row["agent"], **{c: d.get(c, 0) for c in codes}})
    by_code.total = _sum_total(by_code, label_key="agent")
    pauses = Table(
        "pause_codes",
        "Pause time per agent, by pause code",
        [Column("agent", "Agent", "text"), *(Column(c, c or "(no code)", "seconds") for c in pause_codes)],
    )
    for agent_row in table.rows:
        agent_id = uuid.UUID(agent_row["agent_id"])
        pauses.rows.append(
            {
                "agent": agent_row["agent"],
                **{c: round(states.get((agent_id, "PAUSED", c), 0.0), 1) for c in pause_codes},
            }
        )
    pauses.total = _sum_total(pauses, label_key="agent")
    return Report(ReportKind.AGENT_PERFORMANCE, rng, [table, by_code, pauses])


def _state_seconds(
    session: Session, rng: ReportRange, *, now: datetime
) -> dict[tuple[uuid.UUID, str, str], float]:
    """Seconds of each (agent, state, pause code) inside the range, from the agent state history (an open
    interval counts up to `now`). An interval starts at most a day before the range (a shift is shorter),
    which keeps the scan on the (org, started_at) index."""
    upper = func.least(func.coalesce(AgentStateInterval.ended_at, now), rng.end)
    lower = func.greatest(AgentStateInterval.started_at, rng.start)
    where = [
        AgentStateInterval.started_at < rng.end,
        AgentStateInterval.started_at >= rng.start - LONGEST_STATE,
        or_(AgentStateInterval.ended_at.is_(None), AgentStateInterval.ended_at > rng.start),
    ]
    if rng.campaign_id is not None:
        where.append(AgentStateInterval.campaign_id == rng.campaign_id)
    rows = session.execute(
        select(
            AgentStateInterval.agent_id,
            AgentStateInterval.state,
            AgentStateInterval.pause_code,
            func.sum(func.greatest(func.extract("epoch", upper - lower), 0)),
        )
        .where(*where)
        .group_by(AgentStateInterval.agent_id, AgentStateInterval.state, AgentStateInterval.pause_code)
    ).all()
    return {(agent, state, code): float(seconds or 0) for agent, state, code, seconds in rows}


def _sale_codes(session: Session, campaign_ids: set[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    if not campaign_ids:
        return {}
    out: dict[uuid.UUID, set[str]] = defaultdict(set)
    for campaign_id, code in session.execute(
        select(Disposition.campaign_id, Disposition.code).where(
            Disposition.campaign_id.in_(campaign_ids), Disposition.sale.is_(True)
        )
    ):
        out[campaign_id].add(code)
    return out


def _user_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return {
        user_id: (name or email)
        for user_id, name, email in session.execute(
            select(User.id, User.display_name, User.email).where(User.id.in_(ids))
        )
    }


def _sum_total(
    table: Table, *, label_key: str, ratios: dict[str, tuple[str, str]] | None = None
) -> dict[str, Any]:
    total: dict[str, Any] = {label_key: "Total"}
    for column in table.columns:
        if column.key == label_key or column.kind in ("text", "ratio"):
            continue
        value = sum(row.get(column.key, 0) or 0 for row in table.rows)
        total[column.key] = round(value, 1) if column.kind == "seconds" else value
    for key, (part, whole) in (ratios or {}).items():
        numerator = sum(total.get(k, 0) for k in part.split("+"))
        total[key] = round(min(_ratio(numerator, total.get(whole, 0)), 1.0), 4)
    return total


# ----------------------------------------------------------------------------------- campaign by hour


def campaign_by_hour(session: Session, rng: ReportRange) -> Report:
    """Per UTC hour of placement: dials (calls placed; blocked ones are not dials), answers by a person and
    by a machine, connects to an agent, abandons; contact rate = person answers / dials, abandon rate =
    abandons / person answers (the law's base, as in the 30-day abandon report)."""
    hour = func.date_trunc("hour", func.timezone("UTC", CallAttempt.placed_at))
    outcome = CallAttempt.outcome
    rows = session.execute(
        select(
            hour.label("hour"),
            func.count().filter(outcome != Outcome.BLOCKED.value).label("dials"),
            func.count().filter(outcome.in_(PERSON_ANSWERED)).label("person"),
            func.count().filter(outcome == Outcome.MACHINE.value).label("machine"),
            func.count().filter(CallAttempt.agent_connected_at.is_not(None)).label("connects"),
            func.count().filter(outcome == Outcome.ABANDONED.value).label("abandons"),
        )
        .where(*_in_range(rng))
        .group_by(hour)
        .order_by(hour)
    ).all()
    table = Table(
        "hours",
        "Per hour (UTC)",
        [
            Column("hour", "Hour (UTC)", "text"),
            Column("dials", "Dials"),
            Column("answered_person", "Answered: person"),
            Column("answered_machine", "Answered: machine"),
            Column("connects", "Connects"),
            Column("abandons", "Abandons"),
            Column("contact_rate", "Contact rate", "ratio"),
            Column("abandon_rate", "Abandon rate", "ratio"),
        ],
        chart_label="hour",
        chart_values=("dials", "answered_person", "connects", "abandons"),
    )
    for row in rows:
        table.rows.append(_hour_row(row.hour.replace(tzinfo=UTC).strftime("%Y-%m-%d %H:00"), row))
    total = {
        k: sum(r[k] for r in table.rows)
        for k in ("dials", "answered_person", "answered_machine", "connects", "abandons")
    }
    table.total = {
        "hour": "Total",
        **total,
        "contact_rate": round(_ratio(total["answered_person"], total["dials"]), 4),
        "abandon_rate": round(_ratio(total["abandons"], total["answered_person"]), 4),
    }
    return Report(ReportKind.CAMPAIGN_BY_HOUR, rng, [table])


def _hour_row(label: str, row: Any) -> dict[str, Any]:
    return {
        "hour": label,
        "dials": int(row.dials),
        "answered_person": int(row.person),
        "answered_machine": int(row.machine),
        "connects": int(row.connects),
        "abandons": int(row.abandons),
        "contact_rate": round(_ratio(row.person, row.dials), 4),
        "abandon_rate": round(_ratio(row.abandons, row.person), 4),
    }


# --------------------------------------------------------------------- dispositions, list penetration


def list_penetration(session: Session, rng: ReportRange) -> Report:
    """The dispositions agents (or the wrap-up timeout) gave in the range, then each list's leads as they
    stand now: not yet dialed, dialed (and still to be called again), done, blocked; penetration = leads
    dialed at least once / leads."""
    dispositions = session.execute(
        select(CallAttempt.campaign_id, CallAttempt.disposition, func.count())
        .where(*_in_range(rng), CallAttempt.disposition.is_not(None))
        .group_by(CallAttempt.campaign_id, CallAttempt.disposition)
    ).all()
    flags = _disposition_flags(session, {row[0] for row in dispositions})
    by_code: dict[str, list[Any]] = {}
    for campaign_id, code, count in dispositions:
        label, sale = flags.get((campaign_id, code), ("", False))
        entry = by_code.setdefault(code, [label, sale, 0])
        entry[2] += int(count)
        entry[0] = entry[0] or label
    codes = Table(
        "dispositions",
        "Dispositions",
        [
            Column("code", "Disposition", "text"),
            Column("label", "Label", "text"),
            Column("sale", "Sale", "text"),
            Column("calls", "Calls"),
            Column("share", "Share", "ratio"),
        ],
        chart_label="code",
        chart_values=("calls",),
    )
    all_calls = sum(entry[2] for entry in by_code.values())
    for code, (label, sale, count) in sorted(by_code.items(), key=lambda kv: (-kv[1][2], kv[0])):
        codes.rows.append(
            {
                "code": code,
                "label": label,
                "sale": "yes" if sale else "",
                "calls": count,
                "share": round(_ratio(count, all_calls), 4),
            }
        )
    codes.total = {"code": "Total", "calls": all_calls, "share": 1.0 if all_calls else 0.0}

    status = Lead.status
    dialed = Lead.last_attempt_at.is_not(None)
    final = status.in_([LeadStatus.DONE.value, LeadStatus.BLOCKED.value])
    where = [Lead.campaign_id == rng.campaign_id] if rng.campaign_id is not None else []
    counts = session.execute(
        select(
            Lead.list_id,
            func.count().label("leads"),
            func.count().filter(~final, ~dialed).label("not_dialed"),
            func.count().filter(~final, dialed).label("dialed"),
            func.count().filter(status == LeadStatus.DONE.value).label("done"),
            func.count().filter(status == LeadStatus.BLOCKED.value).label("blocked"),
            func.count().filter(dialed).label("ever_dialed"),
        )
        .where(*where)
        .group_by(Lead.list_id)
    ).all()
    names = _list_names(session, {row.list_id for row in counts})
    lists = Table(
        "lists",
        "Lists (leads as they stand now)",
        [
            Column("list", "List", "text"),
            Column("campaign", "Campaign", "text"),
            Column("leads", "Leads"),
            Column("not_dialed", "Not yet dialed"),
            Column("dialed", "Dialed, to call again"),
            Column("done", "Done"),
            Column("blocked", "Blocked"),
            Column("penetration", "Penetration", "ratio"),
        ],
        chart_label="list",
        chart_values=("not_dialed", "dialed", "done", "blocked"),
    )
    for row in sorted(counts, key=lambda r: names.get(r.list_id, ("", ""))):
        name, campaign = names.get(row.list_id, (f"(removed list {row.list_id})", ""))
        lists.rows.append(
            {
                "list_id": str(row.list_id),
                "list": name,
                "campaign": campaign,
                "leads": int(row.leads),
                "not_dialed": int(row.not_dialed),
                "dialed": int(row.dialed),
                "done": int(row.done),
                "blocked": int(row.blocked),
                "penetration": round(_ratio(row.ever_dialed, row.leads), 4),
            }
        )
    ever = sum(int(row.ever_dialed) for row in counts)
    lists.total = _sum_total(lists, label_key="list")
    lists.total["penetration"] = round(_ratio(ever, lists.total.get("leads", 0)), 4)
    return Report(ReportKind.LIST_PENETRATION, rng, [codes, lists])


def _disposition_flags(
    session: Session, campaign_ids: set[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], tuple[str, bool]]:
    if not campaign_ids:
        return {}
    return {
        (campaign_id, code): (label, sale)
        for campaign_id, code, label, sale in session.execute(
            select(Disposition.campaign_id, Disposition.code, Disposition.label, Disposition.sale).where(
                Disposition.campaign_id.in_(campaign_ids)
            )
        )
    }


def _list_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    if not ids:
        return {}
    return {
        list_id: (name, campaign)
        for list_id, name, campaign in session.execute(
            select(LeadList.id, LeadList.name, Campaign.name)
            .join(Campaign, Campaign.id == LeadList.campaign_id)
            .where(LeadList.id.in_(ids))
        )
    }


# ------------------------------------------------------------------------------------ DNC, compliance


def dnc_compliance(session: Session, rng: ReportRange) -> Report:
    """Calls the dial-time check refused in the range, by reason and by list (a call refused for two
    reasons counts under both); opt-outs (internal DNC entries added) by source; consent revocations by
    source. For one campaign, opt-outs and revocations are those scoped to it or made about a number the
    campaign called in the range."""
    blocked = [*_in_range(rng), CallAttempt.outcome == Outcome.BLOCKED.value]
    reason = func.jsonb_array_elements_text(CallAttempt.verdict_reasons).table_valued("value").alias("reason")
    by_reason = session.execute(
        # Counting an ORM column (not count(*) over select_from) makes the organization scope apply.
        select(reason.c.value, func.count(CallAttempt.id))
        .select_from(CallAttempt)
        .join(reason, literal_column("true"))
        .where(*blocked)
        .group_by(reason.c.value)
        .order_by(func.count(CallAttempt.id).desc(), reason.c.value)
    ).all()
    reasons = Table(
        "blocks_by_reason",
        "Calls blocked at dial time, by reason",
        [Column("reason", "Reason", "text"), Column("calls", "Calls")],
        chart_label="reason",
        chart_values=("calls",),
    )
    reasons.rows = [{"reason": r, "calls": int(n)} for r, n in by_reason]
    calls_blocked = session.execute(select(func.count(CallAttempt.id)).where(*blocked)).scalar_one()
    reasons.total = {"reason": "Calls blocked (once each)", "calls": int(calls_blocked)}

    by_list = session.execute(
        select(Lead.list_id, func.count(CallAttempt.id))
        .select_from(CallAttempt)
        .outerjoin(Lead, Lead.id == CallAttempt.lead_id)
        .where(*blocked)
        .group_by(Lead.list_id)
    ).all()
    names = _list_names(session, {list_id for list_id, _ in by_list if list_id is not None})
    lists = Table(
        "blocks_by_list",
        "Calls blocked at dial time, by list",
        [Column("list", "List", "text"), Column("campaign", "Campaign", "text"), Column("calls", "Calls")],
    )
    for list_id, count in sorted(by_list, key=lambda r: names.get(r[0], ("~", "")) if r[0] else ("~", "")):
        name, campaign = names.get(list_id, ("(removed list)", "")) if list_id else ("(removed list)", "")
        lists.rows.append({"list": name, "campaign": campaign, "calls": int(count)})
    lists.total = {"list": "Total", "calls": sum(r["calls"] for r in lists.rows)}

    dnc_where = [InternalDncEntry.added_at >= rng.start, InternalDncEntry.added_at < rng.end]
    consent_where = [ConsentRecord.revoked_at >= rng.start, ConsentRecord.revoked_at < rng.end]
    if rng.campaign_id is not None:
        dnc_where.append(
            or_(
                InternalDncEntry.campaign_id == rng.campaign_id,
                _called_by_campaign(
                    rng, InternalDncEntry.org_id, InternalDncEntry.e164, InternalDncEntry.added_at
                ),
            )
        )
        consent_where.append(
            _called_by_campaign(rng, ConsentRecord.org_id, ConsentRecord.e164, ConsentRecord.revoked_at)
        )
    opt_outs = Table(
        "opt_outs",
        "Opt-outs (internal DNC entries added), by source",
        [Column("source", "Source", "text"), Column("entries", "Entries")],
        chart_label="source",
        chart_values=("entries",),
    )
    opt_outs.rows = [
        {"source": s, "entries": int(n)}
        for s, n in session.execute(
            select(InternalDncEntry.source, func.count())
            .where(*dnc_where)
            .group_by(InternalDncEntry.source)
            .order_by(InternalDncEntry.source)
        )
    ]
    opt_outs.total = {"source": "Total", "entries": sum(r["entries"] for r in opt_outs.rows)}
    revocations = Table(
        "revocations",
        "Consent revocations, by source",
        [Column("source", "Source", "text"), Column("revocations", "Revocations")],
    )
    revocations.rows = [
        {"source": s or "(unknown)", "revocations": int(n)}
        for s, n in session.execute(
            select(ConsentRecord.revoked_source, func.count())
            .where(*consent_where)
            .group_by(ConsentRecord.revoked_source)
            .order_by(ConsentRecord.revoked_source)
        )
    ]
    revocations.total = {"source": "Total", "revocations": sum(r["revocations"] for r in revocations.rows)}
    return Report(ReportKind.DNC_COMPLIANCE, rng, [reasons, lists, opt_outs, revocations])


def _called_by_campaign(rng: ReportRange, org_id: Any, e164: Any, at: Any) -> Any:
    """The campaign called the number at most a day before `at` (the (org, e164, placed_at) index).
    Selected from CallAttempt, not a bare exists(): the organization scope filters only what a query
    selects from (core.db), and refuses a class named only in a WHERE."""
    return (
        select(CallAttempt.id)
        .where(
            CallAttempt.org_id == org_id,
            CallAttempt.e164 == e164,
            CallAttempt.campaign_id == rng.campaign_id,
            CallAttempt.placed_at >= at - OPT_OUT_LOOKBACK,
            CallAttempt.placed_at <= at,
        )
        .exists()
    )


# ------------------------------------------------------------------------------------------- outputs

BUILDERS: dict[ReportKind, Callable[[Session, ReportRange, datetime], Report]] = {
    ReportKind.AGENT_PERFORMANCE: lambda s, r, now: agent_performance(s, r, now=now),
    ReportKind.CAMPAIGN_BY_HOUR: lambda s, r, now: campaign_by_hour(s, r),
    ReportKind.LIST_PENETRATION: lambda s, r, now: list_penetration(s, r),
    ReportKind.DNC_COMPLIANCE: lambda s, r, now: dnc_compliance(s, r),
}


def parse_kind(value: str) -> ReportKind:
    try:
        return ReportKind(value)
    except ValueError:
        raise ValidationError(
            f"unknown report {value!r}; the reports are {', '.join(k.value for k in ReportKind)}",
            field="report",
        ) from None


def build(session: Session, kind: ReportKind, rng: ReportRange, *, now: datetime) -> Report:
    """One report for the range, through the caller's scoped session."""
    return BUILDERS[kind](session, rng, now)


def as_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (the API's answer)."""
    return {
        "report": report.kind.value,
        "title": report.title,
        "since": report.range.since.isoformat(),
        "until": report.range.until.isoformat(),
        "campaign_id": str(report.range.campaign_id) if report.range.campaign_id else None,
        "tables": [
            {
                "name": t.name,
                "title": t.title,
                "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in t.columns],
                "rows": t.rows,
                "total": t.total,
            }
            for t in report.tables
        ],
    }


def write_csv(report: Report, out: TextIO) -> None:
    """The report as one CSV: each table as a block (`table` column first), header row then rows, then
    its total; spreadsheet formulas neutralised."""
    writer = SafeWriter(out)
    writer.writerow(
        [
            "report",
            report.kind.value,
            "since",
            report.range.since.isoformat(),
            "until",
            report.range.until.isoformat(),
            "campaign",
            str(report.range.campaign_id or "all"),
        ]
    )
    for table in report.tables:
        writer.writerow([])
        writer.writerow(["table", *(c.key for c in table.columns)])
        for row in [*table.rows, *([table.total] if table.total else [])]:
            writer.writerow([table.name, *(_csv_value(row.get(c.key), c) for c in table.columns)])


def _csv_value(value: Any, column: Column) -> Any:
    if value is None:
        return ""
    if column.kind == "ratio":
        return f"{value:.4f}"
    return value


def chart_bars(table: Table, *, limit: int = 400) -> list[tuple[str, Sequence[float]]]:
    """(label, values) of the table's chart, at most `limit` bars (the first ones)."""
    if table.chart_label is None:
        return []
    return [
        (str(row.get(table.chart_label, "")), [float(row.get(k, 0) or 0) for k in table.chart_values])
        for row in table.rows[:limit]
    ]
