"""The legal constants of US outbound telemarketing, defined once: every package reads them from here.

Sources are the rules as docs/compliance.md cites them; a rule that changes is changed here only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# Abandoned calls: at most 3% of calls answered by a live person, per campaign, measured over 30 days
# (16 CFR 310.4(b)(4)(i); 47 CFR 64.1200(a)(7)(i)).
ABANDON_LIMIT = 0.03
ABANDON_WINDOW = timedelta(days=30)
# A call is abandoned when no live agent is connected within 2 s of the greeting's end
# (16 CFR 310.4(b)(4)(iii); 47 CFR 64.1200(a)(7)(i)).
AGENT_CONNECT_DEADLINE_S = 2.0
# An unanswered call rings at least 15 s (or 4 rings) before it is released (16 CFR 310.4(b)(4)(i)).
MIN_RING_S = 15.0
# A call may only rely on a national registry copy obtained at most 31 days before it
# (16 CFR 310.4(b)(3)(iv); 47 CFR 64.1200(c)(2)(i)(D)).
REGISTRY_MAX_AGE = timedelta(days=31)
# How old a copy of each other list kind may be when a call relies on it, like the national registry's
# rule (fail closed past it); all three are Clearline's rules, not statutes. State lists: the states
# publish monthly or quarterly editions and expect the current one to be used; a copy downloaded at most
# 31 days ago is always the current edition. Litigator lists are vendor data that change daily.
# Reassigned-number data: the 47 CFR 64.1200(m) safe harbor needs the most recent data.
LIST_MAX_AGE: dict[str, timedelta] = {
    "national": REGISTRY_MAX_AGE,
    "state": timedelta(days=31),
    "litigator": timedelta(days=31),
    "reassigned": timedelta(days=31),
}
# Telemarketing records are kept 5 years (16 CFR 310.5(a), 2024 amendments; 47 CFR 64.1200(d)(6) for
# do-not-call requests).
RECORD_RETENTION_YEARS = 5


def retain_until(recorded_at: datetime) -> datetime:
    """Until when a telemarketing record made at `recorded_at` must be kept (purgeable after): the one
    retention rule, for call records and do-not-call requests alike. Calendar years (a record of
    29 February is kept until 1 March)."""
    year = recorded_at.year + RECORD_RETENTION_YEARS
    try:
        return recorded_at.replace(year=year)
    except ValueError:  # 29 February, and the year it expires in is not a leap year
        return recorded_at.replace(year=year, month=3, day=1)
# A person's request over their data (access, deletion, correction) is answered within 30 days, as
# the hosted dialers promise and the GDPR (art. 12(3): one month) and the CCPA (45 days) allow.
PRIVACY_REQUEST_DAYS = 30
