"""Every dramatiq actor module, so that `clearline worker` (and tests) load all of them at once."""

from __future__ import annotations

import importlib

import core.broker  # noqa: F401 - installs the broker before any actor is declared
from core.audit_context import set_process

set_process("clearline worker")  # audit rows of changes made outside a job name this process

ACTOR_MODULES: tuple[str, ...] = ("dnc.tasks", "campaigns.tasks", "core.webhooks.tasks", "dialer.account_privacy")

for _name in ACTOR_MODULES:
    importlib.import_module(_name)
