"""Whether a call may be recorded, and whether the recording announcement plays first: the states whose
law requires every party's consent come from the one data file `dnc/recording_consent.toml` (with their
sources), and `recording_plan` is the one decision, a plain function of the campaign's mode and the
called party's states.

The states of a called party are every state we can place them in: the lead's own `state` column, the
state of its ZIP code, and the state of the number's area code (a mobile number keeps the area code of
wherever it was issued, so the called person may be in either). Any one of them requiring all-party
consent, or no state known at all, counts as all-party: the safe side of a criminal statute.

Modes (campaign setting `recording_mode`):
- `off`: never recorded.
- `on`: recorded without an announcement, so only where one-party consent (the agent's) suffices; a call
  into an all-party-consent state is not recorded, and the attempt says why.
- `announced`: where all-party consent is required the announcement plays to the called party when the
  agent is connected and the recording starts once it has played (staying on the line after being told is
  consent in every all-party state); elsewhere the call is recorded from the bridge without it.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import ValidationError

CONSENT_FILE = Path(__file__).with_name("recording_consent.toml")
_STATE_KEYS = frozenset({"name", "citation", "url", "note"})


class RecordingMode(enum.StrEnum):
    OFF = "off"
    ON = "on"
    ANNOUNCED = "announced"


@dataclass(frozen=True)
class AllPartyState:
    code: str
    name: str
    citation: str
    url: str
    note: str = ""


@dataclass(frozen=True)
class RecordingPlan:
    record: bool
    announce: bool
    reason: str  # in words, stored on the attempt: why it is (not) recorded, and under which rule


def _fail(where: str, field: str, value: object, rule: str) -> ValidationError:
    return ValidationError(f"{CONSENT_FILE.name}: {where}: {field}={value!r}: {rule}", field=field)


def parse_consent_rules(data: dict[str, object]) -> dict[str, AllPartyState]:
    """The all-party-consent states of a parsed `recording_consent.toml`; a bad entry is refused by name."""
    states: dict[str, AllPartyState] = {}
    for code, entry in data.items():
        if code == "as_of":
            continue
        if len(code) != 2 or not code.isupper() or not code.isalpha():
            raise _fail(code, "state", code, "a two-letter state code")
        if not isinstance(entry, dict):
            raise _fail(code, "entry", entry, "each state is a table { name, citation, url, note? }")
        unknown = sorted(set(entry) - _STATE_KEYS)
        if unknown:
            raise _fail(
                code,
                unknown[0],
                entry[unknown[0]],
                f"unknown field (known: {', '.join(sorted(_STATE_KEYS))})",
            )
        for field in ("name", "citation", "url"):
            value = entry.get(field)
            if not isinstance(value, str) or not value.strip():
                raise _fail(code, field, value, "required: every state names its law and where to read it")
        if not str(entry["url"]).startswith(("https://", "http://")):
            raise _fail(code, "url", entry["url"], "a web address of the source")
        states[code] = AllPartyState(
            code=code,
            name=str(entry["name"]),
            citation=str(entry["citation"]),
            url=str(entry["url"]),
            note=str(entry.get("note", "")),
        )
    return states


@lru_cache(maxsize=1)
def all_party_states() -> dict[str, AllPartyState]:
    with CONSENT_FILE.open("rb") as handle:
        return parse_consent_rules(tomllib.load(handle))


def number_state(e164: str) -> str:
    """The US state of a NANP number's area code ('' when not a US geographic code)."""
    if not e164.startswith("+1") or len(e164) != 12 or not e164[2:].isdigit():
        return ""
    from dnc.nanp import numbering_plan  # loaded once; not needed by callers that only read the list

    return numbering_plan().npa_state[int(e164[2:5])]


def called_party_states(*, e164: str, state: str | None, zip_code: str | None) -> tuple[str, ...]:
    """Every state the called party may be in (see the module's docstring), without repeats."""
    from dnc.nanp import state_of_zip

    found = [(state or "").strip().upper(), state_of_zip(zip_code), number_state(e164)]
    return tuple(dict.fromkeys(s for s in found if s))


def recording_plan(mode: str, states: Iterable[str]) -> RecordingPlan:
    """Record this call? Announce first? The one rule (see the module's docstring)."""
    mode = RecordingMode(mode)
    if mode is RecordingMode.OFF:
        return RecordingPlan(False, False, "recording off for this campaign")
    states = tuple(states)
    rules = all_party_states()
    strict = [s for s in states if s in rules]
    if strict:
        why = "; ".join(f"{s}: {rules[s].citation}" for s in strict)
    elif not states:
        why = "the called party's state is unknown (treated as all-party consent)"
    else:
        return RecordingPlan(True, False, f"one-party consent suffices in {', '.join(states)}")
    if mode is RecordingMode.ON:
        return RecordingPlan(
            False, False, f"not recorded: all-party consent required without announcement ({why})"
        )
    return RecordingPlan(True, True, f"announced, then recorded: all-party consent required ({why})")
