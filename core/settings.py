"""Settings from the environment. One frozen object, read once per process."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    redis_url: str | None
    secret_key: str
    host: str
    port: int
    access_token_ttl_s: int
    refresh_token_ttl_s: int
    max_request_body_bytes: int
    max_upload_bytes: int
    trusted_proxies: tuple[str, ...]
    public_base_url: str
    debug_sql: bool = False  # CLEARLINE_DEBUG_SQL=1: SQL errors and logs show bound parameters
    metrics_token: str = ""  # CLEARLINE_METRICS_TOKEN: bearer token for GET /metrics
    metrics_allow: tuple[str, ...] = ()  # CLEARLINE_METRICS_ALLOW: networks that may scrape without it
    # CLEARLINE_DAILY_RETENTION=0: processes that supervise job workers do not run the daily retention
    # job (run `clearline retention run` from cron instead; the tests keep their old rows)
    daily_retention: bool = True
    # CLEARLINE_WEBHOOKS_ALLOW_PRIVATE=1: webhook targets may be loopback/private/link-local addresses (a
    # receiver on the operator's own network); off by default, so an org admin cannot aim at internal hosts
    webhooks_allow_private: bool = False
    webhooks_retry_base_s: float = 30.0  # CLEARLINE_WEBHOOKS_RETRY_BASE_S: first retry delay (x3 each time)
    webhooks_timeout_s: float = 10.0  # CLEARLINE_WEBHOOKS_TIMEOUT_S: connect and response timeout
    # CLEARLINE_FILE_STORE: where files every host must reach are kept (core.file_store): `postgres` (the
    # default: every process already reaches the database, so a second host works with no shared disk) or
    # `local` (under $CLEARLINE_HOME/files: one host, or a directory every host mounts)
    file_store: str = "postgres"

    @property
    def uses_embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url is None


def _load_or_create_secret(home: Path) -> str:
    """The secret key signs tokens and derives at-rest encryption keys: generated once, kept 0600."""
    path = home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key.encode())
    finally:
        os.close(fd)
    return key


def _networks(name: str, raw: str) -> tuple[str, ...]:
    nets = tuple(n.strip() for n in raw.split(",") if n.strip())
    for net in nets:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ValueError(
                f"{name}: {net!r} is not a network (write it as CIDR, e.g. 10.0.0.0/8)"
            ) from None
    return nets


FILE_STORES = ("postgres", "local")


def _file_store(raw: str) -> str:
    if raw not in FILE_STORES:
        raise ValueError(
            f"CLEARLINE_FILE_STORE: {raw!r} is not a file store; one of {', '.join(FILE_STORES)}"
        )
    return raw


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    home = Path(env.get("CLEARLINE_HOME", "./.clearline")).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    secret = env.get("CLEARLINE_SECRET_KEY") or _load_or_create_secret(home)
    host = env.get("CLEARLINE_HOST", "127.0.0.1")
    port = int(env.get("CLEARLINE_PORT", "8000"))
    proxies = tuple(p.strip() for p in env.get("CLEARLINE_TRUSTED_PROXIES", "").split(",") if p.strip())
    return Settings(
        home=home,
        database_url=env.get("DATABASE_URL") or None,
        redis_url=env.get("REDIS_URL") or None,
        secret_key=secret,
        host=host,
        port=port,
        access_token_ttl_s=int(env.get("CLEARLINE_ACCESS_TOKEN_TTL", "900")),
        refresh_token_ttl_s=int(env.get("CLEARLINE_REFRESH_TOKEN_TTL", str(7 * 24 * 3600))),
        max_request_body_bytes=int(env.get("CLEARLINE_MAX_BODY_BYTES", str(1024 * 1024))),
        max_upload_bytes=int(env.get("CLEARLINE_MAX_UPLOAD_BYTES", str(2 * 1024 * 1024 * 1024))),
        trusted_proxies=proxies,
        public_base_url=env.get("CLEARLINE_PUBLIC_URL", f"http://{host}:{port}"),
        debug_sql=env.get("CLEARLINE_DEBUG_SQL", "") == "1",
        metrics_token=env.get("CLEARLINE_METRICS_TOKEN", ""),
        metrics_allow=_networks("CLEARLINE_METRICS_ALLOW", env.get("CLEARLINE_METRICS_ALLOW", "")),
        daily_retention=env.get("CLEARLINE_DAILY_RETENTION", "1") != "0",
        webhooks_allow_private=env.get("CLEARLINE_WEBHOOKS_ALLOW_PRIVATE", "") == "1",
        webhooks_retry_base_s=float(env.get("CLEARLINE_WEBHOOKS_RETRY_BASE_S", "30")),
        webhooks_timeout_s=float(env.get("CLEARLINE_WEBHOOKS_TIMEOUT_S", "10")),
        file_store=_file_store(env.get("CLEARLINE_FILE_STORE", "postgres")),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
