"""`clearline` commands of the campaigns package."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
