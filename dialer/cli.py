"""`clearline` commands of the dialer package."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
