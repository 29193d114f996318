"""Readiness for a load balancer: the database answers, its schema is at the migrations' head,
and an enrichment worker's heartbeat is recent; a 503 problem saying which check failed. With
``LFS_REDIS_URL`` set, Redis is checked too: when it is down the instance still serves (rate
limits not applied, caches computed), so the check says "degraded: …" without failing."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.deps import StateDep
from api.errors import problem_response
from api.settings import PROJECT_ROOT
from api.state import AppState
from geo.shared_state import SharedStateUnavailable

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 3.0
# procrastinate's own worker heartbeat: every worker updates its row every few seconds
# (api.queue: update_heartbeat_interval) and deletes it when it stops.
READY_SQL = text(
    """
    SELECT (SELECT version_num FROM alembic_version LIMIT 1),
           (SELECT extract(epoch FROM now() - max(last_heartbeat)) FROM procrastinate_workers)
    """
)


class Ready(BaseModel):
    """Every readiness check passed."""

    status: str = Field(description='"ready".')
    checks: dict[str, str] = Field(description="Each check and its result: ok.")


async def shared_state_check(state: AppState) -> str | None:
    """Redis' state when it holds the shared state ("ok" or "degraded: …"); None without it."""
    if state.shared.backend == "postgresql":
        return None  # the database check covers it
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await state.shared.check()
    except Exception as exc:
        reason = str(exc) if isinstance(exc, SharedStateUnavailable) else type(exc).__name__
        return f"degraded: {reason}; rate limits not applied, caches computed"
    return "ok"


@lru_cache(maxsize=1)
def migrations_head() -> str:
    """The head revision of the migrations shipped with this code (read once)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    return ",".join(sorted(heads))


async def readiness(state: AppState) -> dict[str, str]:
    """Each check's result: "ok" or why not."""
    checks = {"database": "ok", "migrations": "ok", "worker": "ok"}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), state.engine.connect() as conn:
            revision, heartbeat_age = (await conn.execute(READY_SQL)).one()
    except Exception as exc:  # unreachable, refused, too slow: not ready, whatever the cause
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["migrations"] = checks["worker"] = "unknown"
        return checks
    head = await asyncio.to_thread(migrations_head)
    if revision != head:
        checks["migrations"] = f"at {revision or 'none'}, code expects {head}"
    max_age = state.settings.ready.worker_max_age_s
    if max_age <= 0:
        checks["worker"] = "not checked"
    elif heartbeat_age is None:
        checks["worker"] = "no enrichment worker running"
    elif float(heartbeat_age) > max_age:
        checks["worker"] = f"last heartbeat {float(heartbeat_age):.0f} s ago (limit {max_age:g} s)"
    if (shared := await shared_state_check(state)) is not None:
        checks["shared_state"] = shared
    return checks


def _passes(result: str) -> bool:
    return result in ("ok", "not checked") or result.startswith("degraded")


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"description": "Not ready: the problem's `checks` say which check failed."}},
)
async def ready(state: StateDep) -> Ready | JSONResponse:
    """Say whether this instance should get traffic: database, migrations and worker checks."""
    checks = await readiness(state)
    failed = ", ".join(f"{k}: {v}" for k, v in checks.items() if not _passes(v))
    if not failed:
        return Ready(status="ready", checks=checks)
    return problem_response(
        503,
        f"Not ready: {failed}.",
        slug="not-ready",
        headers={"Retry-After": "5", "Cache-Control": "no-store"},
        checks=checks,
    )
