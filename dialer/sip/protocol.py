"""Commands to a line worker and events from it, in domain terms (no pjsua2 types), encoded as JSON.

A line worker is one process holding one SIP endpoint. The engine tells it what to do with *commands*
(`DialLead`, `Hangup`, `CallAgent`, `ReleaseAgent`, `Bridge`, `ExpectBridge`, `PlaySafeHarbor`, `Shutdown`) and learns what
happened from *events* (`WorkerReady`, `Ringing`, `Answered`, `Bridged`, `AgentLegUp`, ...). Every message is
a tagged msgspec Struct: `encode()` gives compact JSON with a `"type"` field, `decode_command()` /
`decode_event()` parse it back. Times are Unix epoch seconds (float) taken on the worker when the SIP
message arrived, so they can go straight into the attempt's evidence columns.

Call identity: the engine's `attempt_id` (a string, usually the CallAttempt uuid) names a lead call from
`DialLead` to its `Ended`; `agent_id` names an agent's nailed leg from `CallAgent` to `AgentLegDown`.
"""

from __future__ import annotations

import enum

import msgspec


class SipOutcome(enum.StrEnum):
    """What the SIP layer knows about how a lead call ended; the engine turns it into a campaign outcome.

    ANSWERED → the engine decides human/abandoned/machine from `Answered.answered_by` and the bridge;
    BUSY → busy; NO_ANSWER → no_answer; INVALID → invalid; TRUNK_FAILURE → failed (back off, do not burn
    the lead); IDENTITY_REJECTED → failed plus an alarm (the carrier refused our STIR/SHAKEN Identity);
    CANCELLED → the engine's own `Hangup` before answer; WORKER_LOST → the worker died mid-call
    (synthesized by the client, never sent by a worker).
    """

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    INVALID = "invalid"
    TRUNK_FAILURE = "trunk_failure"
    IDENTITY_REJECTED = "identity_rejected"
    CANCELLED = "cancelled"
    WORKER_LOST = "worker_lost"


class AnsweredBy(enum.StrEnum):
    HUMAN = "human"
    MACHINE = "machine"


# ------------------------------------------------------------------------------------------- commands


class RecordCall(msgspec.Struct, frozen=True):
    """Record this lead call's bridged conversation (both sides mixed) to `wav_path` on the worker's host.

    With `announcement_wav` the announcement is played to both parties the moment the agent is connected
    (the bridge itself is not delayed: the 2-second rule counts to the agent's connection) and the
    recording starts when it has played. The worker reports the closed file with `RecordingSaved`."""

    wav_path: str
    announcement_wav: str = ""


class DialLead(msgspec.Struct, tag=True, frozen=True):
    """Place a call to a lead. `to` is an E.164 number (the profile's proxy makes the URI) or a full SIP URI.

    `from_number` is the caller ID presented in From; `p_asserted_identity` is the PAI value (a number or
    a SIP URI; empty = same as `from_number`); `identity` is the complete STIR/SHAKEN `Identity` header
    value (empty when the profile has STIR/SHAKEN off). `ring_timeout_s` is raised to the profile's floor
    (at least 15 s) if lower. `extra_headers` are added verbatim (e.g. simulator hints in tests).
    """

    attempt_id: str
    to: str
    from_number: str
    trunk: str
    ring_timeout_s: float = 25.0
    p_asserted_identity: str = ""
    identity: str = ""
    extra_headers: dict[str, str] = msgspec.field(default_factory=dict)
    # For the worker's log lines only (campaign_id / lead_id fields), never part of the SIP messages.
    campaign_id: str = ""
    lead_id: int | None = None
    record: RecordCall | None = None  # record once bridged (campaign recording mode, dnc.recording_consent)
    amd_settings: dict[str, int | bool] | None = None
    """Answering-machine detection on the callee's audio with these `AmdSettings` thresholds ({} for the
    defaults): the worker reports `AmdDecided`. None: no detection on the audio (every answer is a person,
    unless the trunk profile reads a carrier's AMD header)."""
    voicemail_wav: str = ""
    """With detection on: the message to leave when a machine answers (after its beep or the end of its
    greeting; then `VoicemailLeft` and BYE). Empty: the engine hangs a machine up."""


class Hangup(msgspec.Struct, tag=True, frozen=True):
    """End a lead call (CANCEL before answer, BYE after). Ends with `Ended`."""

    attempt_id: str


