"""GET /metrics: the Prometheus text format, for a scraper holding the metrics token or in an allowed network.

Counters and histograms come from every process of this data dir (core/metrics.py: prometheus_client's
multiprocess files). State that is not an event (agents by state, DNC list age) is read here, at scrape
time, from Redis and the database. The figures are platform-wide: labels are ids (campaign, organization,
list), never a phone number, and the endpoint is for the operator's monitoring, not for users.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections import Counter as Tally
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from api.auth import PUBLIC
from api.client_ip import client_ip
from core import metrics
from core.runtime import Runtime
from dialer.engine.agents import AGENT_KEY
from dnc.models import DncList, DncListVersion


def _allowed(request: Request[Any, Any, Any], runtime: Runtime) -> None:
    settings = runtime.settings
    if not settings.metrics_token and not settings.metrics_allow:
        raise PermissionDeniedException(
            "metrics are off: set CLEARLINE_METRICS_TOKEN (a bearer token) or CLEARLINE_METRICS_ALLOW "
            "(networks that may scrape, as CIDR)"
        )
    if settings.metrics_token:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {settings.metrics_token}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return
    ip = client_ip(request.scope, settings.trusted_proxies)
    if ip is not None and settings.metrics_allow:
        addr = ipaddress.ip_address(ip)
        if any(addr in ipaddress.ip_network(n, strict=False) for n in settings.metrics_allow):
            return
    if settings.metrics_token:
        raise NotAuthorizedException(
            "GET /metrics needs the header 'Authorization: Bearer <CLEARLINE_METRICS_TOKEN>'",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    raise PermissionDeniedException(f"address {ip} is not in CLEARLINE_METRICS_ALLOW")


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


class StateCollector(Collector):
    """Figures read when scraped: agents by campaign and state, age of each DNC list's current copy."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        agents = GaugeMetricFamily(
            "clearline_agents", "Agents with live state, by campaign and state.", labels=["campaign", "state"]
        )
        tally: Tally[tuple[str, str]] = Tally()
        client = self.runtime.redis
        for key in client.scan_iter(match=AGENT_KEY + "*", count=500):
            campaign, state = client.hmget(key, "campaign", "state")
            if state:
                tally[(_text(campaign), _text(state))] += 1
        for (campaign, state), n in sorted(tally.items()):
            agents.add_metric([campaign, state], n)
        yield agents

        age = GaugeMetricFamily(
            "clearline_dnc_list_age_seconds",
            "Seconds since the current copy of each DNC list was obtained (the law allows 31 days).",
            labels=["kind", "scope", "owner"],
        )
        now = datetime.now(UTC)
        with self.runtime.db.engine.connect() as conn:
            rows = conn.execute(
                select(DncList.kind, DncList.scope, DncList.owner_org_id, DncListVersion.obtained_at).join(
                    DncListVersion, DncListVersion.id == DncList.current_version_id
                )
            ).all()
        for kind, scope, owner, obtained in rows:
            obtained = obtained if obtained.tzinfo else obtained.replace(tzinfo=UTC)
            age.add_metric(
                [kind, scope or "", str(owner) if owner else "platform"], (now - obtained).total_seconds()
            )
        yield age

        queues = GaugeMetricFamily(
            "clearline_job_queue_depth",
            "Job messages waiting in each dramatiq queue for a worker to take them.",
            labels=["queue"],
        )
        for queue, depth in sorted(job_queue_depths(client).items()):
            queues.add_metric([queue], depth)
        yield queues


JOB_NAMESPACE = "clearline:"  # core.broker's dramatiq namespace


def job_queue_depths(client: Any) -> dict[str, int]:
    """Waiting messages per queue: dramatiq's Redis broker keeps each queue's message ids in the list
    `<namespace>:<queue>` beside the hash of its messages `<namespace>:<queue>.msgs` (delayed messages are
    in the queue `<queue>.DQ`; dead ones, `.XQ`, are not waiting and not counted)."""
    depths = {}
    for key in client.scan_iter(match=JOB_NAMESPACE + "*.msgs", count=500):
        queue = _text(key)[len(JOB_NAMESPACE) : -len(".msgs")]
        if queue.endswith(".XQ"):
            continue
        depths[queue] = int(client.llen(JOB_NAMESPACE + queue))
    return depths


def render(runtime: Runtime) -> bytes:
    directory = metrics.metrics_dir(runtime.settings.home)
    metrics.forget_dead_processes(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    registry.register(StateCollector(runtime))
    return generate_latest(registry)


@get(
    "/metrics",
    opt=PUBLIC,
    sync_to_thread=True,
    tags=["operations"],
    summary="Prometheus metrics (text format)",
    description=(
        "Not behind the user login: a scraper presents `Authorization: Bearer <CLEARLINE_METRICS_TOKEN>` or "
        "scrapes from a network in `CLEARLINE_METRICS_ALLOW`; with neither set, metrics are off (403). "
        "Labels carry campaign and organization ids, never phone numbers."
    ),
    media_type=CONTENT_TYPE_LATEST,
)
def metrics_endpoint(request: Request[Any, Any, Any], runtime: Runtime) -> Response[bytes]:
    _allowed(request, runtime)
    return Response(render(runtime), media_type=CONTENT_TYPE_LATEST)


ROUTES = [metrics_endpoint]
