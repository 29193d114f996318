"""Health: database and PostGIS versions."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import SessionDep
from api.version import __version__

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Service health."""

    status: str
    version: str
    database: str
    postgis: str


@router.get("/health", response_model=Health)
async def health(session: SessionDep) -> Health:
    """Report the service, PostgreSQL and PostGIS versions."""
    row = (
        await session.execute(
            text(
                "SELECT current_setting('server_version'), postgis_lib_version(), "
                "postgis_full_version()"
            )
        )
    ).one()
    return Health(status="ok", version=__version__, database=f"PostgreSQL {row[0]}", postgis=row[2])
