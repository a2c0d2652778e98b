"""dramatiq actors of the dnc package."""

from __future__ import annotations

import core.broker  # noqa: F401 - the broker must exist before actors are declared
