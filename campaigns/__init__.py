"""Campaigns and lead lists: upload millions of leads, scrub them on import, lease them to the dialer, and
record every call attempt.

What other packages use (the dialer and the abandon report):

- `campaigns.models`: `Campaign` (status, dial method, pacing policy/settings, abandon target, max lines
  per agent, trunk profile, CPS/line limits, caller-id mode and number, calling-window override, geo rules,
  recycle rules, safe-harbor WAV, opt-out key), `CampaignAgent`, `Disposition`, `LeadList`, `Lead`, and
  `CallAttempt` (table `call_attempts`, the evidence of every call; `Outcome` holds the outcome strings;
  the abandon rate's human-answered base is `human` + `abandoned`).
- `campaigns.hopper.lease_leads(db, campaign_id, n, now, *, holder, lease_s) -> list[LeasedLead]`:
  callable leads of an *active* campaign's *active* lists (due callbacks first, then expired leases, then
  by priority and upload order), locked with FOR UPDATE SKIP LOCKED and leased to `holder` until
  `now + lease_s`. `LeasedLead.recent_calls` carries the number's calls of the last 24 h for the engine's
  caps. `renew_leases(...)` extends leases; `release_leads(...)` gives back leads that were not dialed.
- `campaigns.attempts`: `start_attempt(db, lead_id, *, holder, placed_at, trunk, caller_id, attestation,
  attestation_reason, origid, identity_header_present, sip_call_id) -> attempt id`;
  `record_progress(db, attempt_id, *, ringing_at, answered_at, agent_connected_at, agent_id, sip_call_id,
  sip_status)`; `finish_attempt(db, attempt_id, *, outcome, ended_at, sip_status) -> LeadStatus` (applies
  the recycle rules of `campaigns.recycle`; `failed` does not burn the lead); `record_blocked(db, lead_id,
  *, holder, at, verdict_reasons, retry_at=None)` for a dial-time "no"; `set_disposition(...)`.
- `campaigns.scrubbing` is the one module that calls the compliance engine (`dnc`).
- `campaigns.importer.import_lead_file(...)`: the streamed CSV/XLSX import (normalize, de-duplicate, scrub
  in batches and COPY straight into `leads` while the next batch is parsed; list row and leads in one
  transaction, so a failed or cancelled import leaves nothing). `campaigns.jobs` runs it (and the list
  purge) as jobs; `campaigns.tasks` holds their dramatiq actors (queue `campaigns`).
- `campaigns.service`: create campaigns (with default dispositions), validate settings, start/pause,
  assign agents. See docs/campaigns.md.
"""
