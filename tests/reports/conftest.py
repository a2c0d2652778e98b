"""The report tests over real SIP use the engine tests' sandbox floor."""

from tests.engine.conftest import (  # noqa: F401 - the sandbox floor fixtures
    certificates,
    national_registry,
    sandbox,
)
