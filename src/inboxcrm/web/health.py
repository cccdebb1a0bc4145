"""``GET /healthz``: liveness and control-plane reachability, for load balancers and scripts."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from inboxcrm.web.deps import RuntimeDep

health_router = APIRouter(include_in_schema=False)


@health_router.get("/healthz")
def healthz(runtime: RuntimeDep) -> JSONResponse:
    try:
        with runtime.control_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "degraded", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok"})
