"""The floor's evidence in the database: progress stamps, final outcomes and alarms, written by the
`Recorder` off the event thread, in the order the floor saw them (`dialer.engine.ports.AttemptLog`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update

from campaigns import attempts as attempt_records
from core.db import ALL_ORGS, Database, Scope
from dialer.engine.ports import CallAlarm, CallEnd
from dialer.engine.recorder import Recorder
from dialer.models import AgentSession, TrunkAlarm
from dialer.sip import protocol as p
from dnc.internal import add_internal_dnc

SAFE_HARBOR_FAILED = "safe_harbor_failed"  # a worker refused to play the message (bad WAV, call not up)
# SIP outcomes that raise a trunk alarm (GET /api/dialer/alarms), by alarm kind.
_ALARM_KINDS = {
    p.SipOutcome.IDENTITY_REJECTED: "identity_rejected",
    p.SipOutcome.TRUNK_FAILURE: "trunk_failure",
}


class DatabaseAttemptLog:
    def __init__(self, db: Database, recorder: Recorder) -> None:
        self.db = db
        self.recorder = recorder

    def progress(self, attempt_id: str, **stamps: Any) -> None:
        self.recorder.submit(attempt_records.record_progress, self.db, uuid.UUID(attempt_id), **stamps)

    def ended(self, end: CallEnd) -> None:
        self.recorder.submit(self._write_end, end)

    def opted_out(self, org_id: uuid.UUID, e164: str, reason: str) -> None:
        with self.db.session(Scope(org_id)) as s:
            add_internal_dnc(
                s, e164=e164, campaign_id=None, source="opt_out_key", reason=reason, added_by=None
            )

    def session_call(self, session_id: str) -> None:
        self.recorder.submit(self._count_session_call, session_id)

    def safe_harbor_failed(self, alarm: CallAlarm) -> None:
        self.recorder.submit(self._raise, alarm, SAFE_HARBOR_FAILED, 0)

    def _write_end(self, end: CallEnd) -> None:
        attempt_records.finish_attempt(
            self.db,
            uuid.UUID(end.attempt_id),
            outcome=end.outcome.value,
            ended_at=end.ended_at,
            sip_status=end.sip_status,
            ended_by=end.ended_by,
        )
        kind = _ALARM_KINDS.get(end.sip_outcome)
        if kind is not None:
            alarm = CallAlarm(
                attempt_id=end.attempt_id,
                org_id=end.org_id,
                campaign_id=end.campaign_id,
                trunk=end.trunk,
                at=end.ended_at,
                reason=end.reason,
            )
            self._raise(alarm, kind, end.sip_status or 0)

    def _raise(self, alarm: CallAlarm, kind: str, sip_status: int) -> None:
        with self.db.session(ALL_ORGS) as s:
            s.add(
                TrunkAlarm(
                    org_id=alarm.org_id,
                    trunk=alarm.trunk,
                    campaign_id=alarm.campaign_id,
                    attempt_id=uuid.UUID(alarm.attempt_id),
                    kind=kind,
                    sip_status=sip_status,
                    reason=alarm.reason[:2000],
                )
            )

    def _count_session_call(self, session_id: str) -> None:
        with self.db.session(ALL_ORGS) as s:
            s.execute(
                update(AgentSession)
                .where(AgentSession.id == uuid.UUID(session_id))
                .values(calls_handled=AgentSession.calls_handled + 1)
            )
