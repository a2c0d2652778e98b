"""The Reassigned Numbers Database's semantics (47 CFR 64.1200(m)): a query per number with its consent
date answers yes / no / no data; only a "no" gives the safe harbor; the answer and the data version are in
the evidence. The local implementation reads imported disconnect files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from core.runtime import Runtime
from dnc import reasons
from dnc.engine import ComplianceEngine
from dnc.lead_facts import LeadColumns
from dnc.lists import import_list_file, import_numbers
from dnc.reassigned import NO, NO_DATA, NOT_QUERIED, RND_BATCH, YES, LocalReassignedNumbers
from dnc.verdicts import Consent, LeadContext
from tests.conftest import Tenant

EPOCH = date(1970, 1, 1)
AT = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # 10:00 in Washington


def day(d: date) -> int:
    return (d - EPOCH).days


class Disconnects:
    """An in-memory disconnect file (the local database's unit-test stand-in for an imported one)."""

    def __init__(self, rows: dict[int, date]) -> None:
        self.rows = {n: day(d) for n, d in rows.items()}
        self.lookups = 0

    def lookup(self, national: np.ndarray) -> np.ndarray:
        self.lookups += 1
        assert len(national) <= RND_BATCH
        return np.array([self.rows.get(int(n), -1) for n in national], dtype=np.int64)

    def first_day(self) -> int:
        return min(self.rows.values())


def test_the_answer_is_yes_after_a_disconnect_since_consent_no_data_before_the_data_reaches_and_no_otherwise() -> (
    None
):
    data = Disconnects({2025550103: date(2026, 6, 1), 2025550104: date(2025, 1, 1)})
    rnd = LocalReassignedNumbers([("list@3", AT - timedelta(days=1), data)])
    national = np.array([2025550103, 2025550103, 2025550104, 2025550105, 2025550105, 2025550103, 2025550105])
    consent = np.array(
        [day(date(2026, 1, 1)), day(date(2026, 7, 1)), day(date(2025, 6, 1)), day(date(2025, 6, 1)),
         day(date(2024, 6, 1)), -2, -1]
    )  # fmt: skip
    answers = rnd.query(national, consent)
    assert answers.answers.tolist() == [YES, NO, NO, NO, NO_DATA, YES, NOT_QUERIED]
    assert answers.version == "list@3" and answers.data_as_of == AT - timedelta(days=1)
    unknown_date_unlisted = rnd.query(np.array([2025550105]), np.array([-2]))
    assert unknown_date_unlisted.answers.tolist() == [NO_DATA]  # cannot be queried without a date


def test_without_any_disconnect_data_every_consent_is_no_data_and_queries_go_in_batches_of_1000() -> None:
    none = LocalReassignedNumbers([]).query(
        np.array([2025550103, 2025550104]), np.array([day(AT.date()), -1])
    )
    assert none.answers.tolist() == [NO_DATA, NOT_QUERIED] and none.source == "none imported"
    data = Disconnects({2025550103: date(2026, 6, 1)})
    count = 2500
    LocalReassignedNumbers([("x@1", AT, data)]).query(
        np.full(count, 2025550103), np.full(count, day(date(2026, 1, 1)))
    )
    assert data.lookups == 3  # 1000 + 1000 + 500, the FCC service's limit per call


def test_the_dial_time_check_queries_the_database_with_the_consent_date_and_records_the_answer(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    import_numbers(runtime.db, kind="national", numbers=[], owner_org_id=tenant.id, obtained_at=AT)
    disconnects = tmp_path / "rnd.csv"
    disconnects.write_text("2025550103,2026-06-01\n2025550104,2025-03-01\n")
    imported = import_list_file(
        runtime.db,
        kind="reassigned",
        path=disconnects,
        owner_org_id=tenant.id,
        obtained_at=AT - timedelta(days=3),
    )
    leads = [
        LeadContext("+12025550103", consent=Consent.EXPRESS_WRITTEN, consent_at=date(2026, 1, 1)),
        LeadContext("+12025550103", consent=Consent.EXPRESS_WRITTEN, consent_at=date(2026, 7, 1)),
        LeadContext("+12025550105", consent=Consent.EXPRESS_WRITTEN, consent_at=date(2024, 1, 1)),
        LeadContext("+12025550105"),
    ]
    decision = ComplianceEngine.load(runtime.db, tenant.id).decide(LeadColumns.of(leads), AT)
    reassigned, current, too_old, no_consent = (decision.evidence(i) for i in range(4))
    assert reassigned.reasons == [reasons.REASSIGNED_SINCE_CONSENT]
    assert reassigned.reassigned is not None and reassigned.reassigned.answer == "yes"
    assert reassigned.reassigned.disconnected_on == date(2026, 6, 1)
    assert reassigned.reassigned.data_version == f"{imported.list_id}@{imported.seq}"
    assert reassigned.reassigned.data_age_days == 3.0 and not reassigned.reassigned.safe_harbor
    assert current.callable and current.reassigned is not None
    assert (current.reassigned.answer, current.reassigned.safe_harbor) == ("no", True)
    assert current.reassigned.consent_date == date(2026, 7, 1)
    # Consent older than the data reaches back (2025-03-01): no data, no safe harbor, the call is not refused.
    assert too_old.callable and too_old.reassigned is not None
    assert (too_old.reassigned.answer, too_old.reassigned.safe_harbor) == ("no_data", False)
    assert no_consent.reassigned is not None and no_consent.reassigned.answer == "not_queried"
