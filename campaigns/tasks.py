"""dramatiq actors of the campaigns package: the lead import, the lead list purge, privacy requests."""

from __future__ import annotations

import uuid

import dramatiq

import core.broker  # noqa: F401 - the broker must exist before actors are declared
from campaigns.jobs import run_import_job, run_purge_job
from campaigns.privacy import HANDLERS  # noqa: F401 - registers the lead requests' handler
from core.privacy import run_privacy_job
from core.runtime import current_runtime


@dramatiq.actor(queue_name="campaigns", max_retries=0)
def import_leads(job_id: str) -> None:
    run_import_job(current_runtime(), uuid.UUID(job_id))


@dramatiq.actor(queue_name="campaigns", max_retries=0)
def purge_lead_list(job_id: str) -> None:
    run_purge_job(current_runtime(), uuid.UUID(job_id))


@dramatiq.actor(queue_name="campaigns", max_retries=0)
def run_privacy_request(job_id: str) -> None:
    run_privacy_job(current_runtime(), uuid.UUID(job_id))
