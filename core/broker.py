"""dramatiq on Redis, configured here and nowhere else.

Importing this module installs the broker; actor modules import it before declaring actors.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit


def _make_broker() -> RedisBroker:
    from core.job_workers import HeartbeatMiddleware, JobClaimMiddleware
    from core.runtime import current_runtime

    url = os.environ.get("REDIS_URL") or current_runtime().redis_url
    broker = RedisBroker(url=url, namespace="clearline", middleware=[])
    for mw in (
        AgeLimit(),
        TimeLimit(time_limit=6 * 3600 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=0),
        HeartbeatMiddleware(lambda: current_runtime().redis),
        JobClaimMiddleware(lambda: current_runtime().db),
    ):
        broker.add_middleware(mw)
    return broker


broker = _make_broker()
dramatiq.set_broker(broker)
