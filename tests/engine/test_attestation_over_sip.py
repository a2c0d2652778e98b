"""The attestation level a call is signed with follows what the platform verified of the organization,
and an independent verifier (secsipidx) reads that level from the Identity header of the real INVITE a line
worker sent to a sipp carrier."""

from __future__ import annotations

import base64
import json
import random
import re
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attestation import inventory
from core.db import Scope
from core.runtime import Runtime
from dialer.engine.identity import CallIdentity
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool
from tests.conftest import make_tenant
from tests.engine.conftest import TestCertificates, identity_source, provision_identity
from tests.sip.conftest import SCENARIOS, collect, ended, free_udp_port, write_profile

pytestmark = pytest.mark.sip


def sipp_recording_invites(port: int, directory: Path, calls: int) -> tuple[subprocess.Popen[bytes], Path]:
    """A sipp carrier answering 486 to `calls` INVITEs, writing every SIP message it sees to a file."""
    scenario = directory / "carrier-486.xml"
    text = (SCENARIOS / "uas_status.xml").read_text()
    scenario.write_text(text.replace("__STATUS__", "486").replace("__REASON__", "Busy Here"))
    messages = directory / "sipp-messages.log"
    argv = ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-m", str(calls)]
    argv += ["-nostdin", "-timeout", "60s", "-timeout_error", "-mp", str(free_udp_port())]
    argv += ["-trace_msg", "-message_file", str(messages)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory)
    return process, messages


def identity_headers_received(messages: Path) -> dict[str, str]:
    """The Identity header of each INVITE sipp received, by called number."""
    found: dict[str, str] = {}
    for invite in re.findall(r"INVITE sip:.*?\r?\n\r?\n", messages.read_text(), flags=re.S):
        number = re.match(r"INVITE sip:([^@]+)@", invite)
        header = re.search(r"^Identity:\s*(.+?)\r?$", invite, flags=re.M)
        if number and header:
            found[number.group(1)] = header.group(1)
    return found


def secsipidx_claims(identity: str, certs: TestCertificates, directory: Path) -> dict[str, object]:
    """secsipidx verifies the header (signature, chain to our test root, freshness); the claims it checked."""
    path = directory / f"identity-{uuid.uuid4().hex[:6]}.txt"
    path.write_text(identity)
    argv = ["secsipidx", "-check", "-fidentity", str(path), "-fpubkey", str(certs.files["cert"])]
    argv += ["-expire", "60", "-cert-verify", "13", "-ca-file", str(certs.files["root"])]
    argv += ["-ca-inter", str(certs.files["intermediate"])]
    checked = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, (checked.returncode, checked.stdout, checked.stderr)
    payload = identity.split(";", 1)[0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(claims, dict)
    return claims


def test_a_call_is_signed_with_the_level_the_organizations_verified_numbers_earn(
    runtime: Runtime, certificates: TestCertificates, tmp_path: Path
) -> None:
    # Caller IDs of this run only: a verified number is one organization's for good (the database outlives runs).
    exchange = f"+1505{random.randrange(200, 1000)}{random.randrange(100, 1000)}"
    caller, unlisted = exchange + "0", exchange + "9"
    tenant = make_tenant(runtime)
    provision_identity(runtime, tenant.id, certificates)  # its signing certificate, no verified number
    with runtime.db.session(Scope(tenant.id)) as s:
        block = inventory.add_numbers(s, org_id=tenant.id, first=caller)  # pending
        block_id = block.id
    source = identity_source(runtime, certificates)

    def identify(lead: str) -> CallIdentity:
        made = source.identify(
            org_id=tenant.id, lead_e164=lead, caller_id_mode="fixed", fixed_caller_id=caller, sign=True
        )
        assert made is not None and made.identity_header
        return made

    unvetted = identify("+12025557011")
    assert (unvetted.attestation, unvetted.attestation_reason) == ("C", "customer_not_authenticated")
    with runtime.db.session(Scope(tenant.id)) as s:
        inventory.set_status(s, block_id, "verified", at=datetime.now(UTC))
    verified = identify("+12025557021")
    assert (verified.attestation, verified.attestation_reason) == ("A", "verified_number")
    other_number = source.identify(
        org_id=tenant.id,
        lead_e164="+12025557031",
        caller_id_mode="fixed",
        fixed_caller_id=unlisted,
        sign=True,
    )
    assert other_number is not None and other_number.attestation == "B"

    port = free_udp_port()
    carrier, messages = sipp_recording_invites(port, tmp_path, calls=3)
    pool = LineWorkerPool(runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", log_dir=tmp_path)
    try:
        trunk = write_profile(tmp_path, "signed", port, stir_shaken=True)
        worker = pool.start_worker(profiles_dir=tmp_path)
        pool.wait_ready([worker])
        dials = {
            "+12025557011": (unvetted, caller),
            "+12025557021": (verified, caller),
            "+12025557031": (other_number, unlisted),
        }
        for n, (to, (made, caller)) in enumerate(dials.items()):
            pool.send(
                worker,
                p.DialLead(
                    attempt_id=f"att-{n}",
                    to=to,
                    from_number=caller,
                    trunk=trunk,
                    identity=made.identity_header,
                ),
            )
        events = collect(pool, lambda evs: ended(evs, {"att-0", "att-1", "att-2"}), 20)
        assert {e.sip_status for e in events if isinstance(e, p.Ended)} == {486}
        assert carrier.wait(15) == 0
    finally:
        pool.close()
        if carrier.poll() is None:
            carrier.kill()
            carrier.wait()

    received = identity_headers_received(messages)
    assert set(received) == {n for n in dials}, received
    for to, (made, caller) in dials.items():
        assert received[to] == made.identity_header  # the header the engine signed went out intact
        claims = secsipidx_claims(received[to], certificates, tmp_path)
        assert claims["attest"] == made.attestation
        assert claims["orig"] == {"tn": caller.lstrip("+")} and claims["dest"] == {"tn": [to.lstrip("+")]}
    assert [secsipidx_claims(received[t], certificates, tmp_path)["attest"] for t in dials] == ["C", "A", "B"]
