"""`clearline` commands of the dnc package."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
