"""Media shipped with the dialer: the default safe-harbor message played when no agent is free in 2 s.

`safe_harbor_default.wav` is 8 kHz mono 16-bit PCM (what the conference bridge runs at, so no
resampling). It is a synthesized chime sequence (see `generate.py`) that names no seller: a campaign
with a `safe_harbor_callback_number` gets a spoken message instead (`speech.py`, espeak-ng), or plays
the recording it uploaded (`safe_harbor.py`), which the line worker plays the same way.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SAFE_HARBOR_WAV = Path(__file__).resolve().parent / "safe_harbor_default.wav"
# "This call is being recorded." (espeak-ng, 8 kHz mono): played when the agent is connected to a call
# into an all-party-consent state, before the recording starts (dnc.recording_consent).
RECORDING_ANNOUNCEMENT_WAV = Path(__file__).resolve().parent / "recording_announcement.wav"
