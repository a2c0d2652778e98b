"""The signed-in user's own account in the console: two-factor authentication (TOTP) enrolment with a
QR code of the otpauth URI (made on the server as SVG, `core.qr`), the secret as text for devices that
cannot scan, confirmation with a first code, and the recovery codes shown once. The same `core.mfa`
functions as `POST /api/users/me/mfa` and `/api/users/me/mfa/confirm`."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template
from markupsafe import Markup
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.nav import console_opt
from api.console.pages.compliance import FormData, form_value
from api.console.render import page
from api.principal import Principal
from core import credentials, mfa
from core.db import utcnow
from core.errors import AuthenticationError, ValidationError
from core.models import Role, User
from core.qr import qr_svg
from core.runtime import Runtime

ANYONE = console_opt(Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT)


def _me(session: Session, principal: Principal) -> User:
    user = credentials.user_by_id(session, principal.user_id)
    if user is None:
        raise AuthenticationError("user is not active")
    return user


def _enrolment(user: User, secret: str, request: Request[Any, Any, Any], **extra: Any) -> Template:
    uri = mfa.otpauth_uri(secret, user.email)
    svg = Markup(qr_svg(uri, title="QR code to scan with your authenticator app"))  # noqa: S704 - our SVG
    return page(request, "account/mfa.html", user=user, secret=secret, otpauth_uri=uri, qr=svg,
                errors=extra.pop("errors", FormErrors()), **extra)  # fmt: skip


@get("/console/account/mfa", opt=ANYONE, include_in_schema=False, sync_to_thread=True)
def mfa_page(request: Request[Any, Any, Any], session: Session, principal: Principal) -> Template:
    user = _me(session, principal)
    return page(request, "account/mfa.html", user=user, secret=None, errors=FormErrors(),
                codes_left=mfa.recovery_codes_left(session, user.id) if user.mfa_enabled else 0)  # fmt: skip


@post("/console/account/mfa", opt=ANYONE, include_in_schema=False, sync_to_thread=True)
def mfa_begin(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime
) -> Template:
    user = _me(session, principal)
    found = mfa.begin_enrolment(session, user, runtime.settings.secret_key)
    return _enrolment(user, found.secret, request)


@post("/console/account/mfa/confirm", opt=ANYONE, include_in_schema=False, sync_to_thread=True)
def mfa_confirm(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    user = _me(session, principal)
    key = runtime.settings.secret_key
    try:
        codes = mfa.confirm_enrolment(session, user, form_value(data, "code"), key, utcnow())
    except ValidationError as exc:
        session.rollback()
        user = _me(session, principal)
        if not user.mfa_secret:
            raise
        errors = FormErrors()
        errors.add("code", str(exc))
        secret = mfa.decrypt_secret(key, user.mfa_secret, user.id)
        response = _enrolment(user, secret, request, errors=errors)
        response.status_code = 422
        return response
    return page(
        request, "account/mfa.html", user=user, secret=None, errors=FormErrors(), recovery_codes=codes
    )


PAGES = [mfa_page, mfa_begin, mfa_confirm]
