"""Health: "ok" for anyone once the database answers; the versions for an ADMIN only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.deps import SessionDep, StateDep, authenticate
from api.routers.ready import shared_state_check
from api.version import __version__
from geo.errors import NotAuthenticated
from geo.models import Role

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Service health; the versions only for an ADMIN (they tell an attacker what to try)."""

    status: str = Field(
        description='"ok": the service and its database answer; "degraded": they do, but the '
        "Redis of LFS_REDIS_URL does not (rate limits not applied, caches computed)."
    )
    version: str | None = Field(None, description="Service version (ADMIN only).")
    database: str | None = Field(None, description="PostgreSQL version (ADMIN only).")
    postgis: str | None = Field(None, description="PostGIS version (ADMIN only).")


@router.get("/health", response_model=Health, response_model_exclude_none=True)
async def health(request: Request, session: SessionDep, state: StateDep) -> Health:
    """Say "ok" once the database answers ("degraded" when the configured Redis does not); an
    ADMIN token adds the service and database versions."""
    shared = await shared_state_check(state)
    status = "ok" if shared in (None, "ok") else "degraded"
    if not await _is_admin(request, session, state):
        await session.execute(text("SELECT 1"))
        return Health(status=status)
    row = (
        await session.execute(
            text("SELECT current_setting('server_version'), postgis_full_version()")
        )
    ).one()
    return Health(
        status=status, version=__version__, database=f"PostgreSQL {row[0]}", postgis=row[1]
    )


async def _is_admin(request: Request, session: SessionDep, state: StateDep) -> bool:
    """Whether the request carries a valid ADMIN bearer token. Read here rather than through the
    bearer dependency: a monitor's health check never fails on a token (anything but a valid
    ADMIN token gets the short answer, never a 401)."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        user, _ = await authenticate(session, state, token.strip())
    except NotAuthenticated:
        return False
    return user.role is Role.ADMIN
