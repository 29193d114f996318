"""What the app keeps for its lifetime: settings, engine, sessions, pool, cipher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.security import ClaimsCache
from api.settings import Settings
from geo.crypto import FieldCipher
from geo.db import FairPool


@dataclass
class AppState:
    """Built in the lifespan, stored on ``app.state.lfs``."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cipher: FieldCipher
    # Plain asyncpg connections for the hot paths (geo.db.make_pg_pool), opened in the lifespan.
    pg: FairPool | None = None
    claims: ClaimsCache = field(default_factory=ClaimsCache)
    extras: dict[str, Any] = field(default_factory=dict)
