"""`clearline simulate`: run a shift in the simulator and print its figures."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
