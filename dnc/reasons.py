"""Reason codes: every rule that can block a number has one, and they appear verbatim in verdicts, scrub
reports and call-attempt records. The order here is the order they are listed in a verdict."""

from __future__ import annotations

INVALID_NUMBER = "invalid_number"
NATIONAL_REGISTRY_MISSING = "national_registry_missing"
NATIONAL_REGISTRY_STALE = "national_registry_stale"
LIST_INDEX_STALE = "list_index_stale"
STATE_LIST_STALE = "state_list_stale"
LITIGATOR_LIST_STALE = "litigator_list_stale"
REASSIGNED_DATA_STALE = "reassigned_data_stale"
NATIONAL_DNC = "national_dnc"
STATE_DNC = "state_dnc"
INTERNAL_DNC = "internal_dnc"
CAMPAIGN_DNC = "campaign_dnc"
AREA_CODE_BLOCKED = "area_code_blocked"
LITIGATOR = "litigator"
WIRELESS_NO_CONSENT = "wireless_no_consent"
REASSIGNED_SINCE_CONSENT = "reassigned_since_consent"
CONSENT_REVOKED = "consent_revoked"
COUNTRY_NOT_ALLOWED = "country_not_allowed"
STATE_BLOCKED = "state_blocked"
UNKNOWN_TIME_ZONE = "unknown_time_zone"
OUTSIDE_FEDERAL_WINDOW = "outside_federal_window"
OUTSIDE_STATE_WINDOW = "outside_state_window"
OUTSIDE_CAMPAIGN_WINDOW = "outside_campaign_window"
STATE_NO_SUNDAY = "state_no_sunday"
STATE_NO_HOLIDAY = "state_no_holiday"
STATE_CALL_CAP = "state_call_cap"
PERIOD_CALL_CAP = "period_call_cap"

# Reasons that stop being true with time or with an import (calling hours, day rules, 24-hour caps, the
# registry copy): a lead blocked only by these waits and is checked again; any other reason blocks for good.
TIME_BOUND: frozenset[str] = frozenset(
    {
        OUTSIDE_FEDERAL_WINDOW,
        OUTSIDE_STATE_WINDOW,
        OUTSIDE_CAMPAIGN_WINDOW,
        STATE_NO_SUNDAY,
        STATE_NO_HOLIDAY,
        STATE_CALL_CAP,
        PERIOD_CALL_CAP,
        NATIONAL_REGISTRY_MISSING,
        NATIONAL_REGISTRY_STALE,
        LIST_INDEX_STALE,
        STATE_LIST_STALE,
        LITIGATOR_LIST_STALE,
        REASSIGNED_DATA_STALE,
    }
)

DESCRIPTIONS: dict[str, str] = {
    INVALID_NUMBER: "not a valid phone number",
    NATIONAL_REGISTRY_MISSING: "no national DNC registry copy has been imported (fail closed)",
    NATIONAL_REGISTRY_STALE: "the national registry copy is older than 31 days (fail closed)",
    LIST_INDEX_STALE: "a list's index file does not match its recorded version (fail closed)",
    STATE_LIST_STALE: "the lead's state DNC list copy is older than 31 days (fail closed)",
    LITIGATOR_LIST_STALE: "a litigator list copy is older than 31 days (fail closed)",
    REASSIGNED_DATA_STALE: "the reassigned-numbers data is older than 31 days: consent cannot be relied on",
    NATIONAL_DNC: "on the national Do-Not-Call registry",
    STATE_DNC: "on a state Do-Not-Call list",
    INTERNAL_DNC: "on the organization's internal DNC list",
    CAMPAIGN_DNC: "on the campaign's DNC list",
    AREA_CODE_BLOCKED: "area code blocked by the organization or campaign",
    LITIGATOR: "on a litigator list",
    WIRELESS_NO_CONSENT: "wireless number without prior express written consent",
    REASSIGNED_SINCE_CONSENT: "number disconnected (reassigned) after consent was given",
    CONSENT_REVOKED: "the consumer revoked consent to calls from this seller (or from every seller)",
    COUNTRY_NOT_ALLOWED: "country not allowed for the organization or campaign",
    STATE_BLOCKED: "state blocked for the organization or campaign",
    UNKNOWN_TIME_ZONE: "no time zone can be established for the number",
    OUTSIDE_FEDERAL_WINDOW: "outside 08:00-21:00 local time in some candidate zone",
    OUTSIDE_STATE_WINDOW: "outside a state's calling hours in some candidate zone",
    OUTSIDE_CAMPAIGN_WINDOW: "outside the campaign's own calling window",
    STATE_NO_SUNDAY: "state forbids calls on Sunday",
    STATE_NO_HOLIDAY: "state forbids calls on holidays",
    STATE_CALL_CAP: "state cap on calls per 24 hours reached",
    PERIOD_CALL_CAP: "the organization's or campaign's cap on calls per period reached",
}

ALL: tuple[str, ...] = tuple(DESCRIPTIONS)
BIT: dict[str, int] = {code: i for i, code in enumerate(ALL)}
