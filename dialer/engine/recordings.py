"""The engine's side of call recording: what each dial asks the line worker to record, and the storing
of what it recorded, off the event thread.

At dial time `order_for` applies the one rule (`dnc.recording_consent.recording_plan`) to the campaign's
`recording_mode` and the lead's states, and gives the `RecordCall` the `DialLead` carries (or None). A
call the campaign would record but may not (an all-party-consent state without announcement) gets a
`not_recorded` row once it is bridged, saying why. `RecordingSaved` from the worker is encrypted and stored
by a writer thread of its own (`campaigns.recordings.store_recording`), so that a long recording never
delays the evidence writes of other calls.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from pathlib import Path

from campaigns import recordings
from campaigns.hopper import LeasedLead
from core.processes import owner_tag, sweep_dead_owners
from core.runtime import Runtime
from dialer.engine.recorder import Recorder
from dialer.media import RECORDING_ANNOUNCEMENT_WAV
from dialer.sip import protocol as p
from dnc.recording_consent import RecordingMode, called_party_states, recording_plan

log = logging.getLogger(__name__)
SPOOL_PREFIX = "supervisor-"  # spool_dir(home)/supervisor-<host>.<pid>: one supervisor's recordings


def sweep_recording_spool(home: Path) -> list[Path]:
    """At a supervisor's start: remove what supervisors of this host killed before storing it left in
    the spool (their directories, and WAVs of the layout before per-supervisor directories, which no
    running supervisor writes). Those calls' rows were left as they were: the audio is not stored."""
    spool = recordings.spool_dir(home)
    removed = sweep_dead_owners(spool, SPOOL_PREFIX)
    for old in spool.glob("*.wav") if spool.is_dir() else ():
        old.unlink(missing_ok=True)
        log.warning("removed recording spool file %s (left by a supervisor that was killed)", old)
        removed.append(old)
    return removed


class EngineRecordings:
    def __init__(self, runtime: Runtime, *, spool: Path | None = None) -> None:
        self.runtime = runtime
        self.spool = spool or recordings.spool_dir(runtime.settings.home) / f"{SPOOL_PREFIX}{owner_tag()}"
        self.writer = Recorder("recording-writer")
        self.not_recorded: dict[str, str] = {}  # attempt id -> why, until bridged or ended
        self.ordered: dict[str, str] = {}  # attempt id -> spool path, until its RecordingSaved or end
        self.stored = 0
        self.failed = 0

    def order_for(self, mode: str, lead: LeasedLead, attempt_id: str) -> p.RecordCall | None:
        if mode == RecordingMode.OFF.value:
            return None
        states = called_party_states(e164=lead.e164, state=lead.state, zip_code=lead.zip_code)
        plan = recording_plan(mode, states)
        if not plan.record:
            self.not_recorded[attempt_id] = plan.reason
            return None
        self.ordered[attempt_id] = wav_path = str(self.spool / f"{attempt_id}.wav")
        return p.RecordCall(
            wav_path=wav_path,
            announcement_wav=str(RECORDING_ANNOUNCEMENT_WAV) if plan.announce else "",
        )

    def on_event(self, event: p.Event) -> None:
        """Bridged (a call that may not be recorded says why), RecordingSaved (store it), Ended."""
        if isinstance(event, p.Bridged):
            reason = self.not_recorded.pop(event.attempt_id, None)
            if reason is not None:
                self.writer.submit(
                    recordings.note_not_recorded, self.runtime.db, uuid.UUID(event.attempt_id), reason
                )
        elif isinstance(event, p.RecordingSaved):
            self.ordered.pop(event.attempt_id, None)
            done = recordings.FinishedRecording(
                attempt_id=uuid.UUID(event.attempt_id),
                wav_path=Path(event.wav_path),
                started_at=event.started_at,
                ended_at=event.at,
                announced=event.announced,
                error=event.error,
            )
            self.writer.submit(self._store, done)
        elif isinstance(event, p.Ended):  # a call never bridged was never recorded: nothing to say
            self.not_recorded.pop(event.attempt_id, None)
            self.ordered.pop(event.attempt_id, None)
        elif isinstance(event, p.WorkerDied):
            for attempt_id in event.attempt_ids:
                self.not_recorded.pop(attempt_id, None)
                wav_path = self.ordered.pop(attempt_id, None)
                if wav_path is not None and Path(wav_path).exists():  # it was recording when it died
                    Path(wav_path).unlink(missing_ok=True)
                    self.writer.submit(
                        recordings.note_not_recorded,
                        self.runtime.db,
                        uuid.UUID(attempt_id),
                        "recording lost: the line worker died during the call (its unfinished file was discarded)",
                        failed=True,
                    )

    def _store(self, done: recordings.FinishedRecording) -> None:
        row = recordings.store_recording(
            self.runtime.db, self.runtime.files, self.runtime.settings.secret_key, done
        )
        if row.status == "recorded":
            self.stored += 1
        else:
            self.failed += 1

    def flush(self, timeout_s: float = 30.0) -> bool:
        return self.writer.flush(timeout_s)

    def close(self) -> None:
        self.writer.close()
        if self.spool.name.startswith(SPOOL_PREFIX):  # our own directory: gone once nothing waits in it
            # not there (nothing recorded), or a recording not stored: kept for the next start's sweep
            with contextlib.suppress(OSError):
                self.spool.rmdir()
