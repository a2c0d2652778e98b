"""dramatiq actors of the campaigns package."""

from __future__ import annotations

import core.broker  # noqa: F401 - the broker must exist before actors are declared
