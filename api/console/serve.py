"""Serving the app from a thread of the current process (the demo's console, the browser tests)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from core.logging_json import uvicorn_log_config


def serve_in_thread(
    app: Any, host: str, port: int, *, name: str = "console-http"
) -> tuple[uvicorn.Server, threading.Thread]:
    """Start uvicorn on host:port in a daemon thread and wait until it listens (RuntimeError if not)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
        log_config=uvicorn_log_config(),  # none in JSON mode: its lines reach the JSON root handler
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the console could not start on {host}:{port}")
        time.sleep(0.05)
    return server, thread
