"""Reading a recording for AMD: 8 or 16 kHz mono 16-bit PCM WAV, or a clear error saying what it is."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

from dialer.media.amd import SUPPORTED_RATES, AmdError

# WAVE format codes a telephony recording may carry (the RIFF header's fmt chunk)
FORMAT_NAMES = {
    1: "PCM",
    3: "IEEE float",
    6: "G.711 A-law",
    7: "G.711 mu-law",
    0x11: "IMA ADPCM",
    0x31: "GSM 6.10",
}
CONVERT = "convert it with: sox IN.wav -r 8000 -c 1 -b 16 -e signed OUT.wav"


def _format_code(path: Path) -> int | None:
    with path.open("rb") as fh:
        head = fh.read(4096)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    at = 12
    while at + 8 <= len(head):
        chunk, size = head[at : at + 4], struct.unpack("<I", head[at + 4 : at + 8])[0]
        if chunk == b"fmt " and at + 10 <= len(head):
            return int(struct.unpack("<H", head[at + 8 : at + 10])[0])
        at += 8 + size + (size & 1)
    return None


def read_pcm_wav(path: Path) -> tuple[bytes, int]:
    """(16-bit little-endian samples, sample rate) of a mono 8 or 16 kHz PCM WAV file."""
    if not path.is_file():
        raise AmdError(f"{path}: no such file")
    code = _format_code(path)
    if code is None:
        raise AmdError(f"{path}: not a WAV file (no RIFF/WAVE header); {CONVERT}")
    if code not in (1, 0xFFFE):
        name = FORMAT_NAMES.get(code, f"format code {code}")
        raise AmdError(f"{path}: {name} WAV; AMD reads 16-bit PCM WAV, {CONVERT}")
    try:
        with wave.open(str(path), "rb") as src:
            channels, width, rate = src.getnchannels(), src.getsampwidth(), src.getframerate()
            frames = src.readframes(src.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AmdError(f"{path}: unreadable WAV ({exc or 'truncated'}); {CONVERT}") from exc
    if channels != 1:
        raise AmdError(f"{path}: {channels} channels; AMD reads mono (the callee's leg alone), {CONVERT}")
    if width != 2:
        raise AmdError(f"{path}: {width * 8}-bit samples; AMD reads 16-bit PCM, {CONVERT}")
    if rate not in SUPPORTED_RATES:
        raise AmdError(f"{path}: {rate} Hz; AMD reads 8000 or 16000 Hz audio, {CONVERT}")
    return frames, rate


class GrowingWav:
    """New samples of a WAV file that is still being written (a pjsua2 `AudioMediaRecorder` in tmpfs).

    The recorder writes the RIFF header first with its sizes not yet filled in and appends the samples in
    blocks; `read_new()` returns the whole 16-bit samples added since the last call (a half sample waits for
    the next). The header must be 16-bit mono PCM, as the recorder writes it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        with self.path.open("rb") as fh:
            head = fh.read(512)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AmdError(f"{self.path}: not a WAV file (no RIFF/WAVE header)")
        at, self.data_offset, rate, channels, bits = 12, -1, 0, 0, 0
        while at + 8 <= len(head):
            chunk, size = head[at : at + 4], struct.unpack("<I", head[at + 4 : at + 8])[0]
            if chunk == b"fmt ":
                _code, channels, rate = struct.unpack("<HHI", head[at + 8 : at + 16])
                bits = struct.unpack("<H", head[at + 22 : at + 24])[0]
            elif chunk == b"data":
                self.data_offset = at + 8
                break
            at += 8 + size + (size & 1)
        if self.data_offset < 0 or channels != 1 or bits != 16:
            raise AmdError(
                f"{self.path}: expected a 16-bit mono PCM WAV header, found {channels} ch {bits} bit"
            )
        self.rate = rate
        self._position = self.data_offset
        self.samples_read = 0

    def read_new(self) -> bytes:
        with self.path.open("rb") as fh:
            fh.seek(self._position)
            data = fh.read()
        data = data[: len(data) - len(data) % 2]
        self._position += len(data)
        self.samples_read += len(data) // 2
        return data
