"""The organization's caller-ID (TN) inventory: which numbers it may present, and whether the platform
verified them (only verified numbers earn attestation A). Also local presence: a verified number in the
lead's area code.

Numbers are kept as E.164 digits without '+' (the PASSporT form); functions accept either form.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from attestation.models import NumberStatus, TelephoneNumberBlock
from attestation.policy import CallerStanding
from core.errors import ConflictError, NotFoundError, ValidationError

MAX_RANGE_SIZE = 100_000


def tn_digits(number: str, field: str = "number") -> str:
    """E.164 digits of a number given as '+CC…' or 'CC…'; refuses anything that is not a possible number."""
    raw = number.strip()
    digits = raw[1:] if raw.startswith("+") else raw
    if not digits.isdigit() or not digits.isascii() or not 8 <= len(digits) <= 15:
        raise ValidationError(
            f"{number!r} is not an E.164 number (8 to 15 digits, optional leading +)", field=field
        )
    try:
        possible = phonenumbers.is_possible_number(phonenumbers.parse("+" + digits))
    except phonenumbers.NumberParseException:
        possible = False
    if not possible:
        raise ValidationError(f"{number!r} is not a possible phone number for its country code", field=field)
    return digits


def add_numbers(
    session: Session,
    *,
    org_id: uuid.UUID,
    first: str,
    last: str | None = None,
    label: str = "",
) -> TelephoneNumberBlock:
    """Add one number, or the range first..last, as pending verification. A range may not overlap a
    block the organization already has (the status of a number must be unambiguous)."""
    first_tn = tn_digits(first, "first")
    last_tn = first_tn if last is None else tn_digits(last, "last")
    if len(last_tn) != len(first_tn) or last_tn < first_tn:
        raise ValidationError(
            f"range {first}..{last} must run upward between numbers of equal length", field="last"
        )
    if int(last_tn) - int(first_tn) + 1 > MAX_RANGE_SIZE:
        raise ValidationError(f"a range may hold at most {MAX_RANGE_SIZE} numbers", field="last")
    overlapping = session.scalars(
        select(TelephoneNumberBlock).where(
            TelephoneNumberBlock.org_id == org_id,
            func.length(TelephoneNumberBlock.first_tn) == len(first_tn),
            TelephoneNumberBlock.first_tn <= last_tn,
            TelephoneNumberBlock.last_tn >= first_tn,
        )
    ).first()
    if overlapping is not None:
        raise ConflictError(
            f"+{first_tn}..+{last_tn} overlaps the inventory entry +{overlapping.first_tn}..+{overlapping.last_tn}"
        )
    _refuse_if_held_elsewhere(session, org_id, first_tn, last_tn)
    block = TelephoneNumberBlock(org_id=org_id, first_tn=first_tn, last_tn=last_tn, label=label)
    session.add(block)
    session.flush()
    return block


def _refuse_if_held_elsewhere(session: Session, org_id: uuid.UUID, first_tn: str, last_tn: str) -> None:
    """A number verified as another organization's is theirs: it cannot be added or verified here.

    Only verified blocks hold numbers: an unverified claim proves nothing, and letting it block others
    would let any organization squat on a competitor's numbers before they sign up. The check must see
    every organization's blocks; the answer names neither the organization nor its range."""
    held = session.scalar(
        select(TelephoneNumberBlock.id)
        .where(
            TelephoneNumberBlock.org_id != org_id,
            TelephoneNumberBlock.status == NumberStatus.VERIFIED.value,
            func.length(TelephoneNumberBlock.first_tn) == len(first_tn),
            TelephoneNumberBlock.first_tn <= last_tn,
            TelephoneNumberBlock.last_tn >= first_tn,
        )
        .limit(1),
        execution_options={"skip_org_scope": True},
    )
    if held is not None:
        raise ConflictError(
            f"+{first_tn}..+{last_tn} includes numbers verified for another organization; "
            "ask the platform admin if they are yours"
        )


def get_block(session: Session, block_id: uuid.UUID) -> TelephoneNumberBlock:
    block = session.scalars(
        select(TelephoneNumberBlock).where(TelephoneNumberBlock.id == block_id)
    ).one_or_none()
    if block is None:
        raise NotFoundError(f"number {block_id} not found")
    return block


