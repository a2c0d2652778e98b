"""Fixtures of the webhook tests: the platform settings they need, and a real dramatiq worker on Redis."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import dramatiq
import pytest

from core.runtime import Runtime


@pytest.fixture
def private_targets(runtime: Runtime) -> Iterator[Runtime]:
    """The receivers listen on 127.0.0.1: allow private targets (CLEARLINE_WEBHOOKS_ALLOW_PRIVATE=1) and
    shorten the back-off (CLEARLINE_WEBHOOKS_RETRY_BASE_S) for the test's duration."""
    before = runtime.settings
    runtime.settings = dataclasses.replace(
        before, webhooks_allow_private=True, webhooks_retry_base_s=0.05, webhooks_timeout_s=20.0
    )
    try:
        yield runtime
    finally:
        runtime.settings = before


@pytest.fixture
def worker(runtime: Runtime) -> Iterator[dramatiq.Worker]:
    """A real dramatiq worker on the real Redis broker for the webhook and lead-import queues."""
    import clearline.actors  # noqa: F401 - declares every actor on the broker
    from core.broker import broker

    w = dramatiq.Worker(broker, queues={"webhooks", "campaigns"}, worker_threads=2, worker_timeout=100)
    w.start()
    try:
        yield w
    finally:
        w.stop()
