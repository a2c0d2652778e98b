"""Issue 18, item 11: bound SQL parameters and phone numbers do not reach the logs."""

from __future__ import annotations

import logging

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DataError

from core import log_scrub
from core.db import ALL_ORGS
from core.runtime import Runtime
from tests.conftest import Tenant


def test_a_failing_statement_does_not_carry_its_bound_parameters(runtime: Runtime) -> None:
    secret = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0$+12025550123"
    with pytest.raises(DataError) as info, runtime.db.session(ALL_ORGS) as s:
        s.execute(text("SELECT CAST(:value AS text), 1 / 0"), {"value": secret})
    assert secret not in str(info.value) and "argon2" not in str(info.value)
    assert "hidden" in str(info.value)


def test_phone_numbers_are_masked_in_every_log_record(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_scrub.install()  # what every Clearline process does at start (Runtime.start)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="uvicorn.access")  # whatever level an earlier uvicorn left it at
    # A uvicorn started by another test (the console's) stops its access log from propagating to caplog.
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "propagate", True)
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "disabled", False)
    monkeypatch.setattr(logging.getLogger("uvicorn"), "propagate", True)  # uvicorn's config stops it there
    logging.getLogger("any.library").info(
        "dialing %s for lead %s", "+12025550123", {"phone": "(303) 555-0187"}
    )
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET",
                                             "/api/dnc/internal/+14155550100", "1.1", 200)  # fmt: skip
    try:
        raise ValueError("'+16175550199' is not allowed")
    except ValueError:
        logging.getLogger("any.library").exception("failed")
    assert "5550123" not in caplog.text and "555-0187" not in caplog.text and "5550100" not in caplog.text
    assert "5550199" not in caplog.text
    assert "<phone …23>" in caplog.text and "<phone …87>" in caplog.text and " 200" in caplog.text


def test_a_value_too_long_for_its_column_is_a_422_and_its_log_has_no_parameters(
    client: TestClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    agent = tenant.users["agent"]
    r = client.patch(
        f"/api/users/{agent.id}", json={"display_name": "+12025550123 " * 40}, headers=tenant.headers()
    )
    assert r.status_code == 422, r.text
    assert "5550123" not in caplog.text and "5550123" not in r.text
