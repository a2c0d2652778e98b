"""How to make, in organization A, an object that a route's path parameter can name.

The tenant-isolation test walks every route; each path parameter name needs an entry here, or the test
fails and says which one is missing. Domain packages add their own entries (a function that creates the
object in `world.owner` and returns its id as a string). `BODIES` overrides the generated request body for
routes whose schema the generic generator cannot satisfy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.db import Scope
from core.jobs import create_job
from tests.attestation import samples as attestation_samples
from tests.campaigns import samples as campaign_samples
from tests.conftest import Tenant


@dataclass
class World:
    owner: Tenant  # organization A: owns every sample object
    cache: dict[str, str] = field(default_factory=dict)

    def sample(self, param: str) -> str:
        if param not in self.cache:
            factory = SAMPLES.get(param)
            if factory is None:
                raise LookupError(
                    f"no sample object for path parameter {param!r}: add one to tests/tenancy_samples.py"
                )
            self.cache[param] = factory(self)
        return self.cache[param]


def _job(world: World) -> str:
    scope = Scope(world.owner.org.id)
    return str(create_job(world.owner.runtime.db, scope, kind="sample", params={}, created_by=None))


def _campaign(world: World) -> str:
    from tests.engine.factories import make_campaign

    return str(make_campaign(world.owner.runtime, world.owner.org.id, active=False).id)


def _scrub_report(world: World) -> str:
    from datetime import UTC, datetime

    from dnc.models import ScrubReport

    with world.owner.runtime.db.session(Scope(world.owner.org.id)) as s:
        report = ScrubReport(checked_at=datetime.now(UTC), status="succeeded")
        s.add(report)
        s.flush()
        return str(report.id)


def _phone_rule(world: World) -> str:
    from dialer.phone_policy import add_rule

    org_id = world.owner.org.id
    with world.owner.runtime.db.session(Scope(org_id)) as s:
        return str(add_rule(s, org_id=org_id, kind="domain", value="phones.tenancy.example").id)


def _upload_token(world: World) -> str:
    """A lead file the owner's manager dropped on the console and has not imported yet."""
    import uuid

    from api.console.staging import stage, staging_dir
    from core.uploads import UploadWriter

    runtime = world.owner.runtime
    with UploadWriter(staging_dir(runtime), 1 << 20) as writer:
        writer.write(b"phone\n2025550143\n")
        upload = writer.finish("sample.csv")
    campaign_id = uuid.UUID(world.sample("campaign_id"))
    return stage(
        runtime,
        upload,
        org_id=world.owner.org.id,
        campaign_id=campaign_id,
        user_id=world.owner.users["manager"].id,
    ).token


def _large_id() -> int:
    """An id no response shows by chance (the isolation test looks for sample ids in response text)."""
    import random

    return random.randint(7_000_000_000, 8_000_000_000)


def _internal_entry(world: World) -> str:
    from dnc.models import InternalDncEntry

    with world.owner.runtime.db.session(Scope(world.owner.org.id)) as s:
        entry = InternalDncEntry(id=_large_id(), e164="+12025550177", source="api", reason="sample")
        s.add(entry)
        s.flush()
        return str(entry.id)


def _area_code_block(world: World) -> str:
    from dnc.models import AreaCodeBlock

    with world.owner.runtime.db.session(Scope(world.owner.org.id)) as s:
        block = AreaCodeBlock(id=_large_id(), area_code="808", reason="sample")
        s.add(block)
        s.flush()
        return str(block.id)


def _webhook(world: World) -> str:
    from core.webhooks.models import WebhookEndpoint

    with world.owner.runtime.db.session(Scope(world.owner.org.id)) as s:
        endpoint = WebhookEndpoint(
            url="https://crm.example.com/hooks", events=["call.ended"], secret_sealed="v1:sample"
        )
        s.add(endpoint)
        s.flush()
        return str(endpoint.id)


def _webhook_delivery(world: World) -> str:
    """A delivery to an endpoint of its own: the fuzz test may already have deleted the `webhook_id` sample."""
    import uuid

    from core.webhooks.models import WebhookDelivery

    endpoint_id = uuid.UUID(_webhook(world))
    with world.owner.runtime.db.session(Scope(world.owner.org.id)) as s:
        delivery = WebhookDelivery(
            endpoint_id=endpoint_id, event_id=uuid.uuid4(), event_type="call.ended",
            body="{}", status="failed",
        )  # fmt: skip
        s.add(delivery)
        s.flush()
        return str(delivery.id)



def _privacy_request(world: World) -> str:
    """A completed access request with its export (the downloads need one)."""
    from datetime import UTC, datetime

    from core.privacy import PrivacyRequest, due_date

    now = datetime.now(UTC)
    with world.owner.runtime.db.session(Scope(world.owner.org.id)) as s:
        request = PrivacyRequest(kind="access", subject="lead", phone_e164="+12025550178", status="completed",
                                 received_at=now, due_at=due_date(now), completed_at=now,
                                 export={"phone": "+12025550178", "leads": []})  # fmt: skip
        s.add(request)
        s.flush()
        return str(request.id)


def _kept_safe_harbor_message(world: World) -> str:
    """A kept safe-harbor message of organization A (a WAV of its own, so its sha256 is A's alone)."""
    import os
    import tempfile
    import wave
    from pathlib import Path

    from dialer.media.safe_harbor import keep_message

    runtime = world.owner.runtime
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "message.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(os.urandom(8000 * 2 * 2))
        with runtime.db.session(Scope(world.owner.org.id)) as s:
            return keep_message(s, runtime.files, world.owner.org.id, path, source="uploaded").sha256


SAMPLES: dict[str, Callable[[World], str]] = {
    "org_id": lambda w: str(w.owner.org.id),
    "upload_token": _upload_token,
    "user_id": lambda w: str(w.owner.users["agent"].id),
    "job_id": _job,
    "phone_rule_id": _phone_rule,
    "report_ref": _scrub_report,
    "campaign_id": _campaign,
    "tn_id": lambda w: attestation_samples.number_sample(w.owner),
    "certificate_id": lambda w: attestation_samples.certificate_sample(w.owner),
    "list_id": lambda w: campaign_samples.lead_list_sample(w.owner, w.sample("campaign_id")),
    "lead_id": lambda w: campaign_samples.lead_sample(w.owner, w.sample("campaign_id"), w.sample("list_id")),
    "attempt_id": lambda w: campaign_samples.attempt_sample(
        w.owner, w.sample("campaign_id"), w.sample("lead_id")
    ),
    "entry_id": _internal_entry,
    "block_id": _area_code_block,
    "webhook_id": _webhook,
    "delivery_id": _webhook_delivery,
    "request_id": _privacy_request,
    "sha256": _kept_safe_harbor_message,
}

# (METHOD, path template) -> request body (JSON-able) or a callable building one from the world.
BODIES: dict[tuple[str, str], Any] = {}
