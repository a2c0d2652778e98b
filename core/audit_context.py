"""Who is acting, for the audit log: set once per request, CLI command or job, read by the database.

The audit triggers (migration 0012) write a row for every change of an audited table, whatever path made
it. They take who made it from transaction-local settings (`clearline.actor`, `clearline.user_id`,
`clearline.client_ip`, `clearline.process`) that every ORM transaction begun while an actor is current
sets (`after_begin` below); with no actor (the engine, a bare script), the row names the process through
the connection's `application_name` (`process_name()`, set by each entry point with `set_process`).
"""

from __future__ import annotations

import contextvars
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (API, console), an operator at the CLI, or a process (job, engine)."""

    actor: str = ""  # the user's email, "cli:<os user>", or "" for a process acting on its own
    user_id: uuid.UUID | None = None
    process: str = ""  # "api", "console", "cli create-org", "job dnc_import <id>" ...
    client_ip: str | None = None


# The current actor, or a function giving it (a request's principal is known only once authenticated).
_current: contextvars.ContextVar[Actor | Callable[[], Actor | None] | None] = contextvars.ContextVar(
    "clearline_audit_actor", default=None
)
_process = ""


def set_process(name: str) -> None:
    """Name this process for the audit log (before the first database connection is made)."""
    global _process
    _process = name


def process_name() -> str:
    if _process:
        return _process
    argv = [os.path.basename(sys.argv[0]) if sys.argv else "python", *sys.argv[1:3]]
    return " ".join(a for a in argv if a)[:60] or "clearline"


def current_actor() -> Actor | None:
    found = _current.get()
    return found() if callable(found) else found


@contextmanager
def acting_as(actor: Actor | Callable[[], Actor | None]) -> Iterator[None]:
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)


def set_actor(actor: Actor | Callable[[], Actor | None] | None) -> contextvars.Token[Any]:
    return _current.set(actor)


def reset_actor(token: contextvars.Token[Any]) -> None:
    _current.reset(token)


SET_ACTOR = text(
    "SELECT set_config('clearline.actor', :actor, true), set_config('clearline.user_id', :user_id, true),"
    " set_config('clearline.process', :process, true), set_config('clearline.client_ip', :ip, true)"
)


@event.listens_for(Session, "after_begin")
def _name_the_actor(_session: Session, _transaction: Any, connection: Any) -> None:
    actor = current_actor()
    if actor is None:
        return
    connection.execute(
        SET_ACTOR,
        {
            "actor": actor.actor[:254],
            "user_id": str(actor.user_id) if actor.user_id else "",
            "process": (actor.process or process_name())[:200],
            "ip": actor.client_ip or "",
        },
    )