class CallAgent(msgspec.Struct, tag=True, frozen=True):
    """Call an agent's phone once and keep the leg up (nailed). Answers with `AgentLegUp` or `AgentLegDown`."""

    agent_id: str
    sip_uri: str


class ReleaseAgent(msgspec.Struct, tag=True, frozen=True):
    """Hang up an agent's nailed leg (logout). Answers with `AgentLegDown`."""

    agent_id: str


class Bridge(msgspec.Struct, tag=True, frozen=True):
    """Connect an answered lead call to an agent. Sent to the worker that holds the lead call.

    `agent_worker_uri` is empty when the agent's leg lives in the same worker; otherwise it is the SIP
    address of the agent's worker (`WorkerReady.sip_uri`), and the lead's worker places an internal
    loopback SIP leg to it, bridged in both workers' conference bridges. `LineWorkerPool.bridge()` fills
    it in. Answers with `Bridged` or `BridgeFailed`.
    """

    attempt_id: str
    agent_id: str
    agent_worker_uri: str = ""
    token: str = ""
    """The one-time bridge token the internal leg's INVITE carries (cross-worker bridges only)."""


class ExpectBridge(msgspec.Struct, tag=True, frozen=True):
    """Sent to the agent's worker before a cross-worker `Bridge`: answer one internal leg for this attempt
    and agent, carrying `token`, from the lead worker's SIP address `source` (`host:port`). Any other
    inbound INVITE is refused (`dialer.sip.admission`)."""

    attempt_id: str
    agent_id: str
    token: str
    source: str


class PlaySafeHarbor(msgspec.Struct, tag=True, frozen=True):
    """Play the safe-harbor WAV into an answered call, listen for the opt-out key (RFC 2833), then hang up.

    After the file ends the worker keeps listening `listen_after_s` seconds for the key, then sends BYE.
    A key press is reported as `OptOut` (the opt-out key) or `DtmfReceived` (any other key).
    """

    attempt_id: str
    wav_path: str
    opt_out_key: str = "9"
    listen_after_s: float = 2.0


class Shutdown(msgspec.Struct, tag=True, frozen=True):
    """Hang up everything and exit cleanly."""


Command = DialLead | Hangup | CallAgent | ReleaseAgent | Bridge | ExpectBridge | PlaySafeHarbor | Shutdown


# --------------------------------------------------------------------------------------------- events


class WorkerReady(msgspec.Struct, tag=True, frozen=True):
    """The worker's endpoint is up. `sip_uri` is where other workers reach it for cross-worker bridges."""

    worker_id: str
    at: float
    sip_uri: str
    max_calls: int
    pid: int
    host: str


class WorkerStats(msgspec.Struct, tag=True, frozen=True):
    """Sent about once a second: a heartbeat and the worker's load."""

    worker_id: str
    at: float
    calls: int
    lead_calls: int
    agent_legs: int
    internal_legs: int
    queued_dials: int
    free_slots: int
    calls_placed: int
    admission_waits: int


class Dialing(msgspec.Struct, tag=True, frozen=True):
    """The INVITE went out (after any wait for admission). `at` is the evidence `placed_at`."""

    worker_id: str
    at: float
    attempt_id: str
    sip_call_id: str


class Ringing(msgspec.Struct, tag=True, frozen=True):
    """First 180/183 from the trunk."""

    worker_id: str
    at: float
    attempt_id: str
    sip_status: int


class Answered(msgspec.Struct, tag=True, frozen=True):
    """200 OK for the lead call; media is up. `answered_by` is the trunk's answering-machine detection."""

    worker_id: str
    at: float
    attempt_id: str
    answered_by: AnsweredBy


class Bridged(msgspec.Struct, tag=True, frozen=True):
    """The lead's audio now flows to and from the agent. `at` is the evidence `agent_connected_at`."""

    worker_id: str
    at: float
    attempt_id: str
    agent_id: str


class BridgeFailed(msgspec.Struct, tag=True, frozen=True):
    """A `Bridge` could not be done (lead gone, agent leg gone, internal leg refused); the lead stays up."""

    worker_id: str
    at: float
    attempt_id: str
    agent_id: str
    reason: str


class AgentLegUp(msgspec.Struct, tag=True, frozen=True):
    worker_id: str
    at: float
    agent_id: str


class AgentLegDown(msgspec.Struct, tag=True, frozen=True):
    """The agent's nailed leg ended (released, phone hung up, never answered, or its worker died)."""

    worker_id: str
    at: float
    agent_id: str
    sip_status: int
    reason: str


