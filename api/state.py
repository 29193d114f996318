"""What the app keeps for its lifetime: settings, engine, sessions, cipher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.settings import Settings
from geo.crypto import FieldCipher


@dataclass
class AppState:
    """Built in the lifespan, stored on ``app.state.lfs``."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cipher: FieldCipher
    extras: dict[str, Any] = field(default_factory=dict)