def set_status(session: Session, block_id: uuid.UUID, status: str, *, at: datetime) -> TelephoneNumberBlock:
    try:
        checked = NumberStatus(status)
    except ValueError:
        raise ValidationError(
            f"status {status!r} must be one of {[s.value for s in NumberStatus]}", field="status"
        ) from None
    block = get_block(session, block_id)
    if checked is NumberStatus.VERIFIED:
        _refuse_if_held_elsewhere(session, block.org_id, block.first_tn, block.last_tn)
    block.status = checked.value
    block.verified_at = at if checked is NumberStatus.VERIFIED else None
    return block


def _block_of(session: Session, org_id: uuid.UUID, digits: str) -> TelephoneNumberBlock | None:
    return session.scalars(
        select(TelephoneNumberBlock).where(
            TelephoneNumberBlock.org_id == org_id,
            func.length(TelephoneNumberBlock.first_tn) == len(digits),
            TelephoneNumberBlock.first_tn <= digits,
            TelephoneNumberBlock.last_tn >= digits,
        )
    ).first()


def number_status(session: Session, org_id: uuid.UUID, number: str) -> str | None:
    """`verified`, `pending` or `rejected` for a number in the organization's inventory; None otherwise
    (including for something that is not a phone number at all)."""
    digits = number[1:] if number.startswith("+") else number
    if not (digits.isascii() and digits.isdigit()):
        return None
    block = _block_of(session, org_id, digits)
    return None if block is None else block.status


def caller_standing(session: Session, org_id: uuid.UUID, number: str) -> CallerStanding:
    """The inventory facts the attestation level is decided from (`policy.attestation_for`): the number's
    status, and how many of the organization's blocks the platform has verified."""
    verified = session.scalar(
        select(func.count())
        .select_from(TelephoneNumberBlock)
        .where(
            TelephoneNumberBlock.org_id == org_id,
            TelephoneNumberBlock.status == NumberStatus.VERIFIED.value,
        )
    )
    return CallerStanding(
        number_status=number_status(session, org_id, number), verified_numbers=verified or 0
    )


def _spread(lead: str, modulus: int) -> int:
    """A stable choice in [0, modulus) per lead: the same lead keeps seeing the same caller ID, and
    different leads spread over the available numbers."""
    return int.from_bytes(hashlib.blake2b(lead.encode(), digest_size=8).digest(), "big") % modulus


def pick_caller_id(session: Session, org_id: uuid.UUID, lead_e164: str) -> str | None:
    """Local presence: a verified number of the organization in the lead's NANP area code, as '+1…';
    None when the lead is not a NANP number or the organization has no verified number there."""
    digits = lead_e164[1:] if lead_e164.startswith("+") else lead_e164
    if len(digits) != 11 or not digits.startswith("1") or not (digits.isascii() and digits.isdigit()):
        return None
    low, high = digits[:4] + "0000000", digits[:4] + "9999999"
    blocks = session.scalars(
        select(TelephoneNumberBlock)
        .where(
            TelephoneNumberBlock.org_id == org_id,
            TelephoneNumberBlock.status == NumberStatus.VERIFIED.value,
            func.length(TelephoneNumberBlock.first_tn) == 11,
            TelephoneNumberBlock.first_tn <= high,
            TelephoneNumberBlock.last_tn >= low,
        )
        .order_by(TelephoneNumberBlock.first_tn)
    ).all()
    if not blocks:
        return None
    spans = [(max(int(b.first_tn), int(low)), min(int(b.last_tn), int(high))) for b in blocks]
    choice = _spread(digits, sum(end - start + 1 for start, end in spans))
    for start, end in spans:
        if choice <= end - start:
            return f"+{start + choice}"
        choice -= end - start + 1
    raise AssertionError("choice fell outside the spans it was drawn from")


def list_blocks(session: Session, *, limit: int = 1000, offset: int = 0) -> list[TelephoneNumberBlock]:
    """The inventory the session's scope sees, in number order (shorter numbers, i.e. countries, first)."""
    return list(
        session.scalars(
            select(TelephoneNumberBlock)
            .order_by(func.length(TelephoneNumberBlock.first_tn), TelephoneNumberBlock.first_tn)
            .limit(max(1, limit))
            .offset(max(0, offset))
        )
    )


def remove_block(session: Session, block_id: uuid.UUID) -> None:
    """Take a number or range out of the inventory: it is no longer presented or attested A."""
    session.delete(get_block(session, block_id))
    session.flush()
