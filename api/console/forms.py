"""Reading console forms into the values the domain services take. This is decoding only (text to
numbers, lists, times), the console's counterpart of the API's JSON schemas: every rule about the values
themselves stays in the service (`campaigns.service.apply_settings` and friends), which the API calls too.

Decoding collects every unreadable field at once, so the form shows all of them next to their fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from campaigns.recycle import DEFAULT_RULES, RECYCLABLE
from core.errors import ValidationError

RECYCLE_OUTCOMES = sorted(RECYCLABLE)


@dataclass
class FormErrors:
    """Messages per form field; `field_of` maps a domain error's field to the form field showing it."""

    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, message)

    def add_error(self, exc: ValidationError) -> None:
        name = exc.field or "form"
        if name not in FIELD_ALIASES and name.startswith("amd_settings."):
            name = "amd_thresholds"  # a threshold's error shows under the thresholds' JSON
        self.add(FIELD_ALIASES.get(name, name), str(exc))

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def messages(self) -> list[str]:
        return list(self.by_field.values())

    def get(self, name: str) -> str:
        return self.by_field.get(name, "")


# Domain error fields that the form shows under another control.
FIELD_ALIASES = {
    "abandon_target": "abandon_target_pct",  # the form asks for a percentage
    "calling_window": "calling_window_start",
    "agent_ids": "agents",
    "code": "disposition_code",
    "amd_settings": "amd_thresholds",
    "amd_settings.enabled": "amd_enabled",
    "amd_settings.voicemail_drop": "amd_voicemail_drop",
}
# The campaign form's AMD selects; any other value is handed on as typed, for the domain to refuse.
AMD_SWITCH = {"true": True, "false": False}


def split_list(text: str, *, upper: bool) -> list[str]:
    """A comma-, space- or line-separated list; codes are upper-cased, other items (CIDRs) kept as typed."""
    items = [t for t in text.replace(",", " ").split() if t]
    return [t.upper() for t in items] if upper else items


def utc_day(text: str, name: str, *, end: bool = False) -> datetime | None:
    """A date field (YYYY-MM-DD, a UTC day) as a range bound: the day's start, or with `end` the next
    day's start (the day is included); empty is None."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"{name} {text!r} is not a date (YYYY-MM-DD)", field=name) from exc
    return datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)


class _Reader:
    def __init__(self, form: Mapping[str, str], errors: FormErrors) -> None:
        self.form, self.errors = form, errors

    def text(self, name: str) -> str:
        return str(self.form.get(name, "")).strip()

    def optional_text(self, name: str) -> str | None:
        return self.text(name) or None

    def number(self, name: str, *, optional: bool = False, scale: float = 1.0) -> float | None:
        raw = self.text(name)
        if not raw and optional:
            return None
        try:
            return float(raw) * scale
        except ValueError:
            self.errors.add(name, f"{raw!r} is not a number")
            return None

    def integer(self, name: str, *, optional: bool = False) -> int | None:
        raw = self.text(name)
        if not raw and optional:
            return None
        try:
            return int(raw)
        except ValueError:
            self.errors.add(name, f"{raw!r} is not a whole number")
            return None

    def codes(self, name: str) -> list[str]:
        """A comma- or space-separated list, upper-cased (country, state codes; area codes)."""
        return split_list(self.text(name), upper=True)

    def time(self, name: str) -> str | None:
        return self.text(name) or None  # HH:MM from <input type=time>; the service parses and checks it

    def json_object(self, name: str) -> dict[str, Any] | None:
        raw = self.text(name) or "{}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            self.errors.add(name, f"not valid JSON ({exc.msg} at character {exc.pos})")
            return None
        if not isinstance(value, dict):
            self.errors.add(name, 'must be a JSON object, like {"target_wait_s": 5}')
            return None
        return value


def campaign_settings(form: Mapping[str, str], errors: FormErrors) -> dict[str, Any]:
    """The campaign form as `create_campaign`/`update_campaign` settings (name included)."""
    r = _Reader(form, errors)
    settings: dict[str, Any] = {
        "name": r.text("name"),
        "dial_method": r.text("dial_method"),
        "pacing_policy": r.text("pacing_policy"),
        "trunk_profile": r.text("trunk_profile"),
        "caller_id_mode": r.text("caller_id_mode"),
        "caller_id": r.optional_text("caller_id"),
        "calling_window_start": r.time("calling_window_start"),
        "calling_window_end": r.time("calling_window_end"),
        "allowed_countries": r.codes("allowed_countries"),
        "blocked_states": r.codes("blocked_states"),
        "blocked_area_codes": r.codes("blocked_area_codes"),
        "default_region": r.text("default_region").upper(),
        "dedupe_scope": r.text("dedupe_scope"),
        "opt_out_key": r.text("opt_out_key"),
        "seller": r.text("seller"),  # empty: the organization itself (the service stores None)
        "safe_harbor_callback_number": r.optional_text("safe_harbor_callback_number"),
        "timeout_disposition": r.text("timeout_disposition").upper(),
        "pause_codes": r.codes("pause_codes"),
    }
    if "recording_mode" in form:
        settings["recording_mode"] = r.text("recording_mode")
    if "amd_enabled" in form:  # a form from before the setting keeps the campaign's
        thresholds = r.json_object("amd_thresholds")
        if thresholds is not None:  # checked by the service, as the API's amd_settings (dialer.media.amd)
            settings["amd_settings"] = {
                **thresholds,
                "enabled": AMD_SWITCH.get(r.text("amd_enabled"), r.text("amd_enabled")),
                "voicemail_drop": AMD_SWITCH.get(r.text("amd_voicemail_drop"), r.text("amd_voicemail_drop")),
            }
    if "agent_callback_fallback" in form:  # a form from before the setting keeps the campaign's
        settings["agent_callback_fallback"] = r.text("agent_callback_fallback")
    numbers = {
        "abandon_target": r.number("abandon_target_pct", scale=0.01),  # the form asks for a percentage
        "max_lines_per_agent": r.number("max_lines_per_agent"),
        "max_cps": r.number("max_cps", optional=True),
        "max_lines": r.integer("max_lines", optional=True),
        "max_attempts": r.integer("max_attempts"),
        "wrap_up_s": r.integer("wrap_up_s"),
        "pacing_settings": r.json_object("pacing_settings"),
        "agent_callback_window_min": r.integer("agent_callback_window_min")
        if "agent_callback_window_min" in form
        else None,
    }
    settings.update({k: v for k, v in numbers.items() if v is not None or k in ("max_cps", "max_lines")})
    if "abandon_target" in settings and settings["abandon_target"] is not None:
        settings["abandon_target"] = round(settings["abandon_target"], 6)
    rules: dict[str, dict[str, int]] = {}
    for outcome in RECYCLE_OUTCOMES:
        delay_min = r.integer(f"recycle_{outcome}_delay_min")
        attempts = r.integer(f"recycle_{outcome}_max")
        if delay_min is not None and attempts is not None:
            rules[outcome] = {"delay_s": delay_min * 60, "max_attempts": attempts}
    settings["recycle_rules"] = rules
    return settings


def recycle_rows(configured: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each recyclable outcome with its rule as the campaign has it (defaults where it says nothing)."""
    rows = []
    for outcome in RECYCLE_OUTCOMES:
        rule = configured.get(outcome)
        default = DEFAULT_RULES[outcome]
        delay_s = int(rule["delay_s"]) if rule else default.delay_s
        attempts = int(rule["max_attempts"]) if rule else default.max_attempts
        rows.append({"outcome": outcome, "delay_min": delay_s // 60, "max_attempts": attempts})
    return rows
