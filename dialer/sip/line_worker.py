"""A line worker: one process, one pjsua2 endpoint, at most 30 calls, driven by commands from Redis.

Run as `python -m dialer.sip.line_worker --redis-url URL --pool P --worker-id W [--sip-port N]`.
Everything pjsua2 happens on the main thread (`threadCnt=0`, `mainThreadOnly`, media `threadCnt=0`): the
loop pumps `libHandleEvents`, reads commands every few milliseconds, fires its own timers (ring timeout,
safe-harbor end), admits queued calls under the 0.6 s rule and flushes events. See docs/sip.md for the
limits this design lives with and `dialer.sip.protocol` for the messages.

This is the only module that imports pjsua2. What can be decided without it lives beside it, pure and
tested on its own: the legs' life cycles (`dialer.sip.legs`), the headers of our INVITEs
(`dialer.sip.headers`), and which calls may be placed or taken (`dialer.sip.admission`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import tempfile
import time
import wave
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pjsua2 as pj

from core import log_scrub, metrics
from core.logging_json import add_process_field, configure_logging, log_context
from core.processes import owner_tag, sweep_dead_owners, watch_parent
from dialer.media.amd import AmdError, AmdSettings
from dialer.media.live_amd import LiveAmd
from dialer.sip import protocol as p
from dialer.sip.admission import (
    BRIDGE_TOKEN_HEADER,
    BRIDGE_TOKEN_TTL_S,
    HARD_CALL_LIMIT,
    MAX_WORKER_CALLS,
    SOCKET_REUSE_S,
    Admission,
    ExpectedLeg,
    admit_internal_leg,
    can_place_call,
    response_source_ok,
    uri_host,
)
from dialer.sip.channel import WorkerChannel
from dialer.sip.headers import (
    AGENT_HEADER,
    ATTEMPT_HEADER,
    internal_leg_headers,
    lead_from_uri,
    lead_headers,
    parse_headers,
    proxy_host,
    response_source,
)
from dialer.sip.legs import (
    AgentLeg,
    AgentLegState,
    HangupCause,
    InternalLeg,
    InternalLegState,
    LeadCall,
    LeadState,
    Leg,
    admission_reserve,
)
from dialer.sip.profiles import ProfileError, TrunkProfile, load_profile
from dialer.sip.timers import TimerQueue

COMMAND_POLL_S = 0.004
IDLE_COMMAND_POLL_S = 0.02
URGENT_AFTER_COMMAND_S = 0.2
HEARTBEAT_S = 1.0
REFUSAL_LOG_INTERVAL_S = 5.0
REFUSAL_RTP_ADDRESS = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never a local address
TMPFS = Path("/dev/shm")  # noqa: S108 - only the parent of the worker's own 0700 directory (mkdtemp)
AMD_SPOOL_PREFIX = "clearline-amd-"  # <prefix><host>.<pid>-<random>: swept once its worker is dead


def amd_spool_parent() -> Path:
    return TMPFS if TMPFS.is_dir() else Path(tempfile.gettempdir())


def sweep_amd_spool(parent: Path | None = None) -> list[Path]:
    """At a line worker's start: remove the AMD spools of line workers of this host that were killed
    (their callees' audio, in memory on tmpfs, which their own stop would have removed)."""
    return sweep_dead_owners(parent or amd_spool_parent(), AMD_SPOOL_PREFIX)


"""Where the callee's audio is recorded for AMD while it is analysed (tmpfs: no disk writes)."""
AMD_POLL_S = 0.04  # the recorder flushes every 0.25 s of audio: polling faster gains little
VOICEMAIL_TAIL_S = 0.3  # after the message, before the BYE (the last frames reach the machine)

log = logging.getLogger(__name__)


def _now() -> float:
    return time.time()


# ------------------------------------------------------------------------------------ pjsua2 glue


class SipCall(pj.Call):
    """One pjsua2 call; forwards its callbacks to the worker with the state object it belongs to."""

    def __init__(self, worker: LineWorker, owner: Leg, call_id: int = -1) -> None:
        if call_id >= 0:
            super().__init__(worker.local_account, call_id)
        else:
            super().__init__(worker.account_for(owner))
        self.worker = worker
        self.owner: Leg | None = owner

    def onCallState(self, prm: Any) -> None:
        with _contained("call state"), log_context(**_leg_log_fields(self.owner)):
            self.worker.on_call_state(self, prm)

    def onCallMediaState(self, prm: Any) -> None:
        with _contained("media state"), log_context(**_leg_log_fields(self.owner)):
            self.worker.on_media_state(self)

    def onDtmfDigit(self, prm: Any) -> None:
        with _contained("DTMF"), log_context(**_leg_log_fields(self.owner)):
            self.worker.on_dtmf(self, str(prm.digit))


def _leg_log_fields(owner: Leg | None) -> dict[str, object]:
    """The ids a log line about this leg carries (JSON logs): a lead call's attempt, campaign and lead, an
    agent leg's agent. Never the number dialed."""
    if isinstance(owner, LeadCall):
        cmd = owner.command
        return {"attempt_id": cmd.attempt_id, "campaign_id": cmd.campaign_id or None, "lead_id": cmd.lead_id}
    agent_id = getattr(owner, "agent_id", None)
    return {"agent_id": agent_id} if agent_id else {}


class WorkerEndpoint(pj.Endpoint):
    def __init__(self, worker: LineWorker) -> None:
        super().__init__()
        self.worker = worker

    def onSelectAccount(self, prm: Any) -> None:
        with _contained("select account"):
            self.worker.on_select_account(prm)


class WorkerAccount(pj.Account):
    def __init__(self, worker: LineWorker) -> None:
        super().__init__()
        self.worker = worker

    def onIncomingCall(self, prm: Any) -> None:
        with _contained("incoming call"):
            self.worker.on_incoming_call(prm)

    def onIncomingSubscribe(self, prm: Any) -> None:
        # pjsua would accept a presence SUBSCRIBE (200, then NOTIFYs to whoever asked): refuse it.
        prm.code, prm.reason = 403, "Subscriptions are not accepted"


@contextlib.contextmanager
def _contained(what: str) -> Iterator[None]:
    """A Python exception escaping a pjsua2 callback would abort the process and every call in it: log it
    instead (the worker keeps serving its other calls)."""
    try:
        yield
    except Exception:
        log.exception("line worker: error in %s callback", what)


# --------------------------------------------------------------------------------------------- worker


class LineWorker:
    def __init__(
        self,
        *,
        redis_url: str,
        pool: str,
        worker_id: str,
        host: str,
        sip_port: int,
        rtp_port: int,
        max_calls: int,
        profiles_dir: Path | None,
    ) -> None:
        self.channel = WorkerChannel(redis_url, pool=pool, worker_id=worker_id)
        self.pool = pool
        self.worker_id = worker_id
        self.host = host
        self.max_calls = min(max_calls, MAX_WORKER_CALLS)
        self.profiles_dir = profiles_dir
        self.refused_invites = 0
        self.last_refusal_log = -REFUSAL_LOG_INTERVAL_S
        self.expected_legs: dict[str, ExpectedLeg] = {}
        """Internal legs this worker may answer, by one-time bridge token (`ExpectBridge`)."""
        self.running = True

        self.leads: dict[str, LeadCall] = {}
        self.agents: dict[str, AgentLeg] = {}
        self.live_calls: set[SipCall] = set()
        self.recent_ends: deque[float] = deque()
        self.waiting: deque[Leg] = deque()
        self.timers = TimerQueue()
        self.profiles: dict[str, TrunkProfile] = {}
        self.trunk_accounts: dict[str, tuple[WorkerAccount, pj.AccountConfig]] = {}
        self.transports: dict[str, int] = {}
        self.calls_placed = 0
        self.admission_waits = 0
        self.recordings: dict[str, CallRecording] = {}
        """Recordings of bridged lead calls in progress, by attempt id (`_start_recording`)."""

        self.ep = WorkerEndpoint(self)
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = HARD_CALL_LIMIT
        cfg.uaConfig.userAgent = "Clearline"
        cfg.uaConfig.natTypeInSdp = 0  # every byte counts: a signed INVITE must fit one UDP datagram
        cfg.logConfig.level = 0
        cfg.logConfig.consoleLevel = 0
        cfg.medConfig.threadCnt = 0  # RTP (and so DTMF callbacks) on the main thread too
        cfg.medConfig.sndAutoCloseTime = -1
        cfg.medConfig.noVad = True
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.channelCount = 1
        self.ep.libInit(cfg)
        udp = pj.TransportConfig()
        udp.port = sip_port
        udp.boundAddress = host
        self.transports["udp"] = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, udp)
        self.sip_port = int(self.ep.transportGetInfo(self.transports["udp"]).localName.rsplit(":", 1)[1])
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        self.rtp_port = rtp_port or random.randrange(20000, 60000, 2)
        self.offered_codecs: tuple[str, ...] = ()
        for codec in self.ep.codecEnum2():
            self.ep.codecSetPriority(codec.codecId, 0)
        self._offer_codecs(("PCMU", "PCMA"))
        self.local_account_config = self._account_config(f"sip:{worker_id}@{host}:{self.sip_port}", "udp")
        self.local_account = WorkerAccount(self)
        self.local_account.create(self.local_account_config, True)
        self.refusal_account = WorkerAccount(self)
        self.refusal_account.create(self._refusal_account_config())
        self.refusal_account_id = self.refusal_account.getId()
        self._selected: tuple[str, dict[str, str], Admission] | None = None
        self.amd_dir: Path | None = None

    @property
    def sip_uri(self) -> str:
        return f"sip:{self.worker_id}@{self.host}:{self.sip_port}"

    def _offer_codecs(self, names: tuple[str, ...]) -> None:
        """Offer only these G.711 codecs, in this order (telephone-event is always offered by pjsua).
        Codec priorities are endpoint-wide: set right before a makeCall, like the From."""
        wanted = tuple(name for name in names if name in ("PCMU", "PCMA"))
        if wanted == self.offered_codecs:
            return
        for name in ("PCMU", "PCMA"):
            priority = 255 - wanted.index(name) if name in wanted else 0
            self.ep.codecSetPriority(f"{name}/8000/1", priority)
        self.offered_codecs = wanted

    def _account_config(self, id_uri: str, transport: str) -> pj.AccountConfig:
        cfg = pj.AccountConfig()
        cfg.idUri = id_uri
        cfg.sipConfig.transportId = self.transports[transport]  # also keeps large INVITEs off TCP
        cfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
        cfg.mediaConfig.transportConfig.port = self.rtp_port
        cfg.mediaConfig.transportConfig.portRange = 256
        cfg.mediaConfig.transportConfig.boundAddress = self.host
        return cfg

    def _refusal_account_config(self) -> pj.AccountConfig:
        """Where `on_select_account` sends every INVITE it does not admit: pjsua refuses the call with 488
        while setting up its media, before it opens any socket (SRTP required over end-to-end TLS, which
        no inbound request here has; RTP bound to a TEST-NET address in case it got that far). Refused
        this way, a flood costs no ioqueue slot: refused in `onIncomingCall`, 32 INVITEs within 20 ms
        took the 64 media sockets of the ioqueue and aborted the process (docs/sip.md)."""
        cfg = self._account_config(f"sip:refused@{self.host}:{self.sip_port}", "udp")
        cfg.mediaConfig.transportConfig.boundAddress = REFUSAL_RTP_ADDRESS
        cfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_MANDATORY
        cfg.mediaConfig.srtpSecureSignaling = 2
        return cfg

    def _transport(self, kind: str) -> str:
        if kind not in self.transports:
            types = {"tcp": pj.PJSIP_TRANSPORT_TCP, "tls": pj.PJSIP_TRANSPORT_TLS}
            tcfg = pj.TransportConfig()
            tcfg.boundAddress = self.host
            self.transports[kind] = self.ep.transportCreate(types[kind], tcfg)
        return kind

    def account_for(self, owner: Leg) -> WorkerAccount:
        if not isinstance(owner, LeadCall):
            return self.local_account
        profile = owner.profile
        if profile.name not in self.trunk_accounts:
            cfg = self._account_config(
                f"sip:clearline@{proxy_host(profile)}", self._transport(profile.transport)
            )
            if profile.registrar:
                cfg.regConfig.registrarUri = profile.registrar
            if profile.auth is not None:
                user, password = profile.auth.credentials()
                cfg.sipConfig.authCreds.append(
                    pj.AuthCredInfo("digest", profile.auth.realm, user, 0, password)
                )
            account = WorkerAccount(self)
            account.create(cfg)
            self.trunk_accounts[profile.name] = (account, cfg)
        account, cfg = self.trunk_accounts[profile.name]
        # pjsua has no per-call From: set the account's identity right before this call's makeCall (one
        # thread, so nothing else can dial in between; dialogs keep the From they were created with).
        wanted = lead_from_uri(owner.command, profile)
        if cfg.idUri != wanted:
            cfg.idUri = wanted
            account.modify(cfg)
        return account

    # ---------------------------------------------------------------------------------------- loop

    def run(self) -> None:
        sweep_amd_spool()
        self.emit(
            p.WorkerReady(
                worker_id=self.worker_id,
                at=_now(),
                sip_uri=self.sip_uri,
                max_calls=self.max_calls,
                pid=os.getpid(),
                host=socket.gethostname(),
            )
        )
        next_heartbeat = 0.0
        last_command = 0.0
        while self.running:
            # pjsua2 holds the GIL inside libHandleEvents, so commands cannot arrive on another thread:
            # poll Redis every few ms while a bridge may be imminent, less often when nothing is pending.
            urgent = time.monotonic() - last_command < URGENT_AFTER_COMMAND_S or self._bridge_may_come()
            pump_ms, poll_s = (2, COMMAND_POLL_S) if urgent else (10, IDLE_COMMAND_POLL_S)
            poll_until = time.monotonic() + poll_s
            while time.monotonic() < poll_until and not self.channel.has_events:  # events go out at once
                self.ep.libHandleEvents(pump_ms)
            for data in self.channel.commands():
                last_command = time.monotonic()
                self.handle_command(data)
            self.timers.fire_due(time.monotonic())
            self._admit_waiting()
            if time.monotonic() >= next_heartbeat:
                next_heartbeat = time.monotonic() + HEARTBEAT_S
                self._heartbeat()
            self.flush()
        self._shutdown()

    def _bridge_may_come(self) -> bool:
        """An answered lead waits for its agent, a dial waits for admission, or a bridge is being set up."""
        # Every loop turn: plain attribute tests (LeadCall.awaiting_agent and InternalLeg.bridged say the same).
        answered, bridged = LeadState.ANSWERED, (InternalLegState.BRIDGED, InternalLegState.UNBRIDGING)
        return bool(self.waiting) or any(
            (lead.state is answered and not lead.agent_id and lead.player is None)
            or (lead.internal is not None and lead.internal.state not in bridged)
            for lead in self.leads.values()
        )

    def emit(self, event: p.Event) -> None:
        self.channel.emit(event)

    def flush(self) -> None:
        self.channel.flush()

    def _heartbeat(self) -> None:
        leads = sum(1 for c in self.live_calls if isinstance(c.owner, LeadCall))
        agents = sum(1 for c in self.live_calls if isinstance(c.owner, AgentLeg))
        stats = p.WorkerStats(
            worker_id=self.worker_id,
            at=_now(),
            calls=len(self.live_calls),
            lead_calls=leads,
            agent_legs=agents,
            internal_legs=len(self.live_calls) - leads - agents,
            queued_dials=sum(1 for w in self.waiting if isinstance(w, LeadCall)),
            free_slots=max(0, self.max_calls - len(self.live_calls) - self._reserve()),
            calls_placed=self.calls_placed,
            admission_waits=self.admission_waits,
        )
        self.emit(stats)
        self.channel.publish_alive(stats, ttl_ms=int(HEARTBEAT_S * 3000))
        metrics.line_worker_stats(
            self.pool,
            self.worker_id,
            lead_calls=len(self.leads),
            agent_legs=agents,
            internal_legs=stats.internal_legs,
            handles=len(self.live_calls),
            handle_limit=self.max_calls,
            queued_dials=stats.queued_dials,
        )
        now = time.monotonic()
        for token in [t for t, leg in self.expected_legs.items() if leg.expires_at < now]:
            del self.expected_legs[token]

    def _schedule(self, delay_s: float, action: Callable[[], None]) -> None:
        self.timers.schedule(time.monotonic(), delay_s, action)

    # ----------------------------------------------------------------------------------- admission

    def _reserve(self) -> int:
        return admission_reserve(self.leads.values(), self.agents.values())

    def _can_admit(self, reserve: int = 0) -> bool:
        cutoff = time.monotonic() - SOCKET_REUSE_S
        while self.recent_ends and self.recent_ends[0] < cutoff:
            self.recent_ends.popleft()
        return can_place_call(
            live_calls=len(self.live_calls),
            recently_ended=len(self.recent_ends),
            reserve=reserve,
            max_calls=self.max_calls,
        )

    def _admit_waiting(self) -> None:
        """Place queued calls while the admission rule allows; bridges and agent legs go first."""
        if not self.waiting:
            return
        for item in sorted(self.waiting, key=lambda w: isinstance(w, LeadCall)):
            reserve = self._reserve() if isinstance(item, LeadCall) else 0
            if not self._can_admit(reserve):
                if isinstance(item, LeadCall):
                    continue
                break
            self.waiting.remove(item)
            if not self._place(item):
                self.waiting.appendleft(item)
                break

    def _place(self, item: Leg) -> bool:
        """makeCall for a queued item; False when pjsua2 says PJ_ETOOMANY (retry shortly)."""
        op = pj.CallOpParam(True)
        if isinstance(item, LeadCall):
            uri = item.profile.request_uri(item.command.to)
            headers = lead_headers(item.command, item.profile)
        elif isinstance(item, AgentLeg):
            uri, headers = item.sip_uri, []
        else:
            uri = item.target_uri
            headers = internal_leg_headers(
                agent_id=item.agent_id, attempt_id=item.attempt_id, token=item.token
            )
        for name, value in headers:
            header = pj.SipHeader()
            header.hName = name
            header.hValue = value
            op.txOption.headers.append(header)
        self._offer_codecs(item.profile.codecs if isinstance(item, LeadCall) else ("PCMU", "PCMA"))
        call = SipCall(self, item)
        try:
            call.makeCall(uri, op)
        except pj.Error as exc:
            if "TOOMANY" in exc.reason.upper() or "too many" in exc.reason.lower():
                self.admission_waits += 1
                return False
            self._place_failed(item, exc.reason)
            return True
        if call.owner is None:  # disconnected inside makeCall (e.g. the transport refused at once)
            return True
        item.call = call
        self.live_calls.add(call)
        if isinstance(item, AgentLeg):
            item.state = AgentLegState.CALLING
        elif isinstance(item, InternalLeg):
            item.state = InternalLegState.CALLING
        else:
            item.move(LeadState.INVITING)
            self.calls_placed += 1
            item.sip_call_id = call.getInfo().callIdString
            self.emit(
                p.Dialing(
                    worker_id=self.worker_id,
                    at=_now(),
                    attempt_id=item.command.attempt_id,
                    sip_call_id=item.sip_call_id,
                )
            )
            self._arm_ring_timer(item)
        return True

    def _place_failed(self, item: Leg, reason: str) -> None:
        if isinstance(item, LeadCall):
            item.move(LeadState.ENDED)
            self.leads.pop(item.command.attempt_id, None)
            outcome = p.SipOutcome.INVALID if "uri" in reason.lower() else p.SipOutcome.TRUNK_FAILURE
            self.emit(
                p.Ended(
                    worker_id=self.worker_id,
                    at=_now(),
                    attempt_id=item.command.attempt_id,
                    sip_status=0,
                    outcome=outcome,
                    reason=f"not placed: {reason}",
                )
            )
        elif isinstance(item, AgentLeg):
            item.state = AgentLegState.DOWN
            self.agents.pop(item.agent_id, None)
            self.emit(
                p.AgentLegDown(
                    worker_id=self.worker_id, at=_now(), agent_id=item.agent_id, sip_status=0, reason=reason
                )
            )
        else:
            self._internal_failed(item, f"internal leg not placed: {reason}")

    def _arm_ring_timer(self, lead: LeadCall) -> None:
        lead.timer_generation += 1
        generation = lead.timer_generation

        def expire() -> None:
            if lead.timer_generation == generation and not lead.answered and not lead.ended and lead.call:
                lead.hang_up_because(HangupCause.RING_TIMEOUT)
                with contextlib.suppress(pj.Error):
                    lead.call.hangup(pj.CallOpParam(True))

        self._schedule(lead.ring_timeout_s, expire)

    # ------------------------------------------------------------------------------------ commands

    def handle_command(self, data: bytes) -> None:
        try:
            command = p.decode_command(data)
        except Exception as exc:  # a malformed message must not take down every call in the process
            self.emit(
                p.CommandRejected(worker_id=self.worker_id, at=_now(), command="?", key="", reason=str(exc))
            )
            return
        try:
            with log_context(**_command_log_fields(command)):
                self._dispatch(command)
        except Exception as exc:
            log.exception("line worker: error handling %s", type(command).__name__)
            self._reject(type(command).__name__, _command_key(command), f"internal error: {exc}")

    def _dispatch(self, command: p.Command) -> None:
        if isinstance(command, p.DialLead):
            self._dial(command)
        elif isinstance(command, p.Hangup):
            self._hangup(command.attempt_id)
        elif isinstance(command, p.CallAgent):
            self._call_agent(command)
        elif isinstance(command, p.ReleaseAgent):
            self._release_agent(command.agent_id)
        elif isinstance(command, p.Bridge):
            self._bridge(command)
        elif isinstance(command, p.ExpectBridge):
            self._expect_bridge(command)
        elif isinstance(command, p.PlaySafeHarbor):
            self._play_safe_harbor(command)
        elif isinstance(command, p.Shutdown):
            self.running = False

    def _reject(self, command: str, key: str, reason: str) -> None:
        self.emit(
            p.CommandRejected(worker_id=self.worker_id, at=_now(), command=command, key=key, reason=reason)
        )

    def _profile(self, name: str) -> TrunkProfile:
        if name not in self.profiles:
            self.profiles[name] = load_profile(name, self.profiles_dir)
        return self.profiles[name]

    def _dial(self, cmd: p.DialLead) -> None:
        if cmd.attempt_id in self.leads:
            self._reject("DialLead", cmd.attempt_id, "attempt id already in progress on this worker")
            return
        try:
            profile = self._profile(cmd.trunk)
        except ProfileError as exc:
            self._reject("DialLead", cmd.attempt_id, str(exc))
            return
        if profile.stir_shaken and not cmd.identity:
            self._reject(
                "DialLead", cmd.attempt_id, f"trunk {profile.name} requires a STIR/SHAKEN Identity header"
            )
            return
        lead = LeadCall(
            command=cmd, profile=profile, ring_timeout_s=profile.effective_ring_timeout(cmd.ring_timeout_s)
        )
        self.leads[cmd.attempt_id] = lead
        self.waiting.append(lead)
        self._admit_waiting()

    def _hangup(self, attempt_id: str) -> None:
        lead = self.leads.get(attempt_id)
        if lead is None:
            return
        lead.hang_up_because(HangupCause.ENGINE)
        if lead.call is None:
            if lead in self.waiting:
                self.waiting.remove(lead)
            self._end_lead(lead, 0, "cancelled before the INVITE was sent")
            return
        with contextlib.suppress(pj.Error):
            lead.call.hangup(pj.CallOpParam(True))

    def _call_agent(self, cmd: p.CallAgent) -> None:
        if cmd.agent_id in self.agents:
            self._reject("CallAgent", cmd.agent_id, p.AGENT_LEG_EXISTS)
            return
        agent = AgentLeg(agent_id=cmd.agent_id, sip_uri=cmd.sip_uri)
        self.agents[cmd.agent_id] = agent
        self.waiting.append(agent)
        self._admit_waiting()

    def _release_agent(self, agent_id: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None:
            return
        agent.released = True
        if agent.call is None:
            if agent in self.waiting:
                self.waiting.remove(agent)
            agent.state = AgentLegState.DOWN
            self.agents.pop(agent_id)
            self.emit(
                p.AgentLegDown(
                    worker_id=self.worker_id, at=_now(), agent_id=agent_id, sip_status=0, reason="released"
                )
            )
            return
        with contextlib.suppress(pj.Error):
            agent.call.hangup(pj.CallOpParam(True))

    # ------------------------------------------------------------------------------------- bridging

    def _bridge(self, cmd: p.Bridge) -> None:
        lead = self.leads.get(cmd.attempt_id)
        if lead is None or lead.ended or not lead.answered:
            self.emit(
                p.BridgeFailed(
                    worker_id=self.worker_id,
                    at=_now(),
                    attempt_id=cmd.attempt_id,
                    agent_id=cmd.agent_id,
                    reason="lead call is not up"
                    if lead is None or lead.ended
                    else "lead call not answered yet",
                )
            )
            return
        if lead.agent_id:
            self._bridge_failed(lead, cmd.agent_id, f"already bridged to agent {lead.agent_id}")
            return
        self._stop_player(lead)
        lead.agent_id = cmd.agent_id
        if not lead.media_ready:
            lead.pending_bridge = cmd
            return
        self._complete_bridge(lead, cmd)

    def _complete_bridge(self, lead: LeadCall, cmd: p.Bridge) -> None:
        lead.pending_bridge = None
        if not cmd.agent_worker_uri:
            agent = self.agents.get(cmd.agent_id)
            if agent is None or not agent.bridgeable:
                self._bridge_failed(lead, cmd.agent_id, "agent has no leg up on this worker")
                return
            if agent.partner is not None:
                self._bridge_failed(lead, cmd.agent_id, "agent is already on a call")
                return
            assert lead.call is not None
            _connect(lead.call, agent.call)
            agent.partner = lead.call
            lead.agent = agent
            self._bridged(lead)
            return
        internal = InternalLeg(
            attempt_id=lead.command.attempt_id,
            agent_id=cmd.agent_id,
            outgoing=True,
            target_uri=cmd.agent_worker_uri,
            token=cmd.token,
        )
        lead.internal = internal
        self.waiting.appendleft(internal)
        self._admit_waiting()

    def _expect_bridge(self, cmd: p.ExpectBridge) -> None:
        self.expected_legs[cmd.token] = ExpectedLeg(
            attempt_id=cmd.attempt_id,
            agent_id=cmd.agent_id,
            source=cmd.source,
            expires_at=time.monotonic() + BRIDGE_TOKEN_TTL_S,
        )

    def _take_expect_bridges_now(self) -> None:
        """Read the command queue at once for the `ExpectBridge` an INVITE's token needs (the pool queues it
        before the `Bridge` that made the other worker send the INVITE); other commands wait their turn."""
        for command in self.channel.take_expect_bridges():
            self._expect_bridge(command)

    def _bridged(self, lead: LeadCall) -> None:
        self._start_recording(lead)
        self.emit(
            p.Bridged(
                worker_id=self.worker_id,
                at=_now(),
                attempt_id=lead.command.attempt_id,
                agent_id=lead.agent_id,
            )
        )

    def _bridge_failed(self, lead: LeadCall, agent_id: str, reason: str) -> None:
        if lead.agent_id == agent_id:
            lead.agent_id = ""
            lead.agent = None
            lead.internal = None
        self.emit(
            p.BridgeFailed(
                worker_id=self.worker_id,
                at=_now(),
                attempt_id=lead.command.attempt_id,
                agent_id=agent_id,
                reason=reason,
            )
        )

    def _internal_failed(self, internal: InternalLeg, reason: str) -> None:
        lead = self.leads.get(internal.attempt_id)
        if lead is not None and lead.internal is internal:
            self._bridge_failed(lead, internal.agent_id, reason)

    def _unbridge(self, lead: LeadCall) -> None:
        """Take the agent off this lead call (the agent's leg stays up); report the agent free."""
        if not lead.agent_id:
            return
        agent_id = lead.agent_id
        if lead.agent is not None:
            if lead.call is not None and lead.agent.call is not None:
                _disconnect(lead.call, lead.agent.call)
            lead.agent.partner = None
        internal = lead.internal
        lead.agent, lead.internal, lead.agent_id = None, None, ""
        if internal is not None and internal.call is not None:
            # Report the remote agent free only once its worker has taken the BYE, so that a new bridge to
            # that agent cannot arrive there before the old leg is gone.
            internal.state = InternalLegState.UNBRIDGING
            with contextlib.suppress(pj.Error):
                internal.call.hangup(pj.CallOpParam(True))
            return
        self.emit(
            p.AgentFree(
                worker_id=self.worker_id, at=_now(), agent_id=agent_id, attempt_id=lead.command.attempt_id
            )
        )

    # ---------------------------------------------------------------------------------- safe harbor

    def _play_safe_harbor(self, cmd: p.PlaySafeHarbor) -> None:
        lead = self.leads.get(cmd.attempt_id)
        if lead is None or lead.ended or not lead.answered or lead.call is None:
            self._reject("PlaySafeHarbor", cmd.attempt_id, "lead call is not up")
            return
        try:
            with wave.open(cmd.wav_path, "rb") as wav:
                duration_s = wav.getnframes() / wav.getframerate()
        except (OSError, wave.Error, EOFError) as exc:
            self._reject("PlaySafeHarbor", cmd.attempt_id, f"safe-harbor WAV {cmd.wav_path}: {exc}")
            return
        self._unbridge(lead)
        lead.opt_out_key = cmd.opt_out_key
        player = pj.AudioMediaPlayer()
        player.createPlayer(cmd.wav_path, pj.PJMEDIA_FILE_NO_LOOP)
        lead.player = player
        if lead.media_ready:
            player.startTransmit(_audio(lead.call))
        attempt_id = cmd.attempt_id

        def played() -> None:
            if not lead.ended and lead.player is player:
                self.emit(p.SafeHarborPlayed(worker_id=self.worker_id, at=_now(), attempt_id=attempt_id))

        def finish() -> None:
            if not lead.ended and lead.player is player and lead.call is not None:
                with contextlib.suppress(pj.Error):
                    lead.call.hangup(pj.CallOpParam(True))

        self._schedule(duration_s, played)
        self._schedule(duration_s + cmd.listen_after_s, finish)

    def _stop_player(self, lead: LeadCall) -> None:
        # The AudioMediaPlayer is dropped here, on the main thread; its conference port goes with it.
        lead.player = None
        lead.opt_out_key = ""

    # ------------------------------------------------------------------------------------ recording

    def _start_recording(self, lead: LeadCall) -> None:
        """The lead was just bridged and its campaign records it (`DialLead.record`): announce first if
        asked (to both parties; the bridge is already up, so the 2 s bound is untouched), then record
        both legs into one WAV. A lead bridged again (a new agent after a lost one) adds that partner."""
        order = lead.command.record
        partner = _partner_call(lead)
        if order is None or lead.call is None or partner is None:
            return
        attempt_id = lead.command.attempt_id
        recording = self.recordings.get(attempt_id)
        if recording is not None:
            if recording.recorder is not None:
                with contextlib.suppress(pj.Error):
                    _audio(partner).startTransmit(recording.recorder)
            return
        recording = self.recordings[attempt_id] = CallRecording(order=order)
        if not order.announcement_wav:
            self._begin_recording(lead, recording)
            return
        try:
            with wave.open(order.announcement_wav, "rb") as wav:
                duration_s = wav.getnframes() / wav.getframerate()
            player = pj.AudioMediaPlayer()
            player.createPlayer(order.announcement_wav, pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(_audio(lead.call))
            player.startTransmit(_audio(partner))
        except (OSError, wave.Error, EOFError, pj.Error) as exc:
            # Never record unannounced where the announcement was due: report the failure instead.
            recording.error = f"announcement {order.announcement_wav} not played: {_error_text(exc)}"
            return
        recording.announcer, recording.announced = player, True

        def announced() -> None:
            if self.recordings.get(attempt_id) is recording and not lead.ended:
                recording.announcer = None
                self._begin_recording(lead, recording)

        self._schedule(duration_s, announced)

    def _begin_recording(self, lead: LeadCall, recording: CallRecording) -> None:
        partner = _partner_call(lead)
        if lead.call is None or partner is None:
            recording.error = "the call ended before recording could start"
            return
        try:
            Path(recording.order.wav_path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(recording.order.wav_path)
            _audio(lead.call).startTransmit(recorder)
            _audio(partner).startTransmit(recorder)
        except (OSError, pj.Error) as exc:
            recording.error = f"recorder not started: {_error_text(exc)}"
            return
        recording.recorder, recording.started_at = recorder, _now()

    def _stop_recording(self, lead: LeadCall) -> None:
        """Close the lead's recording (its WAV is complete once the recorder is gone) and report it."""
        recording = self.recordings.pop(lead.command.attempt_id, None)
        if recording is None:
            return
        had_recorder = recording.recorder is not None
        recording.announcer = None
        recording.recorder = None  # pjsua2 closes the WAV (writes its header) as the port is destroyed
        error = recording.error or ("" if had_recorder else "the call ended during the announcement")
        self.emit(
            p.RecordingSaved(
                worker_id=self.worker_id,
                at=_now(),
                attempt_id=lead.command.attempt_id,
                wav_path=recording.order.wav_path,
                started_at=recording.started_at,
                announced=recording.announced,
                error=error,
            )
        )

    # ------------------------------------------------------------------- answering-machine detection

    def _start_amd(self, lead: LeadCall) -> None:
        """Record the callee's audio into tmpfs from the answer and read it as it grows (`LiveAmd`): the
        pinned wheel has no `AudioMediaPort` to take frames from (dialer.media.live_amd)."""
        attempt_id = lead.command.attempt_id
        lead.amd_started = True
        try:
            settings = AmdSettings.from_dict(dict(lead.command.amd_settings or {}))
        except AmdError as exc:  # the engine validates them first: a person must never wait on this
            log.error("line worker: AMD of %s not run: %s", attempt_id, exc)
            now = _now()
            self.emit(
                p.AmdDecided(
                    worker_id=self.worker_id,
                    at=now,
                    attempt_id=attempt_id,
                    result="notsure",
                    cause="SETTINGS-INVALID",
                    decided_at_ms=0,
                    greeting_ended_at=now,
                )
            )
            return
        if self.amd_dir is None:  # private to this process (0700): a callee's voice is personal data
            self.amd_dir = Path(
                tempfile.mkdtemp(prefix=f"{AMD_SPOOL_PREFIX}{owner_tag()}-", dir=amd_spool_parent())
            )
        path = self.amd_dir / f"{attempt_id}.wav"
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(str(path))
        _audio(lead.call).startTransmit(recorder)
        lead.amd_recorder = recorder
        lead.amd = LiveAmd(path, settings, started_at=_now(), voicemail=bool(lead.command.voicemail_wav))
        self._schedule(AMD_POLL_S, lambda: self._poll_amd(lead))

    def _poll_amd(self, lead: LeadCall) -> None:
        amd = lead.amd
        if amd is None or lead.ended:
            return
        decided = amd.decision is not None
        amd.poll(_now())
        if not decided and amd.decision is not None:
            decision = amd.decision
            log.info(
                "line worker: AMD of %s: %s (%s) at %d ms, seen %d ms late",
                lead.command.attempt_id,
                decision.result.value,
                decision.cause,
                decision.decided_at_ms,
                amd.lag_ms,
            )
            self.emit(
                p.AmdDecided(
                    worker_id=self.worker_id,
                    at=_now(),
                    attempt_id=lead.command.attempt_id,
                    result=decision.result.value,
                    cause=decision.cause,
                    decided_at_ms=decision.decided_at_ms,
                    greeting_ended_at=amd.greeting_ended_at,
                    lag_ms=amd.lag_ms,
                )
            )
        if amd.cue is not None:
            cue = amd.cue
            self._stop_amd(lead)
            self._leave_voicemail(lead, cue)
        elif amd.done:
            self._stop_amd(lead)
        else:
            self._schedule(AMD_POLL_S, lambda: self._poll_amd(lead))

    def _stop_amd(self, lead: LeadCall) -> None:
        amd, recorder = lead.amd, lead.amd_recorder
        lead.amd, lead.amd_recorder = None, None
        if recorder is not None and lead.call is not None:
            with contextlib.suppress(pj.Error):
                _audio(lead.call).stopTransmit(recorder)
        del recorder  # the recorder's port goes here, on the main thread, before its file is removed
        if amd is not None:
            with contextlib.suppress(OSError):
                amd.path.unlink()

    def _leave_voicemail(self, lead: LeadCall, cue: str) -> None:
        """A machine's greeting is over: play the campaign's message into its recording, then hang up."""
        attempt_id, wav_path = lead.command.attempt_id, lead.command.voicemail_wav
        if cue == "timeout" or lead.call is None or lead.ended:
            if lead.call is not None:
                with contextlib.suppress(pj.Error):
                    lead.call.hangup(pj.CallOpParam(True))
            return
        try:
            with wave.open(wav_path, "rb") as wav:
                duration_s = wav.getnframes() / wav.getframerate()
            player = pj.AudioMediaPlayer()
            player.createPlayer(wav_path, pj.PJMEDIA_FILE_NO_LOOP)
        except (OSError, wave.Error, EOFError, pj.Error) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            log.error("line worker: voicemail message %s of %s not played: %s", wav_path, attempt_id, reason)
            with contextlib.suppress(pj.Error):
                lead.call.hangup(pj.CallOpParam(True))
            return
        lead.player = player
        player.startTransmit(_audio(lead.call))

        def left() -> None:
            if lead.ended or lead.player is not player:
                return
            self.emit(p.VoicemailLeft(worker_id=self.worker_id, at=_now(), attempt_id=attempt_id, cue=cue))
            if lead.call is not None:
                with contextlib.suppress(pj.Error):
                    lead.call.hangup(pj.CallOpParam(True))

        self._schedule(duration_s + VOICEMAIL_TAIL_S, left)

    # ------------------------------------------------------------------------------------ callbacks

    def _admission(self, rdata: Any) -> tuple[dict[str, str], Admission]:
        """Is this inbound INVITE the internal bridge leg a token was issued for (`dialer.sip.admission`)?"""
        headers = parse_headers(rdata.wholeMsg)
        token = headers.get(_BRIDGE_TOKEN_KEY, "")
        expected = self.expected_legs.get(token) if token else None
        if token and expected is None:
            self._take_expect_bridges_now()
            expected = self.expected_legs.get(token)
        admission = admit_internal_leg(
            token=token,
            agent_id=headers.get(_AGENT_KEY, ""),
            attempt_id=headers.get(_ATTEMPT_KEY, ""),
            source=str(rdata.srcAddress),
            expected=expected,
            now=time.monotonic(),
        )
        return headers, admission

    def on_select_account(self, prm: Any) -> None:
        """pjsua asks which account takes an inbound request, before it sets up a call's media: an INVITE
        that is not an expected internal leg goes to the refusal account (488, no socket opened)."""
        rdata = prm.rdata
        if not rdata.wholeMsg.startswith("INVITE "):
            return
        headers, admission = self._admission(rdata)
        self._selected = (rdata.info, headers, admission)
        if not admission.admitted:
            prm.accountIndex = self.refusal_account_id
            self._log_refusal(str(rdata.srcAddress), admission.reason)

    def on_incoming_call(self, prm: Any) -> None:
        """Answer the internal bridge leg `on_select_account` admitted, if its agent leg is free."""
        selected, self._selected = self._selected, None
        if selected is not None and selected[0] == prm.rdata.info:  # this INVITE, just before (same rdata)
            headers, admission = selected[1], selected[2]
        else:
            headers, admission = self._admission(prm.rdata)
        agent_id, attempt_id = headers.get(_AGENT_KEY, ""), headers.get(_ATTEMPT_KEY, "")
        token = headers.get(_BRIDGE_TOKEN_KEY, "")
        internal = InternalLeg(
            attempt_id=attempt_id, agent_id=agent_id, outgoing=False, state=InternalLegState.ANSWERING
        )
        call = SipCall(self, internal, prm.callId)
        internal.call = call
        self.live_calls.add(call)
        agent = self.agents.get(agent_id)
        op = pj.CallOpParam(True)
        if not admission.admitted:  # e.g. the token expired between the two callbacks
            op.statusCode, op.reason = admission.status, admission.reason
        elif agent is None or not agent.up or not agent.media_ready:
            op.statusCode, op.reason = 404, "Agent leg not up on this worker"
        elif agent.partner is not None:
            op.statusCode, op.reason = 486, "Agent already on a call"
        elif len(self.live_calls) > self.max_calls:
            op.statusCode, op.reason = 503, "Worker full"
        else:
            op.statusCode = 200
            del self.expected_legs[token]  # one time only
            internal.agent = agent
            agent.partner = call
        call.answer(op)

    def _log_refusal(self, source: str, reason: str) -> None:
        """Log refused INVITEs at most every few seconds (a SIP scanner sends thousands)."""
        self.refused_invites += 1
        now = time.monotonic()
        if now - self.last_refusal_log >= REFUSAL_LOG_INTERVAL_S:
            self.last_refusal_log = now
            log.warning(
                "line worker: refused INVITE from %s (%s); %d refused so far",
                source,
                reason,
                self.refused_invites,
            )

    def on_call_state(self, call: SipCall, prm: Any) -> None:
        info = call.getInfo()
        owner = call.owner
        state = info.state
        try:
            if isinstance(owner, LeadCall):
                self._lead_state(owner, call, info, prm)
            elif isinstance(owner, AgentLeg):
                source = "" if owner.up else _response_source(prm)
                if (
                    source
                    and not owner.foreign_source
                    and not response_source_ok(source, uri_host(owner.sip_uri))
                ):
                    owner.foreign_source = source
                    with contextlib.suppress(pj.Error):
                        call.hangup(pj.CallOpParam(True))
                    # At once: a BYE to a forged Contact may never be answered.
                    reason = f"response from {source}, not the phone's address"
                    self._agent_leg_down(owner, info.lastStatusCode, reason)
                elif (
                    state == pj.PJSIP_INV_STATE_CONFIRMED
                    and owner.state is AgentLegState.CALLING
                    and not owner.foreign_source
                ):
                    owner.state = AgentLegState.UP
                    self.emit(p.AgentLegUp(worker_id=self.worker_id, at=_now(), agent_id=owner.agent_id))
            elif isinstance(owner, InternalLeg) and state == pj.PJSIP_INV_STATE_CONFIRMED:
                if owner.state in (InternalLegState.CALLING, InternalLegState.ANSWERING):
                    owner.state = InternalLegState.UP
                if owner.outgoing:
                    self._internal_up(owner)
        finally:
            if state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self._disconnected(call, info)

    def _lead_state(self, lead: LeadCall, call: SipCall, info: Any, prm: Any) -> None:
        if lead.ended:
            return
        state = info.state
        source = "" if lead.answered else _response_source(prm)
        if source and not response_source_ok(source, lead.trunk_host):
            self._foreign_response(lead, call, source, info.lastStatusCode)
            return
        if (
            state == pj.PJSIP_INV_STATE_EARLY
            and info.lastStatusCode in (180, 183)
            and lead.move(LeadState.RINGING)
        ):
            self._arm_ring_timer(lead)  # the ring timeout counts from the first ring
            self.emit(
                p.Ringing(
                    worker_id=self.worker_id,
                    at=_now(),
                    attempt_id=lead.command.attempt_id,
                    sip_status=info.lastStatusCode,
                )
            )
        elif (
            state == pj.PJSIP_INV_STATE_CONNECTING
            and lead.profile.amd_header
            and lead.command.amd_settings is None  # detection on the audio replaces the carrier's header
        ):
            if prm.e.type == pj.PJSIP_EVENT_TSX_STATE:
                value = parse_headers(prm.e.body.tsxState.src.rdata.wholeMsg).get(
                    lead.profile.amd_header.lower(), ""
                )
                if value.strip().lower() == "machine":
                    lead.answered_by = p.AnsweredBy.MACHINE
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and lead.move(LeadState.ANSWERED):
            self.emit(
                p.Answered(
                    worker_id=self.worker_id,
                    at=_now(),
                    attempt_id=lead.command.attempt_id,
                    answered_by=lead.answered_by,
                )
            )

    def _foreign_response(self, lead: LeadCall, call: SipCall, source: str, status: int) -> None:
        """A response for this lead call came from another address than the trunk's (pjsip matches responses
        by transaction, not by sender): a ring is ignored; an answer or a refusal ends the call as a trunk
        failure (which does not burn the lead), and is never reported as the callee's."""
        log.warning(
            "line worker: SIP %s for %s from %s, not the trunk", status, lead.command.attempt_id, source
        )
        if status < 200:
            return
        lead.foreign_source = source
        if status < 300:
            with contextlib.suppress(pj.Error):
                call.hangup(pj.CallOpParam(True))
            self._end_lead(lead, status, "")  # at once: a BYE to a forged Contact may never be answered

    def _internal_up(self, internal: InternalLeg) -> None:
        internal.media_ready = internal.media_ready or _has_audio(internal.call)
        self._try_internal_bridge(internal)

    def _try_internal_bridge(self, internal: InternalLeg) -> None:
        lead = self.leads.get(internal.attempt_id)
        if lead is None or lead.internal is not internal or lead.call is None or internal.call is None:
            return
        if not internal.media_ready or internal.call.getInfo().state != pj.PJSIP_INV_STATE_CONFIRMED:
            return
        if (
            lead.agent is None
            and lead.agent_id
            and internal.state in (InternalLegState.CALLING, InternalLegState.UP)
        ):
            _connect(lead.call, internal.call)
            internal.state = InternalLegState.BRIDGED
            self._bridged(lead)

    def on_media_state(self, call: SipCall) -> None:
        if not _has_audio(call):
            return
        owner = call.owner
        if isinstance(owner, LeadCall):
            owner.media_ready = True
            if owner.command.amd_settings is not None and not owner.amd_started and not owner.ended:
                self._start_amd(owner)
            if owner.pending_bridge is not None:
                self._complete_bridge(owner, owner.pending_bridge)
            if owner.player is not None:
                owner.player.startTransmit(_audio(call))
        elif isinstance(owner, AgentLeg):
            owner.media_ready = True
        elif isinstance(owner, InternalLeg):
            owner.media_ready = True
            if owner.outgoing:
                self._try_internal_bridge(owner)
            elif owner.agent is not None and owner.agent.call is not None:
                _connect(call, owner.agent.call)

    def on_dtmf(self, call: SipCall, digit: str) -> None:
        lead = call.owner
        if not isinstance(lead, LeadCall) or lead.ended:
            return
        attempt_id = lead.command.attempt_id
        if lead.opt_out_key and digit == lead.opt_out_key:
            self.emit(p.OptOut(worker_id=self.worker_id, at=_now(), attempt_id=attempt_id, digit=digit))
            lead.opt_out_key = ""
            if lead.call is not None:
                with contextlib.suppress(pj.Error):
                    lead.call.hangup(pj.CallOpParam(True))
        else:
            self.emit(p.DtmfReceived(worker_id=self.worker_id, at=_now(), attempt_id=attempt_id, digit=digit))

    def _disconnected(self, call: SipCall, info: Any) -> None:
        # Dropping the last reference to the Call here, inside its DISCONNECTED callback, is what keeps a
        # later destructor from hanging up whichever new call reuses this call id (docs/sip.md).
        self.live_calls.discard(call)
        self.recent_ends.append(time.monotonic())
        owner = call.owner
        if owner is None:  # already handled
            return
        call.owner = None
        if isinstance(owner, LeadCall):
            owner.call = None
            if not owner.ended:
                self._end_lead(owner, info.lastStatusCode, info.lastReason)
        elif isinstance(owner, AgentLeg):
            owner.call = None
            self._agent_leg_down(
                owner, info.lastStatusCode, "released" if owner.released else info.lastReason
            )
        else:
            owner.call = None
            unbridging = owner.state is InternalLegState.UNBRIDGING
            was_bridged = owner.bridged
            owner.state = InternalLegState.DOWN
            if owner.outgoing and unbridging:
                self.emit(
                    p.AgentFree(
                        worker_id=self.worker_id,
                        at=_now(),
                        agent_id=owner.agent_id,
                        attempt_id=owner.attempt_id,
                    )
                )
            elif owner.outgoing:
                lead = self.leads.get(owner.attempt_id)
                if lead is not None and lead.internal is owner and not lead.ended:
                    reason = (
                        "agent leg lost"
                        if was_bridged
                        else f"internal leg: {info.lastStatusCode} {info.lastReason}"
                    )
                    self._bridge_failed(lead, owner.agent_id, reason)
            elif owner.agent is not None:
                if owner.agent.partner is call:
                    owner.agent.partner = None
                owner.agent = None

    def _agent_leg_down(self, agent: AgentLeg, status: int, reason: str) -> None:
        """The agent's leg is gone (or being hung up for good): report it once."""
        if agent.state is AgentLegState.DOWN:
            return
        agent.state = AgentLegState.DOWN
        if self.agents.get(agent.agent_id) is agent:
            del self.agents[agent.agent_id]
        partner = agent.partner
        agent.partner = None
        if partner is not None:
            self._partner_lost_agent(partner, agent.agent_id)
        self.emit(
            p.AgentLegDown(
                worker_id=self.worker_id, at=_now(), agent_id=agent.agent_id, sip_status=status, reason=reason
            )
        )

    def _partner_lost_agent(self, partner: SipCall, agent_id: str) -> None:
        """The agent's phone hung up while bridged: tell the engine the lead lost its agent."""
        owner = partner.owner
        if isinstance(owner, LeadCall):
            owner.agent = None
            self._bridge_failed(owner, agent_id, "agent leg lost")
        elif isinstance(owner, InternalLeg):
            owner.agent = None
            with contextlib.suppress(pj.Error):
                partner.hangup(pj.CallOpParam(True))

    def _end_lead(self, lead: LeadCall, status: int, reason: str) -> None:
        answered = lead.answered
        status, outcome, reason = lead.end_report(status, reason)
        lead.move(LeadState.ENDED)
        self._unbridge(lead)
        self._stop_player(lead)
        self._stop_recording(lead)
        self._stop_amd(lead)
        self.leads.pop(lead.command.attempt_id, None)
        log.info(
            "line worker: call attempt %s ended: %s, SIP %s",
            lead.command.attempt_id,
            getattr(outcome, "value", outcome),
            status,
            extra=_leg_log_fields(lead),
        )
        self.emit(
            p.Ended(
                worker_id=self.worker_id,
                at=_now(),
                attempt_id=lead.command.attempt_id,
                sip_status=status,
                outcome=outcome,
                reason=reason,
                sip_call_id=lead.sip_call_id,
                answered=answered,
            )
        )

    # ------------------------------------------------------------------------------------- shutdown

    def _shutdown(self) -> None:
        for call in list(self.live_calls):
            with contextlib.suppress(pj.Error):
                call.hangup(pj.CallOpParam(True))
        deadline = time.monotonic() + 1.0
        while self.live_calls and time.monotonic() < deadline:
            self.ep.libHandleEvents(10)
        self.flush()
        for lead in self.leads.values():
            self._stop_amd(lead)
            lead.player = None
            lead.call = None
        self.recordings.clear()
        self.leads.clear()
        self.agents.clear()
        self.waiting.clear()
        self.timers.clear()
        self.live_calls.clear()  # every Call must be gone before libDestroy or the process aborts
        self.trunk_accounts.clear()
        del self.local_account
        del self.refusal_account
        self.channel.close()
        if self.amd_dir is not None:
            shutil.rmtree(self.amd_dir, ignore_errors=True)
        # Calls were hung up and their BYEs answered above; without NO_RX_MSG pjsua sleeps ~1 s more.
        self.ep.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)


_BRIDGE_TOKEN_KEY = BRIDGE_TOKEN_HEADER.lower()
_AGENT_KEY = AGENT_HEADER.lower()
_ATTEMPT_KEY = ATTEMPT_HEADER.lower()


def _command_log_fields(command: p.Command) -> dict[str, object]:
    if isinstance(command, p.DialLead):
        return {
            "attempt_id": command.attempt_id,
            "campaign_id": command.campaign_id or None,
            "lead_id": command.lead_id,
        }
    return {
        "attempt_id": getattr(command, "attempt_id", None),
        "agent_id": getattr(command, "agent_id", None),
    }


def _command_key(command: p.Command) -> str:
    return str(getattr(command, "attempt_id", "") or getattr(command, "agent_id", ""))


def _response_source(prm: Any) -> str:
    """`ip:port` the SIP response behind a call-state change came from; "" if it was not a received response."""
    event = prm.e
    if event.type != pj.PJSIP_EVENT_TSX_STATE:
        return ""
    tsx_state = event.body.tsxState
    if tsx_state.type != pj.PJSIP_EVENT_RX_MSG:
        return ""
    rdata = tsx_state.src.rdata
    return response_source(rdata.wholeMsg, str(rdata.srcAddress))


class CallRecording:
    """One lead call's recording: the announcement player while it plays, then the recorder."""

    def __init__(self, order: p.RecordCall) -> None:
        self.order = order
        self.announcer: pj.AudioMediaPlayer | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.announced = False
        self.started_at = 0.0
        self.error = ""


def _partner_call(lead: LeadCall) -> SipCall | None:
    """The call the lead is bridged to: the agent's leg on this worker, or the internal leg to theirs."""
    if lead.agent is not None and lead.agent.call is not None:
        return lead.agent.call
    if lead.internal is not None and lead.internal.call is not None:
        return lead.internal.call
    return None


def _error_text(exc: Exception) -> str:
    return str(getattr(exc, "reason", "") or exc)  # pj.Error carries its text in `reason`


def _audio(call: SipCall | None) -> pj.AudioMedia:
    assert call is not None
    return call.getAudioMedia(-1)


def _has_audio(call: SipCall | None) -> bool:
    if call is None:
        return False
    try:
        info = call.getInfo()
    except pj.Error:
        return False
    return any(m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE for m in info.media)


def _connect(a: SipCall, b: SipCall) -> None:
    media_a, media_b = _audio(a), _audio(b)
    media_a.startTransmit(media_b)
    media_b.startTransmit(media_a)


def _disconnect(a: SipCall, b: SipCall) -> None:
    with contextlib.suppress(pj.Error):
        media_a, media_b = _audio(a), _audio(b)
        media_a.stopTransmit(media_b)
        media_b.stopTransmit(media_a)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Clearline line worker (one pjsua2 endpoint)")
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--pool", default="default")
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--sip-port", type=int, default=0)
    parser.add_argument("--rtp-port", type=int, default=0)
    parser.add_argument("--max-calls", type=int, default=MAX_WORKER_CALLS)
    parser.add_argument("--profiles-dir", type=Path)
    args = parser.parse_args(argv)
    configure_logging(logging.INFO)  # JSON lines when CLEARLINE_LOG_FORMAT=json
    metrics.configure_inherited()  # its gauges reach GET /metrics through the supervisor's directory
    log_scrub.install()  # no phone number in a line, whichever library logs it (pjsua2's own glue too)
    add_process_field("worker_id", args.worker_id)
    worker = LineWorker(
        redis_url=args.redis_url,
        pool=args.pool,
        worker_id=args.worker_id,
        host=args.host,
        sip_port=args.sip_port,
        rtp_port=args.rtp_port,
        max_calls=args.max_calls,
        profiles_dir=args.profiles_dir,
    )

    def stop(signum: int, frame: object) -> None:
        worker.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    watch_parent(lambda: setattr(worker, "running", False))  # the supervisor died (even by kill -9)
    worker.run()


if __name__ == "__main__":
    main()
