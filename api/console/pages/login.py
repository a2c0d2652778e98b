"""Log in and out of the console. The password check, throttle and audit are the API's own
(`api.auth.login_user`), and so is the login session row; only the credential handed back differs: a
session cookie."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from api.auth import end_sessions, login_user
from api.client_ip import client_ip
from api.console.nav import console_opt
from api.console.render import is_htmx, page
from api.console.sessions import (
    CSRF_HEADER,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL_S,
    close_session,
    cookie_options,
    load_session,
    new_token,
    open_session,
    tokens_match,
)
from api.principal import Principal
from core.errors import AuthenticationError, TooManyRequestsError
from core.models import Role
from core.runtime import Runtime

LOGIN_PAGE_OPT = {"exclude_from_auth": True, "public": True, "console": True}


def safe_next(target: str | None) -> str:
    """Only a console path of this site: never another host (`//evil`, `/\\evil`, `https://...`)."""
    if target and target.startswith("/console") and "//" not in target and "\\" not in target:
        return target
    return "/console"


@dataclass
class LoginForm:
    email: str = ""
    password: str = ""
    next: str = ""


def _login_page(request: Request[Any, Any, Any], runtime: Runtime, **extra: Any) -> Template:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    response = page(request, "login.html", login_csrf=token, **extra)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **cookie_options(request, runtime))
    return response


@get("/console/login", opt=LOGIN_PAGE_OPT, include_in_schema=False, sync_to_thread=True)
def login_page(request: Request[Any, Any, Any], runtime: Runtime, next: str = "") -> Response[Any]:
    if load_session(runtime, request.cookies.get(SESSION_COOKIE)) is not None:
        return Redirect(path=safe_next(next), status_code=303)
    return _login_page(request, runtime, next=safe_next(next), email="", error="")


@post("/console/login", opt=LOGIN_PAGE_OPT, include_in_schema=False, status_code=200)
async def login_submit(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    # No session yet, so the CSRF proof is the double-submit cookie set with the login page.
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), request.headers.get(CSRF_HEADER)):
        return _login_page(
            request,
            runtime,
            next=safe_next(data.next),
            email=data.email,
            error="The login form expired. Please try again.",
            status_code=403,
        )
    ip = client_ip(request.scope, runtime.settings.trusted_proxies)
    try:
        account = await login_user(runtime, data.email, data.password, ip)
    except (AuthenticationError, TooManyRequestsError) as exc:
        message = (
            "Wrong email or password."
            if isinstance(exc, AuthenticationError)
            else (f"Too many failed logins. Try again in about {max(1, exc.retry_after // 60)} minutes.")
        )
        return _login_page(
            request,
            runtime,
            next=safe_next(data.next),
            email=data.email,
            error=message,
            status_code=exc.status_code,
        )
    token, _ = await anyio.to_thread.run_sync(open_session, runtime, account, ip)
    target = safe_next(data.next)
    response: Response[Any] = (
        Response(content="", status_code=200, headers={"HX-Redirect": target})
        if is_htmx(request)
        else Redirect(path=target, status_code=303)
    )
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_TTL_S, **cookie_options(request, runtime))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@post(
    "/console/logout", opt=console_opt(*Role), include_in_schema=False, status_code=200, sync_to_thread=True
)
def logout(request: Request[Any, Any, Any], runtime: Runtime, principal: Principal) -> Response[Any]:
    close_session(runtime, request.cookies.get(SESSION_COOKIE))
    end_sessions(runtime, principal, all_sessions=False)
    response: Response[Any] = (
        Response(content="", status_code=200, headers={"HX-Redirect": "/console/login"})
        if is_htmx(request)
        else Redirect(path="/console/login", status_code=303)
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
