"""Domain command groups, each defined next to the code it drives, collected for `clearline`."""

from __future__ import annotations

import click

ALL: list[click.Command] = []
