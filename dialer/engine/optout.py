"""Putting a number on the organization's internal DNC list (opt-out key, DNC disposition), effective at once.

A thin adapter over `dnc.internal.add_internal_dnc` so the engine and the API say it one way.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session


def add_to_internal_dnc(
    session: Session,
    *,
    e164: str,
    campaign_id: uuid.UUID | None,
    source: str,
    reason: str,
    added_by: uuid.UUID | None,
) -> None:
    from dnc.internal import add_internal_dnc

    add_internal_dnc(
        session, e164=e164, campaign_id=campaign_id, source=source, reason=reason, added_by=added_by
    )
