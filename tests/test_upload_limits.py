"""Every upload route refuses an oversize upload as soon as the limit is passed, with the same 413
problem+json, over a real HTTP server (the in-process test client reads whole bodies first)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
import uvicorn

from core.runtime import Runtime
from tests.conftest import Tenant

LIMIT = 1024 * 1024


@dataclass
class Server:
    port: int


@pytest.fixture(scope="module")
def small_server(runtime: Runtime) -> Iterator[Server]:
    from api.app import create_app

    small = Runtime(
        settings=replace(runtime.settings, max_upload_bytes=LIMIT),
        database_url=runtime.database_url,
        redis_url=runtime.redis_url,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(small), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield Server(port)
    server.should_exit = True
    thread.join(timeout=10)


def _campaign(runtime: Runtime, tenant: Tenant) -> str:
    from litestar.testing import TestClient

    from api.app import create_app

    with TestClient(app=create_app(runtime)) as client:
        r = client.post(
            "/api/campaigns",
            json={"name": f"c{time.monotonic_ns()}", "caller_id": "+12025550199"},
            headers=tenant.headers("manager"),
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def _routes(runtime: Runtime, tenant: Tenant) -> dict[str, tuple[str, str]]:
    boundary = "b0undary"
    return {
        "lead list": (
            f"/api/campaigns/{_campaign(runtime, tenant)}/lead-lists",
            f"multipart/form-data; boundary={boundary}",
        ),
        "dnc import": ("/api/dnc/imports?kind=national", "text/plain"),
        "scrub report": ("/api/dnc/scrub-reports", "text/csv"),
    }


def _response(sock: socket.socket) -> tuple[int, dict[str, object], str]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), json.loads(body), headers.get("content-type", "")


def _request_head(path: str, content_type: str, tenant: Tenant, framing: str) -> bytes:
    auth = tenant.headers("org_admin")["Authorization"]
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
        f"Content-Type: {content_type}\r\n{framing}\r\n"
    ).encode()


def test_a_declared_oversize_upload_is_refused_before_its_body_is_sent_on_every_route(
    runtime: Runtime, tenant: Tenant, small_server: Server
) -> None:
    answers = {}
    for name, (path, content_type) in _routes(runtime, tenant).items():
        with socket.create_connection(("127.0.0.1", small_server.port), timeout=10) as sock:
            sock.sendall(_request_head(path, content_type, tenant, f"Content-Length: {3 * 1024**3}\r\n"))
            started = time.monotonic()
            status, body, media = _response(sock)  # no byte of the 3 GiB body was sent
            assert time.monotonic() - started < 5
        assert (status, media) == (413, "application/problem+json"), (name, body)
        answers[name] = (body["title"], body["detail"])
    assert set(answers.values()) == {
        ("Request body too large", f"the file is larger than the {LIMIT}-byte upload limit")
    }, answers


def test_a_chunked_oversize_upload_is_refused_at_the_limit_not_at_its_end(
    runtime: Runtime, tenant: Tenant, small_server: Server
) -> None:
    path, content_type = _routes(runtime, tenant)["dnc import"]
    chunk = b"2025550143\n" * 6000  # 66 kB
    sent = 0
    with socket.create_connection(("127.0.0.1", small_server.port), timeout=10) as sock:
        sock.sendall(_request_head(path, content_type, tenant, "Transfer-Encoding: chunked\r\n"))
        try:
            while sent < 256 * LIMIT:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                sock.settimeout(0.0)
                try:
                    if sock.recv(1, socket.MSG_PEEK):
                        break  # the answer is there
                except BlockingIOError:
                    pass
                finally:
                    sock.settimeout(10)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, body, _ = _response(sock)
    assert status == 413, body
    assert sent < 32 * LIMIT, f"{sent} bytes were sent before the refusal"
