"""GET /api/health: is the database reachable and migrated, is Redis answering, is a job worker alive."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from api.auth import PUBLIC
from core.job_workers import live_workers
from core.runtime import Runtime


@get(
    "/api/health",
    opt=PUBLIC,
    sync_to_thread=True,
    tags=["system"],
    # A degraded server answers 503 with the same body (which check failed), not a problem document.
    responses={
        503: ResponseSpec(
            data_container=dict[str, Any], description="a check failed", media_type="application/json"
        )
    },
)
def health(runtime: Runtime) -> Response[dict[str, Any]]:
    checks: dict[str, str] = {}
    try:
        with runtime.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        runtime.db.check_migrated()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    try:
        workers = len(live_workers(runtime.redis))
        checks["job_workers"] = f"ok ({workers} running)" if workers else "error: no job worker is running"
    except Exception as exc:
        checks["job_workers"] = f"error: {type(exc).__name__}"
    healthy = all(v.startswith("ok") for v in checks.values())
    return Response(
        {"status": "ok" if healthy else "degraded", "checks": checks}, status_code=200 if healthy else 503
    )
