"""The generated safe-harbor message: its words say what 47 CFR 64.1200(a)(7)(i)(A) and the TSR ask
(seller, callback number, automated opt-out), real espeak-ng + sox speak it as the line worker plays it
(8 kHz mono 16-bit PCM), and every message a campaign plays is kept once, by sha256, for compliance staff."""

from __future__ import annotations

import hashlib
import time
import wave
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from campaigns.models import SafeHarborMessageCopy
from core.db import ALL_ORGS
from core.errors import ValidationError
from core.models import AuditEntry
from core.runtime import Runtime
from dialer.media.safe_harbor import DEFAULT_SHA256, check_safe_harbor_wav, kept_key
from dialer.media.speech import safe_harbor_text, spoken_number, synthesize
from tests.conftest import Tenant, make_tenant

CALLBACK = "+12025550863"  # this file's own numbers: +1 202 555 086x


def test_the_message_names_the_seller_gives_the_callback_number_and_the_opt_out_key() -> None:
    text = safe_harbor_text("Acme Solar", CALLBACK, "9")
    assert "on behalf of Acme Solar" in text
    assert text.count("2 0 2, 5 5 5, 0 8 6 3") == 2  # said twice, digit by digit, so it can be written down
    assert "press 9" in text
    assert "press star" in safe_harbor_text("Acme", CALLBACK, "*")
    assert "press pound" in safe_harbor_text("Acme", CALLBACK, "#")
    assert spoken_number("+442079460958") == "0 2 0, 7 9 4 6, 0 9 5 8"


@pytest.mark.parametrize(
    ("seller", "number", "key", "field"),
    [
        (" ", CALLBACK, "9", "seller"),
        ("Acme", "555", "9", "safe_harbor_callback_number"),
        ("Acme", CALLBACK, "x", "opt_out_key"),
    ],
)
def test_a_message_that_cannot_say_what_the_law_requires_is_refused_naming_the_field(
    seller: str, number: str, key: str, field: str
) -> None:
    with pytest.raises(ValidationError) as err:
        safe_harbor_text(seller, number, key)
    assert err.value.field == field


def test_espeak_ng_speaks_it_as_8_khz_mono_16_bit_pcm(tmp_path: Path) -> None:
    target = tmp_path / "message.wav"
    synthesize(safe_harbor_text("Acme Solar", CALLBACK, "9"), target)
    with wave.open(str(target), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getcomptype()) == (
            8000,
            1,
            2,
            "NONE",
        )
        frames = wav.readframes(wav.getnframes())
    loud = max(
        abs(int.from_bytes(frames[i : i + 2], "little", signed=True)) for i in range(0, len(frames), 2)
    )
    assert loud > 3000  # speech, not silence
    assert 8 < check_safe_harbor_wav(target).seconds < 30  # what the upload rule accepts too


