"""Which file column holds which lead field (header auto-detection, or an explicit mapping), and turning
one row's cells into a clean lead or a list of (field, reason) errors.

Rules a row must meet: a phone number (normalized later), names of at most 200 characters, a US state
(code or name), a ZIP of 5 or 9 digits, consent one of none/express/express_written with a date that is
not in the future, a yes/no wireless flag; every other column is kept as an extra field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.errors import ValidationError
from dnc.lead_facts import (
    CONSENT_RULE,
    DATE_RULE,
    STATES,
    WIRELESS,
    WIRELESS_RULE,
    parse_consent,
    parse_date,
    parse_state,
    parse_zip,
)

__all__ = ["FIELDS", "STATES", "Columns", "LeadRow", "clean_row", "resolve_columns"]

FIELDS = (
    "phone",
    "first_name",
    "last_name",
    "state",
    "zip_code",
    "consent",
    "consent_at",
    "wireless",
    # The consent artifact, stored as the lead's consent record (dnc.consent) when it gives consent:
    "consent_disclosure",
    "consent_ip",
    "consent_certificate",
)

SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        [
            "phone",
            "phonenumber",
            "phoneno",
            "telephone",
            "tel",
            "mobile",
            "mobilephone",
            "cell",
            "cellphone",
            "number",
            "phone1",
            "primaryphone",
            "homephone",
            "contactnumber",
        ],
        "phone",
    ),
    **dict.fromkeys(["firstname", "first", "fname", "givenname", "forename"], "first_name"),
    **dict.fromkeys(["lastname", "last", "lname", "surname", "familyname"], "last_name"),
    **dict.fromkeys(["state", "st", "stateprovince", "statecode"], "state"),
    **dict.fromkeys(["zip", "zipcode", "postalcode", "postcode", "zip5", "postal"], "zip_code"),
    **dict.fromkeys(["consent", "consenttype", "consentlevel"], "consent"),
    **dict.fromkeys(["consentdate", "consentat", "optindate", "consentedat", "consentedon"], "consent_at"),
    **dict.fromkeys(["wireless", "iswireless", "wirelessflag", "linetype", "mobileflag"], "wireless"),
    **dict.fromkeys(
        ["consentdisclosure", "disclosure", "consenttext", "consentlanguage", "consenturl", "optinurl",
         "tcpadisclosure"],
        "consent_disclosure",
    ),
    **dict.fromkeys(["consentip", "ipaddress", "ip", "optinip", "consumerip"], "consent_ip"),
    **dict.fromkeys(
        ["consentcertificate", "trustedformcerturl", "trustedformcert", "trustedform", "leadid", "jornayaleadid",
         "leadidtoken", "universalleadid", "certificateid", "leadcertificate"],
        "consent_certificate",
    ),
}  # fmt: skip
MAX_CERTIFICATE = 200

MAX_NAME = 200
MAX_PHONE = 64
MAX_EXTRA_VALUE = 2000
MAX_EXTRA_KEY = 100

_HEADER_KEY = re.compile(r"[^a-z0-9]")
_PHONE_LIKE = re.compile(r"^[\s+()\-.\d]{7,25}$")


def header_key(header: str) -> str:
    return _HEADER_KEY.sub("", header.lower())


@dataclass(frozen=True)
class Columns:
    """Where each lead field is in a row (by index), and the columns kept as extra fields."""

    fields: dict[str, int]
    extra: list[tuple[int, str]]
    has_header: bool
    width: int  # cells beyond this many are kept as extra fields named column_N

    def describe(self) -> dict[str, Any]:
        return {
            "fields": dict(self.fields),
            "extra": [name for _, name in self.extra],
            "has_header": self.has_header,
        }


def _unique_key(name: str, used: set[str]) -> str:
    key, n = name, 1
    while key in used:
        n += 1
        key = f"{name}_{n}"
    used.add(key)
    return key


def resolve_columns(
    first_row: Sequence[str],
    mapping: Mapping[str, str | int] | None = None,
    *,
    has_header: bool | None = None,
) -> Columns:
    """Map fields to columns from the first row. `mapping` ({field: header text or 0-based index})
    overrides auto-detection for the fields it names; `has_header` overrides header detection."""
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ValidationError(
            f"mapping names unknown fields {unknown}; fields are {list(FIELDS)}", field="mapping"
        )
    detected = {i: SYNONYMS.get(header_key(cell)) for i, cell in enumerate(first_row)}
    if has_header is None:
        has_header = any(detected.values()) or any(isinstance(v, str) for v in mapping.values())
        has_header = has_header or not any(_PHONE_LIKE.match(cell.strip()) for cell in first_row)
    fields: dict[str, int] = {}
    headers = [cell.strip() for cell in first_row] if has_header else []
    for name, source in mapping.items():
        if isinstance(source, int) or (isinstance(source, str) and source.isdigit() and not has_header):
            index = int(source)
            if index < 0:
                raise ValidationError(f"mapping for {name}: column {index} does not exist", field="mapping")
        else:
            wanted = header_key(str(source))
            matches = [i for i, h in enumerate(headers) if header_key(h) == wanted]
            if not matches:
                raise ValidationError(
                    f"mapping for {name}: the file has no column {source!r} (columns: {headers})",
                    field="mapping",
                )
            index = matches[0]
        fields[name] = index
    if has_header:
        for index, detected_field in detected.items():
            if detected_field and detected_field not in fields and index not in fields.values():
                fields[detected_field] = index
    elif "phone" not in fields:
        phone_columns = [i for i, cell in enumerate(first_row) if _PHONE_LIKE.match(cell.strip())]
        if phone_columns:
            fields["phone"] = phone_columns[0]
    if "phone" not in fields:
        raise ValidationError(
            "no phone column found: name one with a header such as 'phone', or map it explicitly",
            field="mapping",
        )
    used: set[str] = set(FIELDS)
    taken = set(fields.values())
    extra = [
        (
            i,
            _unique_key(
                (headers[i] if has_header and headers[i] else f"column_{i + 1}")[:MAX_EXTRA_KEY], used
            ),
        )
        for i in range(len(first_row))
        if i not in taken
    ]
    width = max(len(first_row), max(fields.values()) + 1)
    return Columns(fields=fields, extra=extra, has_header=has_header, width=width)


@dataclass(slots=True)
class LeadRow:
    row_number: int
    phone_raw: str
    first_name: str | None = None
    last_name: str | None = None
    state: str | None = None
    zip_code: str | None = None
    consent: str = "none"
    consent_at: date | None = None
    wireless: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)
    consent_disclosure: str = ""
    consent_ip: str | None = None
    consent_certificate: str | None = None


RowError = tuple[str, str, str]  # field, offending value, reason


def clean_row(
    columns: Columns, row_number: int, cells: Sequence[str], today: date
) -> tuple[LeadRow | None, list[RowError]]:
    """One file row as a lead, or the reasons it cannot be one (every bad field, not just the first)."""
    count = len(cells)
    values = {name: cells[i].strip() for name, i in columns.fields.items() if i < count}
    errors: list[RowError] = []
    phone = values.get("phone", "")
    if not phone:
        errors.append(("phone", "", "missing: every lead needs a phone number"))
    elif len(phone) > MAX_PHONE:
        errors.append(("phone", phone, f"longer than {MAX_PHONE} characters"))
    lead = LeadRow(row_number=row_number, phone_raw=phone)
    for name in ("first_name", "last_name"):
        if value := values.get(name):
            if len(value) > MAX_NAME:
                errors.append((name, value, f"longer than {MAX_NAME} characters"))
            else:
                setattr(lead, name, value)
    if value := values.get("state"):
        lead.state = parse_state(value)
        if lead.state is None:
            errors.append(("state", value, "not a US state code or name"))
    if value := values.get("zip_code"):
        lead.zip_code = parse_zip(value)
        if lead.zip_code is None:
            errors.append(("zip_code", value, "not a ZIP code (5 digits, or ZIP+4)"))
    if value := values.get("consent"):
        consent = parse_consent(value)
        if consent is None:
            errors.append(("consent", value, CONSENT_RULE))
        else:
            lead.consent = consent
    if value := values.get("consent_at"):
        lead.consent_at = parse_date(value)
        if lead.consent_at is None:
            errors.append(("consent_at", value, DATE_RULE))
        elif lead.consent_at > today:
            errors.append(("consent_at", value, "consent date is in the future"))
    _consent_artifact(lead, values, errors)
    if value := values.get("wireless"):
        if value.lower() in WIRELESS:
            lead.wireless = WIRELESS[value.lower()]
        else:
            errors.append(("wireless", value, WIRELESS_RULE))
    for index, key in columns.extra:
        if index < count and (value := cells[index].strip()):
            if len(value) > MAX_EXTRA_VALUE:
                errors.append((key, value, f"longer than {MAX_EXTRA_VALUE} characters"))
            else:
                lead.extra[key] = value
    for index in range(columns.width, count):
        if value := cells[index].strip():  # more cells than the header has columns: keep them too
            if len(value) > MAX_EXTRA_VALUE:
                errors.append((f"column_{index + 1}", value, f"longer than {MAX_EXTRA_VALUE} characters"))
            else:
                lead.extra[f"column_{index + 1}"] = value
    return (None, errors) if errors else (lead, errors)


def _consent_artifact(lead: LeadRow, values: dict[str, str], errors: list[RowError]) -> None:
    """The disclosure, consumer IP and lead certificate of the row's consent; without consent they are
    kept as extra fields (nothing is dropped)."""
    disclosure, ip, certificate = (
        values.get(f) for f in ("consent_disclosure", "consent_ip", "consent_certificate")
    )
    if disclosure and len(disclosure) > MAX_EXTRA_VALUE:
        errors.append(("consent_disclosure", disclosure, f"longer than {MAX_EXTRA_VALUE} characters"))
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            errors.append(("consent_ip", ip, "not an IP address"))
    if certificate and len(certificate) > MAX_CERTIFICATE:
        errors.append(("consent_certificate", certificate, f"longer than {MAX_CERTIFICATE} characters"))
    if lead.consent == "none":
        for name, value in (
            ("consent_disclosure", disclosure),
            ("consent_ip", ip),
            ("consent_certificate", certificate),
        ):
            if value:
                lead.extra[name] = value
        return
    lead.consent_disclosure = disclosure or ""
    lead.consent_ip = ip or None
    lead.consent_certificate = certificate or None
