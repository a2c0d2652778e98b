"""CLEARLINE_LOG_FORMAT=json: one JSON object per line with the context ids, no phone number, no secret;
every API request has an id, in its response and on each line logged while it runs."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from api.request_id import OrgLogContextMiddleware, RequestIdMiddleware
from core.logging_json import JsonFormatter, configure_logging, log_context
from core.runtime import Runtime


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_a_json_line_has_the_context_ids_and_no_phone_number_or_secret(capture: Capture) -> None:
    log = logging.getLogger("clearline.test")
    campaign, attempt = uuid.uuid4(), uuid.uuid4()
    with log_context(request_id="req-12345678", org_id="org-1"), log_context(campaign_id=campaign):
        log.info(
            "dialing %s for lead 7", "+12025550199", extra={"attempt_id": attempt, "api_token": "s3cr3t"}
        )
        try:
            raise RuntimeError("carrier refused +12025550198")
        except RuntimeError:
            log.exception("call failed")
    log.info("after the context")
    first, second, third = capture.objects()
    assert first["message"] == "dialing <phone …99> for lead 7" and first["level"] == "INFO"
    assert first["logger"] == "clearline.test" and first["ts"].endswith("+00:00")
    assert (first["request_id"], first["org_id"]) == ("req-12345678", "org-1")
    assert (first["campaign_id"], first["attempt_id"]) == (str(campaign), str(attempt))
    assert first["api_token"] == "[redacted]"
    assert "RuntimeError" in second["exc"] and "+12025550198" not in second["exc"]
    assert "request_id" not in third and "campaign_id" not in third
    assert all("s3cr3t" not in line and "2025550199" not in line for line in capture.lines)
    assert all("\n" not in line for line in capture.lines)


def test_an_unknown_log_format_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARLINE_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="CLEARLINE_LOG_FORMAT: 'xml' is not a log format"):
        configure_logging(stream=io.StringIO())


def test_api_requests_get_an_id_in_the_response_and_on_their_log_lines(
    client: TestClient, capture: Capture
) -> None:
    given = "trace-" + uuid.uuid4().hex[:12]
    refused = client.post(
        "/api/auth/login",
        json={"email": "nobody@example.test", "password": "wrong"},
        headers={"X-Request-ID": given},
    )
    assert refused.status_code == 401 and refused.headers["x-request-id"] == given
    failed = [o for o in capture.objects() if o["message"].startswith("failed login")]
    assert failed and failed[0]["request_id"] == given
    fresh = client.get("/api/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert fresh.headers["x-request-id"] != "bad id\twith spaces" and len(fresh.headers["x-request-id"]) == 32


def test_the_callers_organization_joins_the_request_log_context(capture: Capture) -> None:
    org = uuid.uuid4()

    class Caller:
        org_id = org

    @get("/work", sync_to_thread=True)
    def work() -> str:
        logging.getLogger("clearline.test").info("working")
        return "ok"

    def auth_factory(app: Any) -> Any:
        async def mw(scope: Any, receive: Any, send: Any) -> None:
            scope["user"] = Caller()
            await app(scope, receive, send)

        return mw

    app = Litestar(
        [work], middleware=[RequestIdMiddleware, auth_factory, OrgLogContextMiddleware], logging_config=None
    )
    with TestClient(app=app) as http:
        response = http.get("/work")
    line = next(o for o in capture.objects() if o["message"] == "working")
    assert line["org_id"] == str(org) and line["request_id"] == response.headers["x-request-id"]


def test_a_cli_process_logs_only_json_lines(runtime: Runtime, repo_root: Path) -> None:
    env = {**os.environ, "CLEARLINE_LOG_FORMAT": "json"}
    proc = subprocess.run(
        [sys.executable, "-m", "clearline.cli", "-v", "migrate"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines, "the verbose CLI logged nothing"
    objects = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "message"} <= o.keys() for o in objects)
    assert runtime.settings.secret_key not in proc.stderr
