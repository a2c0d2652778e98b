"""Is a trunk there? One SIP OPTIONS request to its proxy (RFC 3261 11), answered by any final response.

Used by campaign readiness, outside the line workers (plain sockets, no pjsua2): any response at all, even
a 403 or 404, proves the proxy is reachable; silence past the timeout means it is not.
"""

from __future__ import annotations

import secrets
import socket
import time
from dataclasses import dataclass

PROBE_TIMEOUT_S = 1.0
CACHE_S = 30.0


@dataclass(frozen=True)
class ProbeResult:
    reachable: bool
    detail: str  # the status line received, or why nothing was


def _split_host_port(proxy: str, transport: str) -> tuple[str, int]:
    host, _, port = proxy.rpartition(":") if proxy.count(":") == 1 else (proxy, "", "")
    default = 5061 if transport == "tls" else 5060
    return (host or proxy), int(port) if port.isdigit() else default


def _request(host: str, port: int, transport: str, local: tuple[str, int]) -> bytes:
    branch = "z9hG4bK" + secrets.token_hex(8)
    tag = secrets.token_hex(4)
    via = f"SIP/2.0/{transport.upper()} {local[0]}:{local[1]};branch={branch};rport"
    lines = [
        f"OPTIONS sip:{host}:{port} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        f"From: <sip:readiness@{local[0]}>;tag={tag}",
        f"To: <sip:{host}:{port}>",
        f"Call-ID: {secrets.token_hex(12)}@clearline",
        "CSeq: 1 OPTIONS",
        "Accept: application/sdp",
        "User-Agent: Clearline readiness probe",
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def probe_options(proxy: str, transport: str = "udp", timeout_s: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Send OPTIONS to `proxy` (host[:port]) and wait up to `timeout_s` for a response."""
    host, port = _split_host_port(proxy, transport)
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        return ProbeResult(False, f"{host} does not resolve ({exc})")
    if transport == "tls":
        return ProbeResult(True, "TLS trunk: not probed (the line workers' TLS handshake is the test)")
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    try:
        with socket.socket(family, kind) as sock:
            sock.settimeout(timeout_s)
            sock.connect(address)
            sock.send(_request(host, port, transport, sock.getsockname()[:2]))
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                data = sock.recv(65535)
                if not data:
                    break
                status_line = data.split(b"\r\n", 1)[0].decode("latin-1")
                if status_line.startswith("SIP/2.0 ") and not status_line.startswith("SIP/2.0 1"):
                    return ProbeResult(True, status_line)
    except TimeoutError:
        pass
    except OSError as exc:
        return ProbeResult(False, f"no answer to SIP OPTIONS from {host}:{port} ({exc.strerror or exc})")
    return ProbeResult(
        False, f"no answer to SIP OPTIONS from {host}:{port}/{transport} within {timeout_s:g} s"
    )


_CACHE: dict[tuple[str, str], tuple[float, ProbeResult]] = {}


def cached_probe(proxy: str, transport: str = "udp") -> ProbeResult:
    """`probe_options`, remembered for `CACHE_S` so readiness pages do not flood a carrier."""
    key = (proxy, transport)
    now = time.monotonic()
    hit = _CACHE.get(key)
    if hit is not None and now - hit[0] < CACHE_S:
        return hit[1]
    result = probe_options(proxy, transport)
    _CACHE[key] = (now, result)
    return result
