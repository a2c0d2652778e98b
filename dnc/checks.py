"""Checking a few numbers now (or at a given moment) through the same engine as every other check: the
"may I call this number?" question of the API and the console."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from core.db import Database
from core.errors import ValidationError
from dnc.engine import ComplianceEngine
from dnc.normalize import normalize_number
from dnc.verdicts import CampaignRules, LeadContext, ScrubVerdict

MAX_CHECK_BATCH = 1000


def check_numbers(
    db: Database,
    org_id: uuid.UUID,
    numbers: Sequence[str],
    *,
    at: datetime,
    rules: CampaignRules | None = None,
) -> list[ScrubVerdict]:
    """One verdict per number, in order, under the campaign's own rules when given (window, geo: resolved
    by the caller with `campaigns.scrubbing.rules_for_campaign`). Raw input is normalized first; what
    cannot be is passed through and comes back as invalid_number."""
    if len(numbers) > MAX_CHECK_BATCH:
        raise ValidationError(
            f"at most {MAX_CHECK_BATCH} numbers per check; use a scrub report", field="numbers"
        )
    engine = ComplianceEngine.load(db, org_id, rules)
    e164s = [normalize_number(n).e164 or n for n in numbers]
    return engine.check([LeadContext(e164=n) for n in e164s], at if at.tzinfo else at.replace(tzinfo=UTC))
