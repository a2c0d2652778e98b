"""The campaign settings only the dialer can check: the trunk profile, the pacing policy and its settings,
the safe-harbor message. Registered with `campaigns.service` (which stays below `dialer/`) so every create
and update, from the API, the console or the CLI, is checked the moment it is written, and the engine builds
a campaign's pacing policy with the same function that validated it."""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path
from typing import Any

from campaigns.models import Campaign, DialMethod
from campaigns.service import register_settings_validator
from core.errors import ValidationError
from dialer import pacing
from dialer.media.amd import campaign_amd
from dialer.pacing.baselines import ProgressivePolicy
from dialer.pacing.guard import MAX_GUARD_LIMIT, guarded
from dialer.sip.profiles import PROFILES_DIR, RING_TIMEOUT_FLOOR_S, ProfileError, TrunkProfile, load_profile

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
# Settings the engine gives a policy itself (the abandon budget is an object, the others are campaign
# settings of their own); pacing_settings may not set them.
ENGINE_PROVIDED = frozenset({"budget", "abandon_target", "max_lines", "max_cps", "ring_timeout_s"})
_PROVIDED_NAMES: set[str] = set()


def provide_profile_name(name: str) -> None:
    """A profile this process writes itself when it runs (the sandbox's loopback carrier on free ports)."""
    _PROVIDED_NAMES.add(name)


def profile_names(profiles_dir: Path | None = None) -> list[str]:
    """Every trunk profile a campaign may name."""
    directory = profiles_dir or PROFILES_DIR
    return sorted({p.stem for p in directory.glob("*.toml") if PROFILE_NAME.match(p.stem)} | _PROVIDED_NAMES)


def check_profile_name(name: Any, profiles_dir: Path | None = None) -> str:
    """A trunk profile name: a plain name (never a path) of a profile that exists."""
    known = profile_names(profiles_dir)
    if not isinstance(name, str) or not PROFILE_NAME.match(name):
        raise ValidationError(
            f"trunk_profile {name} is not a profile name (letters, digits, - and _; no paths); "
            f"the profiles are {', '.join(known)}",
            field="trunk_profile",
        )
    if name not in known:
        raise ValidationError(
            f"there is no trunk profile {name}; the profiles are {', '.join(known)} "
            "(add one to sip_profiles/, see generic-template.toml)",
            field="trunk_profile",
        )
    return name


def dialing_policy_name(campaign: Campaign) -> str:
    """The pacing policy a campaign dials with: its dial method decides. Progressive dials one call per
    READY agent whatever `pacing_policy` says; predictive dials ahead of the agents as its
    `pacing_policy` (predictive, ratio, vicidial-adaptive, ...) paces it, under the abandon guard."""
    if campaign.dial_method == DialMethod.PROGRESSIVE.value:
        return ProgressivePolicy.name
    return campaign.pacing_policy


def policy_settings(
    campaign: Campaign, budget: pacing.AbandonBudget, ring_timeout_s: float
) -> dict[str, Any]:
    """The keyword arguments of the campaign's pacing policy: its own pacing_settings plus what the
    engine provides (abandon target under the legal limit, the budget, ring timeout, line and CPS caps).
    The pacing_settings are those of `pacing_policy`: not used when the dial method picks another."""
    name = dialing_policy_name(campaign)
    policy_class = pacing.POLICIES[name]
    accepted = set(inspect.signature(policy_class.__init__).parameters)
    settings = dict(campaign.pacing_settings or {}) if name == campaign.pacing_policy else {}
    offered = {
        "abandon_target": min(campaign.abandon_target, MAX_GUARD_LIMIT),
        "budget": budget,
        "ring_timeout_s": ring_timeout_s,
        "max_lines": campaign.max_lines,
        "max_cps": campaign.max_cps,
    }
    for name, value in offered.items():
        if name in accepted and value is not None:
            settings.setdefault(name, value)
    return settings


def build_policy(
    campaign: Campaign, budget: pacing.AbandonBudget, ring_timeout_s: float
) -> pacing.PacingPolicy:
    """The campaign's pacing policy, as the engine runs it: under the abandon guard (the 3% rule), which
    also counts live answers and drops into the budget when the policy does not keep it itself."""
    if campaign.pacing_policy not in pacing.POLICIES:
        raise ValidationError(_unknown_policy(campaign.pacing_policy), field="pacing_policy")
    settings = policy_settings(campaign, budget, ring_timeout_s)
    bare = pacing.make_policy(dialing_policy_name(campaign), **settings)
    return guarded(
        bare,
        budget,
        limit=min(campaign.abandon_target, MAX_GUARD_LIMIT),
        policy_feeds_budget="budget" in settings,
    )


def _unknown_policy(name: Any) -> str:
    return f"there is no pacing policy {name}; the policies are {', '.join(sorted(pacing.POLICIES))}"


def _check_pacing(campaign: Campaign) -> None:
    if campaign.pacing_policy not in pacing.POLICIES:
        raise ValidationError(_unknown_policy(campaign.pacing_policy), field="pacing_policy")
    policy_class = pacing.POLICIES[campaign.pacing_policy]
    accepted = sorted(set(inspect.signature(policy_class.__init__).parameters) - {"self"} - ENGINE_PROVIDED)
    for name, value in (campaign.pacing_settings or {}).items():
        if name not in accepted:
            listed = ", ".join(accepted) if accepted else "none"
            raise ValidationError(
                f"pacing policy {campaign.pacing_policy} has no setting {name}; its settings are {listed}",
                field=f"pacing_settings.{name}",
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(
                f"pacing_settings.{name} must be a number, not {value}", field=f"pacing_settings.{name}"
            )
    try:
        build_policy(campaign, pacing.AbandonBudget(), RING_TIMEOUT_FLOOR_S)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ValidationError(f"pacing_settings: {exc}", field="pacing_settings") from exc


def validate_campaign_settings(campaign: Campaign, changed: frozenset[str]) -> None:
    """The dialer's checks of the settings being changed (see `campaigns.service.register_settings_validator`)."""
    if "trunk_profile" in changed:
        check_profile_name(campaign.trunk_profile)
    if changed & {
        "pacing_policy",
        "pacing_settings",
        "abandon_target",
        "max_lines",
        "max_cps",
        "dial_method",
    }:
        _check_pacing(campaign)
    if "amd_settings" in changed:
        campaign_amd(campaign.amd_settings or {})


def campaign_profile(campaign: Campaign, profiles_dir: Path | None = None) -> TrunkProfile:
    """The campaign's trunk profile, loaded and validated (ProfileError names the file and the rule)."""
    try:
        return load_profile(campaign.trunk_profile, profiles_dir)
    except ProfileError:
        raise
    except OSError as exc:
        raise ProfileError(
            f"trunk profile {campaign.trunk_profile} cannot be read: {exc}", field="trunk"
        ) from exc


register_settings_validator(validate_campaign_settings)
