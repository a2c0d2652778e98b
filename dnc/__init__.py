"""The compliance engine: DNC lists, calling windows, geo/IP rules and scrub reports.

Usage (the one decision function, the same at lead import, just before each call, and in reports):

    from dnc.engine import ComplianceEngine
    from dnc.verdicts import CampaignRules, LeadContext

    engine = ComplianceEngine.load(db, org_id, CampaignRules(campaign_id=campaign.id))  # once per process
    verdicts = engine.check([LeadContext(e164="+12025550143", lead_id="42", state="DC")], at=now)
    verdicts[0].callable, verdicts[0].reasons  # False, ("national_dnc",); reason codes: dnc.reasons

- Every `check` re-reads which list versions are current and whether the organization's internal DNC
  list changed, so an opt-out recorded by any process is refused at the very next check.
- Fail closed: no national registry copy (`national_registry_missing`), a copy older than 31 days
  (`national_registry_stale`) or an index file that does not match its recorded version
  (`list_index_stale`) blocks every US number.
- Opt-outs / DNC dispositions: `dnc.internal.add_internal_dnc(session, e164=..., campaign_id=None|id,
  source="agent"|"opt_out_key"|"compliance"|"api"|"import", reason=..., added_by=user_id)` inside a
  session scoped to the organization; effective once that transaction commits.
- Normalizing raw input: `dnc.normalize.normalize_number(raw, "US") -> NormalizedNumber(.e164, .reason)`,
  bulk: `normalize_many(raws)`, or `normalize_column(raws) -> (e164s, reasons)` without an object each.
- Bulk decisions without an object per lead: `engine.decide(LeadColumns.of(leads) or LeadColumns.plain(
  e164s, lead_ids), at) -> BatchDecision` (`parts[part_of[i]]` is lead i's verdict; `.verdicts()`).
- Lists: `dnc.lists.import_list_file(db, kind=..., path=..., owner_org_id=..., change_list=...)`;
  in tests `dnc.lists.import_numbers(db, kind="national", numbers=[...], owner_org_id=org_id)` gives an
  organization a fresh registry copy (an empty list is fine) so its numbers can be dialed.
"""
