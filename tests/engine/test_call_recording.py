"""Call recording over real SIP: a campaign that records `announced` calls a one-party-consent number
(DC) and an all-party-consent one (CA); each bridged conversation is recorded, encrypted in the file store
under the organization's key, linked to its attempt, and decrypts to a WAV holding both sides (the
carrier's callee plays 1000 Hz, the agent's phone 600 Hz). The CA call hears the announcement first: the
agent is connected as fast as without it (the 2 s rule), and the recording starts after it."""

from __future__ import annotations

import io
import uuid
import wave

import numpy as np
import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from campaigns import recordings
from campaigns.models import CallRecording
from core.db import ALL_ORGS
from core.errors import ConfigurationError
from core.legal import AGENT_CONNECT_DEADLINE_S
from core.runtime import Runtime
from dialer.media import RECORDING_ANNOUNCEMENT_WAV
from dialer.simulators.carrier import CarrierBehaviour
from tests.conftest import make_tenant
from tests.engine.conftest import MakeSandbox, TestCertificates, provision_identity
from tests.engine.factories import make_campaign
from tests.engine.test_engine_calls import (
    PROFILE_NAME,
    attempts_of,
    engine_config,
    login,
    seed_answered_history,
    wait_for,
)

pytestmark = [pytest.mark.sip, pytest.mark.slow]

DC, CA = "+12025557711", "+12135557711"


def _tone_share(samples: np.ndarray, hz: float, rate: int) -> float:
    """The share of the recording's energy within 20 Hz of `hz`."""
    power = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(power[(freqs > hz - 20) & (freqs < hz + 20)].sum() / power.sum())


def test_a_recorded_bridged_call_decrypts_to_both_sides_and_the_announcement_keeps_the_2s_bound(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant = make_tenant(runtime)
    provision_identity(runtime, tenant.id, certificates)
    agent = tenant.users["agent"]
    campaign = make_campaign(
        runtime,
        tenant.id,
        agent_ids=[agent.id],
        numbers=[DC, CA],
        settings={
            "trunk_profile": PROFILE_NAME,
            "pacing_policy": "ratio",
            "pacing_settings": {"lines_per_agent": 1.0},
            "recording_mode": "announced",
        },
    )
    seed_answered_history(runtime, campaign)
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.3), talk_s=(5.0, 5.0)),
        engine=engine_config(campaign.id),
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])
    login(client, tenant, "agent", box.agent_uri(agent.id), campaign.id)

    def rows() -> dict[uuid.UUID, CallRecording]:
        with runtime.db.session(ALL_ORGS) as s:
            found = s.scalars(select(CallRecording).where(CallRecording.campaign_id == campaign.id)).all()
            s.expunge_all()
            return {r.attempt_id: r for r in found}

    wait_for(lambda: len(rows()) == 2, 60, "both calls recorded and stored")
    attempts = {a.e164: a for a in attempts_of(runtime, campaign.id)}
    recorded = rows()
    with wave.open(str(RECORDING_ANNOUNCEMENT_WAV)) as announcement:
        announcement_s = announcement.getnframes() / announcement.getframerate()
    for e164, announced in ((DC, False), (CA, True)):
        attempt, row = attempts[e164], recorded[attempts[e164].id]
        assert (row.status, row.announced, row.org_id) == ("recorded", announced, tenant.id), row.reason
        assert attempt.answered_at and attempt.agent_connected_at and row.started_at and row.file_key
        # The agent is connected within the legal bound, announcement or not: it plays over the bridge.
        assert (attempt.agent_connected_at - attempt.answered_at).total_seconds() < AGENT_CONNECT_DEADLINE_S
        started_after_bridge = (row.started_at - attempt.agent_connected_at).total_seconds()
        if announced:  # consent first: the recorder starts only once the announcement has played
            assert started_after_bridge >= announcement_s - 0.1, started_after_bridge
        else:
            assert started_after_bridge < 0.5, started_after_bridge

        stored = b"".join(runtime.files.open(row.file_key))
        assert b"RIFF" not in stored[:64] and b"WAVE" not in stored  # encrypted at rest
        wav_bytes = b"".join(recordings.decrypt(runtime.settings.secret_key, tenant.id, attempt.id, [stored]))
        with wave.open(io.BytesIO(wav_bytes)) as wav:
            rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
        samples = np.frombuffer(frames, dtype="<i2").astype(float)
        assert len(samples) / rate >= 1.5 and abs(row.seconds - len(samples) / rate) < 0.05
        # Both sides in the mix: the callee's 1000 Hz and the agent's phone's 600 Hz, far above the floor.
        callee, agent_side = _tone_share(samples, 1000, rate), _tone_share(samples, 600, rate)
        print(
            f"{e164[:5]}: {len(samples) / rate:.2f} s, callee {callee:.0%}, agent {agent_side:.0%} of energy"
        )
        assert callee > 0.2 and agent_side > 0.2, (callee, agent_side)
        with pytest.raises(ConfigurationError):  # another organization's key opens nothing
            b"".join(recordings.decrypt(runtime.settings.secret_key, uuid.uuid4(), attempt.id, [stored]))
    assert not list(recordings.spool_dir(runtime.settings.home).glob("*.wav"))  # spool emptied once stored
