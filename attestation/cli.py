"""`clearline` commands of the attestation package."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