class AgentFree(msgspec.Struct, tag=True, frozen=True):
    """The lead call bridged to this agent ended; the agent's leg is still up (the engine starts WRAP)."""

    worker_id: str
    at: float
    agent_id: str
    attempt_id: str


class SafeHarborPlayed(msgspec.Struct, tag=True, frozen=True):
    """The safe-harbor message finished playing (the call is hung up after the listen window)."""

    worker_id: str
    at: float
    attempt_id: str


class AmdDecided(msgspec.Struct, tag=True, frozen=True):
    """The answering-machine detector on the callee's audio decided (`DialLead.amd_settings`).

    `result` is `human`, `machine` or `notsure` (an agent takes it); `cause` says why (docs/media.md);
    `decided_at_ms` is the audio time from the answer at which it decided. `greeting_ended_at` (epoch
    seconds, worker's clock) is when the callee's greeting ended, the instant the 2-second rule counts
    from; with no greeting heard it is the decision itself. `lag_ms` is how late the worker saw that
    audio (the recorder file grows in blocks)."""

    worker_id: str
    at: float
    attempt_id: str
    result: str
    cause: str
    decided_at_ms: int
    greeting_ended_at: float
    lag_ms: int = 0


class VoicemailLeft(msgspec.Struct, tag=True, frozen=True):
    """The voicemail message (`DialLead.voicemail_wav`) was played to the end into a machine's recording;
    `cue` is what it waited for: `beep`, `silence` (the greeting ended without one) or `timeout`."""

    worker_id: str
    at: float
    attempt_id: str
    cue: str


class DtmfReceived(msgspec.Struct, tag=True, frozen=True):
    worker_id: str
    at: float
    attempt_id: str
    digit: str


class OptOut(msgspec.Struct, tag=True, frozen=True):
    """The called party pressed the opt-out key during safe harbor: add the number to the internal DNC."""

    worker_id: str
    at: float
    attempt_id: str
    digit: str


class Ended(msgspec.Struct, tag=True, frozen=True):
    """A lead call is over. `sip_status` is the final SIP status (200 for an answered call that ended
    normally, 0 if no response ever came); `outcome` is the profile's mapping of it; `reason` is human text."""

    worker_id: str
    at: float
    attempt_id: str
    sip_status: int
    outcome: SipOutcome
    reason: str
    sip_call_id: str = ""
    answered: bool = False


class RecordingSaved(msgspec.Struct, tag=True, frozen=True):
    """A recording of a lead call was closed (the call ended): the WAV is complete at `wav_path`, or
    `error` says why there is none. Sent before the call's `Ended`. `started_at` is when the recorder
    started (after the announcement, when there was one)."""

    worker_id: str
    at: float
    attempt_id: str
    wav_path: str
    started_at: float
    announced: bool
    error: str = ""


# The reason a worker gives when asked to call an agent whose leg it already holds (the engine ignores it).
AGENT_LEG_EXISTS = "agent already has a leg on this worker"


class CommandRejected(msgspec.Struct, tag=True, frozen=True):
    """A command was invalid (unknown trunk, duplicate attempt id, unknown agent...). Names the rule."""

    worker_id: str
    at: float
    command: str
    key: str
    reason: str


class WorkerDied(msgspec.Struct, tag=True, frozen=True):
    """Synthesized by the client (never sent by a worker): the worker's process exited or its heartbeat
    stopped. `attempt_ids` are lead calls it held that had no `Ended`; `agent_ids` its nailed agent legs."""

    worker_id: str
    at: float
    exit_code: int | None
    attempt_ids: list[str]
    agent_ids: list[str]


Event = (
    WorkerReady
    | WorkerStats
    | Dialing
    | Ringing
    | Answered
    | Bridged
    | BridgeFailed
    | AgentLegUp
    | AgentLegDown
    | AgentFree
    | SafeHarborPlayed
    | AmdDecided
    | VoicemailLeft
    | DtmfReceived
    | OptOut
    | Ended
    | RecordingSaved
    | CommandRejected
    | WorkerDied
)

_encoder = msgspec.json.Encoder()
_command_decoder = msgspec.json.Decoder(Command)
_event_decoder = msgspec.json.Decoder(Event)


def encode(message: Command | Event) -> bytes:
    return _encoder.encode(message)


def decode_command(data: bytes | str) -> Command:
    return _command_decoder.decode(data)


def decode_event(data: bytes | str) -> Event:
    return _event_decoder.decode(data)
