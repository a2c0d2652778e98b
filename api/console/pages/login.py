"""Log in and out of the console. The password check, throttle and audit are the API's own
(`api.auth.login_user`); only the credential handed back differs: a session cookie. A temporary password
(after an admin's reset) leads to "Choose a new password", the step of POST /api/auth/password
(`api.account_routes.replace_password_and_log_in`), which then logs the user in. A user whose organization
requires MFA they have not set up is taken, once the password is right, to a restricted enrolment step
(`/console/login/mfa`: QR code, secret, first code; `api.auth.confirm_enrolment`, as
POST /api/auth/mfa/confirm) and gets a session only when the code is confirmed."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy import select

from api.account_routes import replace_password_and_log_in
from api.auth import MfaEnrolmentPending, confirm_enrolment, end_sessions, login_user, principal_for
from api.auth import open_session as open_login_session
from api.client_ip import client_ip
from api.console.forms import FormErrors
from api.console.nav import console_opt
from api.console.pages.users import PASSWORD_HINT
from api.console.render import is_htmx, me, page
from api.console.sessions import (
    CSRF_HEADER,
    ENROLMENT_COOKIE,
    ENROLMENT_PATH,
    ENROLMENT_TTL_S,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL_S,
    ConsoleSession,
    PendingEnrolment,
    close_enrolment,
    close_session,
    cookie_options,
    load_enrolment,
    load_session,
    new_token,
    open_enrolment,
    open_session,
    tokens_match,
)
from api.principal import Principal
from core import mfa
from core.accounts import AccountState
from core.db import ALL_ORGS
from core.errors import AuthenticationError, ClearlineError, TooManyRequestsError, ValidationError
from core.models import Organization, Role, User
from core.qr import qr_svg
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
    totp: str = ""  # the authenticator code (or a recovery code) of an account with MFA
    next: str = ""


@dataclass
class NewPasswordForm:
    """The "Choose a new password" form: the temporary (or current) password is typed again, never carried in
    the page."""

    email: str = ""
    password: str = ""
    new_password: str = ""
    confirm_password: str = ""
    totp: str = ""
    next: str = ""


LOGIN_MESSAGES = {
    "mfa_required": "Enter the 6-digit code from your authenticator app (or one of your recovery codes).",
    "mfa_enrolment_required": (
        "Your organization requires two-factor authentication and your account has none yet. "
        "Log in again to set it up."
    ),
    "password_change_required": (
        "This is a temporary password: choose a new one to log in. Type the temporary password again."
    ),
}


def login_error_message(exc: AuthenticationError | TooManyRequestsError) -> str:
    if isinstance(exc, TooManyRequestsError):
        return f"Too many failed logins. Try again in about {max(1, exc.retry_after // 60)} minutes."
    code = getattr(exc, "problem_type", "")
    if code in LOGIN_MESSAGES:
        return LOGIN_MESSAGES[code]
    return "Wrong email, password or code." if "code" in str(exc) else "Wrong email or password."


def _login_page(request: Request[Any, Any, Any], runtime: Runtime, **extra: Any) -> Template:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    response = page(request, "login.html", login_csrf=token, **extra)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **cookie_options(request, runtime))
    return response


def _session_still_good(runtime: Runtime, cookie: str | None) -> bool:
    """The cookie's session exists and the account check every page makes accepts it. A session record
    alone is not enough: the user may have been deactivated or their password reset since (redirecting
    them away from the login page then would loop between it and the page that refused them)."""
    session = load_session(runtime, cookie)
    if session is None:
        return False
    try:
        principal_for(runtime, session.user_id, session.token_version, session.auth_session_id)
    except AuthenticationError:
        return False
    return True


@get("/console/login", opt=LOGIN_PAGE_OPT, include_in_schema=False, sync_to_thread=True)
def login_page(request: Request[Any, Any, Any], runtime: Runtime, next: str = "") -> Response[Any]:
    if _session_still_good(runtime, request.cookies.get(SESSION_COOKIE)):
        return Redirect(path=safe_next(next), status_code=303)
    return _login_page(request, runtime, next=safe_next(next), email="", error="", needs_code=False)


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
        account = await login_user(runtime, data.email, data.password, ip, data.totp.strip() or None)
    except MfaEnrolmentPending as pending:
        return await anyio.to_thread.run_sync(_start_enrolment, request, runtime, pending.account, data.next)
    except (AuthenticationError, TooManyRequestsError) as exc:
        if getattr(exc, "problem_type", "") == "password_change_required":
            return _new_password_page(request, runtime, data.email, data.next, bool(data.totp), FormErrors())
        return _login_page(
            request,
            runtime,
            next=safe_next(data.next),
            email=data.email,
            error=login_error_message(exc),
            needs_code=getattr(exc, "problem_type", "") == "mfa_required" or bool(data.totp),
            status_code=exc.status_code,
        )
    return await _logged_in(request, runtime, account, ip, data.next)


def _redirect(request: Request[Any, Any, Any], target: str) -> Response[Any]:
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": target})
    return Redirect(path=target, status_code=303)


def _enrolment_cookie(request: Request[Any, Any, Any], runtime: Runtime) -> dict[str, Any]:
    return {**cookie_options(request, runtime), "path": ENROLMENT_PATH}


def _start_enrolment(
    request: Request[Any, Any, Any], runtime: Runtime, account: AccountState, next_path: str
) -> Response[Any]:
    """The password was right and MFA must be set up first: a new secret (`core.mfa.begin_enrolment`, as
    POST /api/auth/mfa/enrol) and the restricted enrolment state, whose cookie opens nothing else."""
    with runtime.db.session(ALL_ORGS) as s:
        user = s.get(User, account.user_id)
        assert user is not None
        mfa.begin_enrolment(s, user, runtime.settings.secret_key)
    token = open_enrolment(runtime, PendingEnrolment(
        user_id=account.user_id, org_id=account.org_id, role=account.role.value, email=account.email,
        token_version=account.token_version, csrf_token=new_token(), next=safe_next(next_path),
    ))  # fmt: skip
    response = _redirect(request, ENROLMENT_PATH)
    response.set_cookie(
        ENROLMENT_COOKIE, token, max_age=ENROLMENT_TTL_S, **_enrolment_cookie(request, runtime)
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def _enrolment_page(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    pending: PendingEnrolment,
    errors: FormErrors,
    status_code: int = 200,
) -> Response[Any]:
    with runtime.db.session(ALL_ORGS) as s:
        user = s.get(User, pending.user_id)
        stored = user.mfa_secret if user is not None and not user.mfa_enabled else None
    if not stored:  # reset, enrolled elsewhere or gone meanwhile: start over from the password
        return _redirect(request, "/console/login")
    secret = mfa.decrypt_secret(runtime.settings.secret_key, stored, pending.user_id)
    uri = mfa.otpauth_uri(secret, pending.email)
    svg = Markup(qr_svg(uri, title="QR code to scan with your authenticator app"))  # noqa: S704 - our SVG
    return page(request, "login_mfa.html", csrf=pending.csrf_token, email=pending.email, secret=secret,
                otpauth_uri=uri, qr=svg, errors=errors, status_code=status_code)  # fmt: skip


@get(ENROLMENT_PATH, opt=LOGIN_PAGE_OPT, include_in_schema=False, sync_to_thread=True)
def enrolment_page(request: Request[Any, Any, Any], runtime: Runtime) -> Response[Any]:
    pending = load_enrolment(runtime, request.cookies.get(ENROLMENT_COOKIE))
    if pending is None:
        return Redirect(path="/console/login", status_code=303)
    return _enrolment_page(request, runtime, pending, FormErrors())


@dataclass
class EnrolmentForm:
    code: str = ""


@post(ENROLMENT_PATH, opt=LOGIN_PAGE_OPT, include_in_schema=False, status_code=200)
async def enrolment_submit(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    data: Annotated[EnrolmentForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Confirm the enrolment with the first code: MFA on, the login audited, a console session, and the
    recovery codes shown this once. A wrong code is refused next to the field and counts in the throttle."""
    cookie = request.cookies.get(ENROLMENT_COOKIE)
    pending = await anyio.to_thread.run_sync(load_enrolment, runtime, cookie)
    if pending is None:
        return _login_page(request, runtime, next="/console", email="", needs_code=False, status_code=401,
                           error="The set-up expired (it lasts 10 minutes). Log in again.")  # fmt: skip
    errors = FormErrors()
    if not tokens_match(pending.csrf_token, request.headers.get(CSRF_HEADER)):
        errors.add("form", "The form expired. Please reload the page and try again.")
        return await anyio.to_thread.run_sync(_enrolment_page, request, runtime, pending, errors, 403)
    account = AccountState(pending.user_id, pending.org_id, Role(pending.role), pending.email, True,
                           pending.token_version)  # fmt: skip
    ip = client_ip(request.scope, runtime.settings.trusted_proxies)
    try:
        confirmed = await confirm_enrolment(runtime, account, data.code, ip, log_in=True)
    except ValidationError as exc:
        errors.add("code", str(exc))
        return await anyio.to_thread.run_sync(_enrolment_page, request, runtime, pending, errors, 422)
    except TooManyRequestsError as exc:
        errors.add("form", login_error_message(exc))
        return await anyio.to_thread.run_sync(_enrolment_page, request, runtime, pending, errors, 429)
    except ClearlineError as exc:  # the account changed meanwhile, or MFA is already on: start over
        await anyio.to_thread.run_sync(close_enrolment, runtime, cookie)
        response = _login_page(request, runtime, next=pending.next, email=pending.email, needs_code=False,
                               error=f"The set-up stopped: {exc}.", status_code=401)  # fmt: skip
        response.delete_cookie(ENROLMENT_COOKIE, path=ENROLMENT_PATH)
        return response
    await anyio.to_thread.run_sync(close_enrolment, runtime, cookie)
    response = page(request, "login_mfa.html", csrf="", recovery_codes=confirmed.recovery_codes,
                    logged_in=confirmed.logged_in, next=pending.next)  # fmt: skip
    if confirmed.logged_in:
        token, _ = await anyio.to_thread.run_sync(start_console_session, runtime, confirmed.account, ip)
        response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_TTL_S, **cookie_options(request, runtime))
    response.delete_cookie(ENROLMENT_COOKIE, path=ENROLMENT_PATH)
    return response


