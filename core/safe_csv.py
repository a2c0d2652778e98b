"""CSV that is safe to open in a spreadsheet: cells that a spreadsheet would run as a formula are
neutralised with a leading apostrophe (OWASP "CSV injection"); plain signed numbers are left alone."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

_FORMULA_START = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[\d\s().-]+")


def neutralize(value: str) -> str:
    if value and value[0] in _FORMULA_START and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose every text cell goes through `neutralize`."""

    def __init__(self, fh: TextIO) -> None:
        self._writer = csv.writer(fh)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow(
            [neutralize(cell) if isinstance(cell, str) else ("" if cell is None else cell) for cell in row]
        )
