"""Over real SIP: a call answered when no agent is free plays the campaign's generated safe-harbor message
(espeak-ng), and the attempt's evidence names the kept copy of that message by its sha256."""

from __future__ import annotations

import hashlib
import wave

from litestar.testing import TestClient
from sqlalchemy import select

from campaigns.models import Campaign, SafeHarborMessageCopy
from core.db import ALL_ORGS, Scope
from core.legal import AGENT_CONNECT_DEADLINE_S
from core.runtime import Runtime
from dialer.media.safe_harbor import generate_campaign_message, local_wav
from dialer.simulators.carrier import CarrierBehaviour
from tests.engine.conftest import MakeSandbox, TestCertificates
from tests.engine.test_engine_calls import attempts_of, engine_config, login, one_agent_floor, wait_for


def test_an_answered_call_with_no_free_agent_plays_the_generated_message_named_by_its_sha256(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    numbers = ["+12025558711", "+12025558751"]
    tenant, agent, campaign = one_agent_floor(runtime, certificates, numbers, lines_per_agent=2.0)
    with runtime.db.session(Scope(tenant.id)) as s:
        row = s.get(Campaign, campaign.id)
        assert row is not None
        row.seller, row.safe_harbor_callback_number = "Harbor Roofing", "+12025558700"
        kept = generate_campaign_message(s, row, runtime.files)
        assert kept is not None
        sha, key, text = kept.sha256, kept.path, kept.text
    wav_path = local_wav(runtime.files, runtime.settings.home, key, sha)  # kept in the shared store
    assert text is not None and "Harbor Roofing" in text
    with wave.open(str(wav_path), "rb") as wav:
        message_s = wav.getnframes() / wav.getframerate()
    # The callee stays on the line longer than the message, so the worker plays it to its end.
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.3, 0.3), talk_s=(message_s + 4, message_s + 5)),
        engine=engine_config(campaign.id),
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])
    login(client, tenant, "agent", box.agent_uri(agent.id), campaign.id)

    def abandoned_and_played() -> bool:
        rows = attempts_of(runtime, campaign.id)
        return any(r.outcome == "abandoned" and r.safe_harbor_played_at is not None for r in rows)

    wait_for(abandoned_and_played, message_s + 40, "the generated message to be played to an abandoned call")
    box.engine.recorder.flush()
    abandoned = next(r for r in attempts_of(runtime, campaign.id) if r.outcome == "abandoned")
    assert abandoned.answered_at is not None and abandoned.safe_harbor_at is not None
    assert abandoned.agent_connected_at is None and abandoned.safe_harbor_error is None
    assert abandoned.safe_harbor_played_at is not None
    # The worker finished it one message-length after it started, within 2 s of the answer: it played
    # the generated WAV (the shipped placeholder is far shorter).
    started = abandoned.safe_harbor_played_at.timestamp() - message_s
    assert -1.0 <= started - abandoned.answered_at.timestamp() <= AGENT_CONNECT_DEADLINE_S
    assert abandoned.safe_harbor_played_at >= abandoned.safe_harbor_at
    # The evidence names the message played, and compliance staff fetch exactly those bytes.
    assert abandoned.safe_harbor_sha256 == sha
    r = client.get(f"/api/compliance/evidence/{abandoned.id}", headers=tenant.headers("compliance"))
    assert r.status_code == 200 and r.json()["safe_harbor_sha256"] == sha, r.text
    r = client.get(f"/api/safe-harbor-messages/{sha}", headers=tenant.headers("compliance"))
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == sha
    with runtime.db.session(ALL_ORGS) as s:
        copies = list(
            s.scalars(select(SafeHarborMessageCopy).where(SafeHarborMessageCopy.org_id == tenant.id))
        )
    assert [(c.sha256, c.source) for c in copies] == [(sha, "generated")]
