"""Over real SIP, the engine with a campaign's answering-machine detection on: the carrier's callees play
a person's or a machine's greeting; the person is bridged to the agent within 2 s of the end of their
greeting, a machine is hung up, and a machine whose lead gave express written consent gets the campaign's
message after its beep. Each attempt's evidence (database and API) carries the detection and the message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from campaigns.models import Campaign, Lead
from core.db import ALL_ORGS, Scope
from core.legal import AGENT_CONNECT_DEADLINE_S
from core.runtime import Runtime
from dialer.media.safe_harbor import set_campaign_message
from dialer.media.speech import synthesize
from dialer.simulators.carrier import CarrierBehaviour
from tests.engine.conftest import MakeSandbox, TestCertificates
from tests.engine.test_engine_calls import attempts_of, engine_config, login, one_agent_floor, wait_for
from tests.sip.test_live_amd import make_greetings

PERSON, MACHINE, MACHINE_WITH_CONSENT = (
    "+12025558712",
    "+12025558721",
    "+12025558722",
)  # [-2]: 1 human, 2 machine


def _carrier_call(stats: dict[str, Any], number: str) -> dict[str, Any] | None:
    calls = stats.get("calls", {}).values()
    return next((c for c in calls if c["number"] == number and "ended" in c), None)


@pytest.mark.slow
def test_amd_bridges_the_person_hangs_up_a_machine_and_leaves_the_message_where_consent_allows(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates, tmp_path: Path
) -> None:
    greetings = make_greetings(tmp_path)
    tenant, agent, campaign = one_agent_floor(
        runtime, certificates, [PERSON, MACHINE, MACHINE_WITH_CONSENT], lines_per_agent=3.0
    )
    recording = tmp_path / "message.wav"
    synthesize("This is Harbor Roofing. Please call us back.", recording)
    with runtime.db.session(Scope(tenant.id)) as s:
        row = s.get(Campaign, campaign.id)
        assert row is not None
        set_campaign_message(s, row, runtime.files, recording)
        row.amd_settings = {"enabled": True, "voicemail_drop": True}
        message_sha = row.safe_harbor_sha256
    with runtime.db.session(ALL_ORGS) as s:
        s.execute(
            update(Lead)
            .where(Lead.campaign_id == campaign.id, Lead.phone_e164 == MACHINE_WITH_CONSENT)
            .values(consent="express_written")
        )
    box = sandbox(
        behaviour=CarrierBehaviour(
            ring_s=(0.3, 0.3),
            talk_s=(5.0, 5.0),
            machine_talk_s=(15.0, 15.0),
            human_wav=str(greetings.human_wav),
            machine_wav=str(greetings.machine_wav),
        ),
        engine=engine_config(campaign.id),
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])
    login(client, tenant, "agent", box.agent_uri(agent.id), campaign.id)

    def all_ended() -> bool:
        rows = attempts_of(runtime, campaign.id)
        return len(rows) == 3 and all(r.ended_at is not None for r in rows)

    wait_for(all_ended, 60, "the three calls to end")
    box.engine.recorder.flush()
    rows = {r.e164: r for r in attempts_of(runtime, campaign.id)}

    person = rows[PERSON]
    assert (person.outcome, person.amd_result) == ("human", "human"), (person.outcome, person.amd_cause)
    assert person.answered_at is not None and person.amd_greeting_ended_at is not None
    assert person.agent_connected_at is not None and person.safe_harbor_at is None
    connect_s = (person.agent_connected_at - person.amd_greeting_ended_at).total_seconds()
    assert 0 < connect_s <= AGENT_CONNECT_DEADLINE_S, connect_s
    # The greeting's end the worker heard is where the carrier sent it (a little later: the network and
    # the jitter buffer), and the agent was there within 2 s of the carrier's own end of the greeting too
    wait_for(lambda: _carrier_call(box.carrier_stats(), PERSON) is not None, 5, "the carrier's record")
    sent = _carrier_call(box.carrier_stats(), PERSON)
    assert sent is not None and sent["greeting_started_at"]
    greeting_end = sent["greeting_started_at"] + greetings.human_greeting_end_ms / 1000
    heard_late_s = person.amd_greeting_ended_at.timestamp() - greeting_end
    assert -0.1 <= heard_late_s <= 0.3, heard_late_s
    assert person.agent_connected_at.timestamp() - greeting_end <= AGENT_CONNECT_DEADLINE_S
    assert person.amd_decided_ms is not None and person.amd_cause and person.voicemail_sha256 is None

    machine = rows[MACHINE]
    assert (machine.outcome, machine.amd_result) == ("machine", "machine"), machine.amd_cause
    assert machine.agent_connected_at is None and machine.safe_harbor_at is None
    assert machine.voicemail_sha256 is None and machine.voicemail_left_at is None  # no consent: no message

    left = rows[MACHINE_WITH_CONSENT]
    assert (left.outcome, left.amd_result) == ("machine", "machine"), left.amd_cause
    assert left.voicemail_sha256 == message_sha and left.voicemail_left_at is not None
    assert left.agent_connected_at is None
    # the machine heard the message, and only once its beep was over
    wait_for(lambda: _carrier_call(box.carrier_stats(), MACHINE_WITH_CONSENT) is not None, 5, "its record")
    recorded = _carrier_call(box.carrier_stats(), MACHINE_WITH_CONSENT)
    assert recorded is not None and recorded["first_loud_at"] is not None
    beep_end = recorded["greeting_started_at"] + greetings.beep_end_ms / 1000
    assert recorded["first_loud_at"] >= beep_end - 0.05, (recorded, beep_end)
    unheard = _carrier_call(box.carrier_stats(), MACHINE)
    assert unheard is not None and unheard["first_loud_at"] is None  # hung up: nothing was played to it

    r = client.get(f"/api/compliance/evidence/{left.id}", headers=tenant.headers("compliance"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["amd_result"] == "machine" and body["amd_cause"] == left.amd_cause
    assert body["voicemail_sha256"] == message_sha and body["amd_decided_ms"] == left.amd_decided_ms
    print(
        f"person connected {connect_s:.2f} s after the greeting heard {heard_late_s * 1000:.0f} ms late "
        f"({person.amd_cause}, decided at "
        f"{person.amd_decided_ms} ms); machines: {machine.amd_cause}, {left.amd_cause}; message started "
        f"{recorded['first_loud_at'] - beep_end:.2f} s after the beep"
    )