def _new_password_page(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    email: str,
    next_path: str,
    needs_code: bool,
    errors: FormErrors,
    status_code: int = 200,
) -> Template:
    return _login_page(
        request,
        runtime,
        choose_password=True,
        next=safe_next(next_path),
        email=email,
        error="",
        needs_code=needs_code,
        errors=errors,
        password_hint=PASSWORD_HINT,
        status_code=status_code,
    )


@post("/console/login/password", opt=LOGIN_PAGE_OPT, include_in_schema=False, status_code=200)
async def new_password_submit(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    data: Annotated[NewPasswordForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Replace a temporary password and log in: the same step as POST /api/auth/password (the login
    check, throttle and audit, then the password policy), then a console session."""
    errors = FormErrors()
    needs_code = bool(data.totp)
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), request.headers.get(CSRF_HEADER)):
        errors.add("form", "The form expired. Please try again.")
        return _new_password_page(request, runtime, data.email, data.next, needs_code, errors, 403)
    if data.new_password != data.confirm_password:
        errors.add("confirm_password", "The two new passwords differ.")
        return _new_password_page(request, runtime, data.email, data.next, needs_code, errors, 422)
    ip = client_ip(request.scope, runtime.settings.trusted_proxies)
    try:
        account = await replace_password_and_log_in(
            runtime, data.email, data.password, data.new_password, ip, data.totp.strip() or None
        )
    except ValidationError as exc:
        errors.add("new_password" if exc.field == "new_password" else "form", str(exc))
        return _new_password_page(request, runtime, data.email, data.next, needs_code, errors, 422)
    except (AuthenticationError, TooManyRequestsError) as exc:
        errors.add("form", login_error_message(exc))
        needs_code = needs_code or getattr(exc, "problem_type", "") == "mfa_required"
        return _new_password_page(
            request, runtime, data.email, data.next, needs_code, errors, exc.status_code
        )
    return await _logged_in(request, runtime, account, ip, data.next)


async def _logged_in(
    request: Request[Any, Any, Any], runtime: Runtime, account: AccountState, ip: str | None, next_path: str
) -> Response[Any]:
    """A console session cookie for an accepted login, and on to the page asked for."""
    token, _ = await anyio.to_thread.run_sync(start_console_session, runtime, account, ip)
    target = safe_next(next_path)
    response: Response[Any] = (
        Response(content="", status_code=200, headers={"HX-Redirect": target})
        if is_htmx(request)
        else Redirect(path=target, status_code=303)
    )
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_TTL_S, **cookie_options(request, runtime))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def start_console_session(
    runtime: Runtime, account: AccountState, ip: str | None
) -> tuple[str, ConsoleSession]:
    """A console session for a user `login_user` accepted: an API login session (revocable like any
    other) and the cookie that names it; returns the cookie value and the session."""
    auth_session_id, _ = open_login_session(runtime, account, ip)
    return open_session(
        runtime,
        user_id=account.user_id,
        token_version=account.token_version,
        auth_session_id=auth_session_id,
        org_name=organization_name(runtime, account.org_id),
    )


def organization_name(runtime: Runtime, org_id: uuid.UUID | None) -> str:
    if org_id is None:
        return "All organizations"  # a platform admin
    with runtime.db.session(ALL_ORGS) as s:
        return str(s.scalars(select(Organization.name).where(Organization.id == org_id)).one())


@post(
    "/console/logout", opt=console_opt(*Role), include_in_schema=False, status_code=200, sync_to_thread=True
)
def logout(request: Request[Any, Any, Any], runtime: Runtime, principal: Principal) -> Response[Any]:
    """Ends the login session too: the cookie, if copied, is worthless from here on."""
    end_sessions(runtime, principal_with_session(request, principal), all_sessions=False)
    close_session(runtime, request.cookies.get(SESSION_COOKIE))
    response: Response[Any] = (
        Response(content="", status_code=200, headers={"HX-Redirect": "/console/login"})
        if is_htmx(request)
        else Redirect(path="/console/login", status_code=303)
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def principal_with_session(request: Request[Any, Any, Any], principal: Principal) -> Principal:
    """The caller with the login session their console session belongs to (what logout revokes)."""
    return dataclasses.replace(principal, session_id=me(request).session.auth_session_id)