def _campaign(client: TestClient, tenant: Tenant, **settings: Any) -> dict[str, Any]:
    body = {"name": f"Harbor {time.monotonic_ns()}", "caller_id": "+12025550861", **settings}
    r = client.post("/api/campaigns", json=body, headers=tenant.headers("manager"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_saved_campaign_gets_its_generated_message_kept_by_sha256_and_downloadable_by_compliance(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign = _campaign(
        client, tenant, seller="Harbor Roofing", safe_harbor_callback_number="+1 202 555 0862"
    )
    settings = campaign["settings"]
    assert settings["safe_harbor_message"] == "generated"
    assert settings["safe_harbor_callback_number"] == "+12025550862"
    sha = settings["safe_harbor_sha256"]
    with runtime.db.session(ALL_ORGS) as s:
        kept = s.scalars(select(SafeHarborMessageCopy).where(SafeHarborMessageCopy.sha256 == sha)).one()
        assert kept.org_id == tenant.id and kept.source == "generated"
        assert kept.text is not None and "Harbor Roofing" in kept.text and "press 9" in kept.text
        assert kept.path == kept_key(tenant.id, sha)  # in the shared file store, for every host
        assert hashlib.sha256(b"".join(runtime.files.open(kept.path))).hexdigest() == sha
    url = f"/api/safe-harbor-messages/{sha}"
    r = client.get(url, headers=tenant.headers("compliance"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("audio/wav")
    assert hashlib.sha256(r.content).hexdigest() == sha and r.headers["x-clearline-source"] == "generated"
    assert "Harbor Roofing" in r.headers["x-clearline-text"]
    with runtime.db.session(ALL_ORGS) as s:
        audits = list(
            s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "safe_harbor_message.download", AuditEntry.target == sha
                )
            )
        )
    assert [a.org_id for a in audits] == [tenant.id]
    assert client.get(url, headers=tenant.headers("agent")).status_code == 403
    other = make_tenant(runtime)
    assert client.get(url, headers=other.headers("compliance")).status_code == 404  # org-scoped
    assert client.get(
        "/api/safe-harbor-messages/..%2Fsecret", headers=tenant.headers("compliance")
    ).status_code in (400, 404)
    # The shipped placeholder is downloadable too: attempts of campaigns without a message name it.
    r = client.get(f"/api/safe-harbor-messages/{DEFAULT_SHA256}", headers=tenant.headers("compliance"))
    assert r.status_code == 200 and r.headers["x-clearline-source"] == "default"

    # Saving again with the same words keeps the same copy; new words make (and keep) a new one.
    cid = campaign["id"]
    r = client.patch(f"/api/campaigns/{cid}", json={"wrap_up_s": 40}, headers=tenant.headers("manager"))
    assert r.json()["settings"]["safe_harbor_sha256"] == sha
    r = client.patch(f"/api/campaigns/{cid}", json={"opt_out_key": "8"}, headers=tenant.headers("manager"))
    changed = r.json()["settings"]["safe_harbor_sha256"]
    assert changed != sha
    with runtime.db.session(ALL_ORGS) as s:
        kept_shas = set(
            s.scalars(select(SafeHarborMessageCopy.sha256).where(SafeHarborMessageCopy.org_id == tenant.id))
        )
    assert {sha, changed} <= kept_shas  # the earlier message stays kept: attempts name it


def test_an_uploaded_recording_wins_over_the_generated_message_and_is_kept_too(
    client: TestClient, tenant: Tenant, runtime: Runtime, tmp_path: Path
) -> None:
    campaign = _campaign(client, tenant, seller="Harbor Windows", safe_harbor_callback_number=CALLBACK)
    cid = campaign["id"]
    recorded = tmp_path / "recorded.wav"
    synthesize("This is a recorded message from Harbor Windows. Press 9 to opt out.", recorded)
    r = client.post(
        f"/api/campaigns/{cid}/safe-harbor", content=recorded.read_bytes(), headers=tenant.headers("manager")
    )
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["safe_harbor_message"] == "uploaded"
    uploaded_sha = r.json()["settings"]["safe_harbor_sha256"]
    assert uploaded_sha == hashlib.sha256(recorded.read_bytes()).hexdigest()
    r = client.patch(
        f"/api/campaigns/{cid}", json={"seller": "Harbor Doors"}, headers=tenant.headers("manager")
    )
    assert r.json()["settings"]["safe_harbor_message"] == "uploaded"  # a save does not replace a recording
    assert r.json()["settings"]["safe_harbor_sha256"] == uploaded_sha
    r = client.get(f"/api/safe-harbor-messages/{uploaded_sha}", headers=tenant.headers("compliance"))
    assert r.status_code == 200 and r.headers["x-clearline-source"] == "uploaded"
    # Asked for explicitly, the generated message replaces the recording.
    r = client.post(f"/api/campaigns/{cid}/safe-harbor/generate", headers=tenant.headers("manager"))
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["safe_harbor_message"] == "generated"


def test_a_callback_number_that_is_not_a_phone_number_is_refused_naming_the_field(
    client: TestClient, tenant: Tenant
) -> None:
    body = {"name": f"Harbor {time.monotonic_ns()}", "safe_harbor_callback_number": "+1 202 555"}
    r = client.post("/api/campaigns", json=body, headers=tenant.headers("manager"))
    assert r.status_code in (400, 422) and "safe_harbor_callback_number" in r.text, r.text
    campaign = _campaign(client, tenant)
    r = client.post(
        f"/api/campaigns/{campaign['id']}/safe-harbor/generate", headers=tenant.headers("manager")
    )
    assert r.status_code in (400, 422) and "safe_harbor_callback_number" in r.text


def test_a_seller_name_so_long_the_message_outlasts_30_s_is_refused_and_nothing_is_saved(
    client: TestClient, tenant: Tenant
) -> None:
    seller = "Harbor " + " ".join(["Very Long Company Name Incorporated"] * 5)
    name = f"Harbor {time.monotonic_ns()}"
    body = {"name": name, "seller": seller[:200], "safe_harbor_callback_number": CALLBACK}
    r = client.post("/api/campaigns", json=body, headers=tenant.headers("manager"))
    assert r.status_code == 422 and "2 to 30 s" in r.text and "seller" in r.text, r.text
    names = [c["name"] for c in client.get("/api/campaigns", headers=tenant.headers("manager")).json()]
    assert name not in names
