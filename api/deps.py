"""Dependencies every route can ask for: the runtime, the caller, and a session scoped to the caller."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.orm import Session

from api.principal import Principal
from core.runtime import Runtime


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    assert isinstance(user, Principal), "route is not behind authentication"
    return user


def provide_session(state: State, request: Request[Any, Any, Any]) -> Generator[Session, None, None]:
    """The caller's scoped session: the org scope is taken from the token, never from the request."""
    runtime: Runtime = state.runtime
    principal = provide_principal(request)
    with runtime.db.session(principal.scope) as session:
        yield session


DEPENDENCIES = {
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "session": Provide(provide_session),
}
