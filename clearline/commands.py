"""Domain command groups, each defined next to the code it drives, collected for `clearline`."""

from __future__ import annotations

import click

import attestation.cli
import campaigns.cli
import clearline.demo
import dialer.campaign_settings  # registers the dialer's checks of campaign settings
import dialer.cli
import dialer.media.cli
import dialer.simulation.cli
import dnc.cli

ALL: list[click.Command] = [
    *dnc.cli.COMMANDS,
    *attestation.cli.COMMANDS,
    *campaigns.cli.COMMANDS,
    *dialer.cli.COMMANDS,
    *dialer.simulation.cli.COMMANDS,
    *dialer.media.cli.COMMANDS,
    clearline.demo.demo,
]
