"""Issue 18, "done when": schemathesis generates requests from the API's own OpenAPI document, as an
org admin and as an agent, and no answer is a 5xx or contradicts the document (status codes, content
types, bodies). Bounded: CASES_PER_CLASS generated cases per class of operation (reads, writes) and
role, spread over the class's operations; a fixed seed keeps CI reproducible."""

from __future__ import annotations

import re
import time
from collections import Counter

import hypothesis
import pytest
import schemathesis
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from attestation.certificate_store import trust_anchors_path
from core.db import ALL_ORGS
from core.models import User
from core.runtime import Runtime
from core.security import issue_token
from tests.attestation.samples import sample_ca
from tests.conftest import Tenant, job_worker, make_tenant
from tests.tenancy_samples import World

CASES_PER_CLASS = 400
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# The values behind the probe's 500s: NUL in a string, integers beyond 64 bits (and beyond 32), dates
# at the ends of the calendar, a float that overflows, an over-long string.
HOSTILE: list[object] = ["x\x00y", 2**63, -(2**63) - 1, 99999999999, "0001-01-01T00:00:00Z",
                         "9999-12-31T23:59:59Z", 1e308, "é" * 5000]  # fmt: skip


def _with_hostile_value(drawn: tuple[schemathesis.Case, object, int]) -> schemathesis.Case:
    """One generated case with one of its body or query values replaced by a hostile one."""
    case, value, pick = drawn
    places = [(case.body, k) for k in (case.body or {})] if isinstance(case.body, dict) else []
    places += [(case.query, k) for k in (case.query or {})]
    if places:
        container, key = places[pick % len(places)]
        container[key] = value if container is case.body else str(value)
    return case


def _trust_the_sample_ca(runtime: Runtime) -> None:
    path = trust_anchors_path(runtime.settings.home)
    root = sample_ca().root.public_bytes(Encoding.PEM)
    if not path.exists() or root not in path.read_bytes():
        with path.open("ab") as f:
            f.write(root)


def _fresh_headers(runtime: Runtime, user: User) -> dict[str, str]:
    """A token at the user's current version: a fuzzed logout-everywhere must not end the run."""
    with runtime.db.session(ALL_ORGS) as s:
        version = s.scalar(select(User.token_version).where(User.id == user.id)) or 0
    token = issue_token(runtime.settings.secret_key, user_id=user.id, org_id=user.org_id, role=user.role.value,
                        kind="access", ttl_s=600, version=version)  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
@pytest.mark.parametrize("role", ["org_admin", "agent"])
def test_generated_requests_get_no_5xx_and_answers_match_the_openapi_document(
    app, runtime: Runtime, role: str
) -> None:  # type: ignore[no-untyped-def]
    _trust_the_sample_ca(runtime)  # a configured platform: a missing trust-anchor file is a deployment error
    tenant: Tenant = make_tenant(runtime)
    user = tenant.users[role]
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    classes = {
        "read": [op for op in operations if op.method.upper() == "GET"],
        "write": [op for op in operations if op.method.upper() != "GET"],
    }
    failures: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    world = World(owner=tenant)
    # A deployed platform runs job workers; without one /api/health rightly answers 503 (degraded).
    with job_worker("default"):
        _fuzz(classes, world, runtime, user, statuses, failures)
    elapsed = time.monotonic() - started

    print(
        f"{role}: {sum(statuses.values())} requests in {elapsed:.1f} s, statuses {dict(sorted(statuses.items()))}"
    )
    assert not failures, "\n".join(failures) + "\n\nfirst in full:\n" + next(iter(failures.values()), "")


def _fuzz(classes, world, runtime, user, statuses, failures) -> None:  # type: ignore[no-untyped-def]
    for ops in classes.values():
        # Each operation gets valid data on real objects, invalid data on real objects, valid data on
        # unknown ids, and valid data on real objects with one value swapped for one of the values the
        # probe found 500s with (HOSTILE): the first two and the last reach the code behind the 404.
        per_strategy = max(1, CASES_PER_CLASS // (4 * len(ops)))
        for op in ops:
            real = {name: world.sample(name) for name in re.findall(r"{(\w+)}", op.path)}
            positive = op.as_strategy(GenerationMode.POSITIVE, path_parameters=real)
            strategies = [
                positive,
                op.as_strategy(GenerationMode.NEGATIVE, path_parameters=real),
                op.as_strategy(GenerationMode.POSITIVE),
                st.tuples(positive, st.sampled_from(HOSTILE), st.integers(0, 1000)).map(_with_hostile_value),
            ]
            for strategy in strategies:
                _run(strategy, per_strategy, op, runtime, user, statuses, failures)


def _run(
    strategy,
    examples: int,
    op,
    runtime: Runtime,
    user: User,
    statuses: Counter[int],
    failures: dict[str, str],
) -> None:  # type: ignore[no-untyped-def]
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])  # fmt: skip
    @hypothesis.given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=_fresh_headers(runtime, user))
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis: a group of failures
            kinds = sorted(set(re.findall(r"- (ST\d+ [^\n]+)", str(exc)))) or [type(exc).__name__]
            key = f"{op.method.upper()} {op.path}: {', '.join(kinds)}"
            if key not in failures:
                failures[key] = str(exc)[:1500]

    run()
