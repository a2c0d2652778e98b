"""Admin > Certificates: the organization's STIR/SHAKEN signing certificates, through the same
`attestation.certificate_store` services as `/api/attestation/certificates`: upload a chain and its
private key (validated against the platform's STI-CA trust anchors; the key is stored encrypted), make
one the active certificate, remove an inactive one, and see how long each has left.

The private key is read from the uploaded file, handed to the service and dropped: it is never rendered
back, logged, or kept on disk by the console (the upload is small and parsed in memory under its own
body-size limit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.pages.admin import ADMIN, Organizations, admin_page, field_errors, go_to
from api.principal import Principal
from attestation import certificate_store
from attestation.models import SigningCertificate
from attestation.signer import EXPIRY_WARNING_S
from core.errors import ConfigurationError, ValidationError
from core.runtime import Runtime
from dialer.sip.profiles import profiles_by_certificate_label

# Two PEM files of at most MAX_PEM_BYTES each, a label, an organization, and multipart framing.
MAX_BODY = 2 * certificate_store.MAX_PEM_BYTES + 16 * 1024
UploadForm = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
FILE_FIELDS = {"chain_pem": "chain_file", "key_pem": "key_file"}


def _rows(session: Session, now: datetime) -> list[dict[str, Any]]:
    by_label = profiles_by_certificate_label()
    return [
        {"cert": c, "expiry": certificate_store.expiry(c, now=now), "profiles": by_label.get(c.label, [])}
        for c in certificate_store.list_certificates(session)
    ]


def _page(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    notice: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    by_label = profiles_by_certificate_label()
    return admin_page(
        request,
        "admin/certificates.html",
        "certificates",
        status_code=status_code,
        rows=_rows(session, datetime.now(UTC)),
        orgs=Organizations(session, principal),
        profile_labels=sorted(by_label.items()),
        warning_days=EXPIRY_WARNING_S // 86_400,
        v=values or {},
        errors=errors or FormErrors(),
        notice=notice,
    )


@get("/console/admin/certificates", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def certificate_list(request: Request[Any, Any, Any], session: Session, principal: Principal) -> Template:
    return _page(request, session, principal)


def _text(value: Any) -> str:
    """A form part as text: the uploaded file's content, or a plain field."""
    if isinstance(value, UploadFile):
        return value.file.read(certificate_store.MAX_PEM_BYTES + 1).decode("utf-8", "replace")
    return str(value or "")


@post(
    "/console/admin/certificates/new",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
    request_max_body_size=MAX_BODY,
)
def upload_certificate(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    runtime: Runtime,
    data: UploadForm,
) -> Response[Any]:
    values = {"label": _text(data.get("label")).strip(), "org_id": _text(data.get("org_id"))}
    errors = FormErrors()
    chain, key = _text(data.get("chain_file")), _text(data.get("key_file"))
    if not chain.strip():
        errors.add(
            "chain_file", "choose the certificate chain file (PEM: the SHAKEN certificate, then its CA)"
        )
    if not key.strip():
        errors.add("key_file", "choose the private key file (PEM)")
    org_id = Organizations(session, principal).for_write(values["org_id"], errors)
    if not errors and org_id is not None:
        try:
            row = certificate_store.add_certificate(
                session,
                org_id=org_id,
                secret_key=runtime.settings.secret_key,
                chain_pem=chain,
                key_pem_text=key,
                label=values["label"],
                trust_anchors=certificate_store.load_trust_anchors(runtime.settings.home),
                now=datetime.now(UTC),
            )
            return go_to(request, f"/console/admin/certificates/{row.id}?uploaded=1")
        except ValidationError as exc:
            session.rollback()
            field_errors(errors, exc, FILE_FIELDS)
        except ConfigurationError as exc:  # the platform has no STI-CA trust anchors yet
            errors.add("form", str(exc))
    del key  # the key goes nowhere else: not into the page, not into a log
    return _page(request, session, principal, values=values, errors=errors, status_code=422)


def _detail(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    runtime: Runtime,
    cert: SigningCertificate,
    notice: dict[str, str] | None = None,
) -> Template:
    if notice is None and request.query_params.get("uploaded"):
        state = (
            "It is the active certificate: calls are signed with it."
            if cert.active
            else ("It is not active yet: activate it to sign calls with it.")
        )
        notice = {"kind": "ok", "title": "Certificate uploaded.", "message": state}
    return admin_page(
        request,
        "admin/certificate.html",
        "certificates",
        cert=cert,
        expiry=certificate_store.expiry(cert, now=datetime.now(UTC)),
        profiles=profiles_by_certificate_label().get(cert.label, []),
        x5u=certificate_store.x5u_url(runtime.settings.public_base_url, cert.id),
        org_name=Organizations(session, principal).names.get(cert.org_id),
        notice=notice,
    )


@get(
    "/console/admin/certificates/{certificate_id:uuid}",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def certificate_detail(
    request: Request[Any, Any, Any],
    certificate_id: uuid.UUID,
    session: Session,
    principal: Principal,
    runtime: Runtime,
) -> Template:
    cert = certificate_store.get_certificate(session, certificate_id)
    return _detail(request, session, principal, runtime, cert)


@post(
    "/console/admin/certificates/{certificate_id:uuid}/activate",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def activate_certificate(
    request: Request[Any, Any, Any],
    certificate_id: uuid.UUID,
    session: Session,
    principal: Principal,
    runtime: Runtime,
) -> Template:
    cert = certificate_store.activate_certificate(session, certificate_id, now=datetime.now(UTC))
    notice = {
        "kind": "ok",
        "title": "Activated.",
        "message": "Calls are signed with this certificate from now on.",
    }
    return _detail(request, session, principal, runtime, cert, notice)


@post(
    "/console/admin/certificates/{certificate_id:uuid}/remove",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def remove_certificate(
    request: Request[Any, Any, Any], certificate_id: uuid.UUID, session: Session, principal: Principal
) -> Response[Any]:
    certificate_store.delete_certificate(session, certificate_id)  # the active one: refused (409 notice)
    return go_to(request, "/console/admin/certificates")


PAGES = [certificate_list, upload_certificate, certificate_detail, activate_certificate, remove_certificate]
