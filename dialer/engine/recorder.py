"""Writes call evidence to the database off the engine's event thread, in the order it happened.

The event thread must claim an agent and bridge within milliseconds of an answer; a database round trip
per SIP event would sit in that path. So progress stamps, final outcomes and alarms are queued here and a
single writer applies them in order. `flush()` waits until everything queued so far is written.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, name: str = "attempt-recorder") -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None] = (
            queue.Queue()
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self.errors = 0

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._queue.put((fn, args, kwargs))

    def flush(self, timeout_s: float = 30.0) -> bool:
        done = threading.Event()
        self._queue.put((done.set, (), {}))
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args, kwargs = item
            try:
                fn(*args, **kwargs)
            except Exception:  # one bad write must not stop the evidence of every later call
                self.errors += 1
                log.exception("recording %s failed", getattr(fn, "__name__", fn))
