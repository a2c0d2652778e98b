"""Media shipped with the dialer: the default safe-harbor message played when no agent is free in 2 s.

`safe_harbor_default.wav` is 8 kHz mono 16-bit PCM (what the conference bridge runs at, so no
resampling). No text-to-speech engine was available when it was made, so it is a synthesized chime
sequence (see `generate.py`); campaigns should set their own recorded message (identifying the seller
and giving the opt-out key), which the line worker plays the same way.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SAFE_HARBOR_WAV = Path(__file__).resolve().parent / "safe_harbor_default.wav"
