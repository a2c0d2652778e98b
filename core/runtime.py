"""The per-process runtime: settings, resolved service URLs, the database and a Redis client.

`Runtime.start()` is the one entry point every process uses (API, workers, dialer, CLI, tests): it starts or
joins the embedded servers when URLs are unset and exports the resolved URLs to the environment so that
child processes join the same servers instead of starting their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import redis

from core import log_scrub, metrics, public_ids
from core.db import Database
from core.embedded import resolve_urls
from core.file_store import FileStore, LocalFileStore, PostgresFileStore
from core.home import private_umask, secure_home
from core.settings import Settings, get_settings


@dataclass
class Runtime:
    settings: Settings
    database_url: str
    redis_url: str

    def __post_init__(self) -> None:
        public_ids.configure(self.settings.secret_key)  # the ids the API shows are keyed from the secret

    @classmethod
    def start(cls, settings: Settings | None = None) -> Runtime:
        private_umask()  # before anything is created: data files, Redis (inherits it), logs, reports
        settings = settings or get_settings()
        log_scrub.install()
        metrics.configure(settings.home)
        db_url, redis_url = resolve_urls(settings.home, settings.database_url, settings.redis_url)
        secure_home(settings.home)
        os.environ["DATABASE_URL"] = db_url
        os.environ["REDIS_URL"] = redis_url
        return cls(settings=settings, database_url=db_url, redis_url=redis_url)

    @cached_property
    def db(self) -> Database:
        return Database(self.database_url, show_parameters=self.settings.debug_sql)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    @cached_property
    def files(self) -> FileStore:
        """Where files every host must reach are kept (core.file_store; CLEARLINE_FILE_STORE)."""
        if self.settings.file_store == "local":
            return LocalFileStore(self.settings.home / "files")
        return PostgresFileStore(self.db.engine)


_current: Runtime | None = None


def current_runtime() -> Runtime:
    """The process-wide runtime, started on first use."""
    global _current
    if _current is None:
        _current = Runtime.start()
    return _current


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime
