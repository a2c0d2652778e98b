"""Route of the compliance check of a few numbers."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import post
from sqlalchemy.orm import Session

from api.auth import roles
from api.dnc.access import ANY_ROLE, own_org
from api.dnc.schemas import CheckIn, VerdictOut
from api.principal import Principal
from campaigns.scrubbing import rules_for_campaign
from core.runtime import Runtime
from dnc.checks import check_numbers


@post("/api/dnc/check", opt=roles(*ANY_ROLE), sync_to_thread=True, status_code=200)
def post_check(data: CheckIn, principal: Principal, runtime: Runtime, session: Session) -> list[VerdictOut]:
    """Verdicts for a few numbers; with `campaign_id`, under that campaign's own window and geo rules."""
    verdicts = check_numbers(
        runtime.db,
        own_org(principal),
        data.numbers,
        at=data.at or datetime.now(UTC),
        rules=rules_for_campaign(session, data.campaign_id),
    )
    return [VerdictOut.of(v) for v in verdicts]


ROUTES = [post_check]
