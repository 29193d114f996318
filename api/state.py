"""What the app keeps for its lifetime: settings, engine, sessions, cipher, caches and the
clients made on first use, each a typed field."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.security import ClaimsCache
from api.services.analytics_cache import AnalyticsCache
from api.settings import Settings
from geo.crypto import FieldCipher
from geo.shared_state import SharedState
from reports.storage import Storage

if TYPE_CHECKING:
    from procrastinate import App  # imported on first use (api.queue)

    from api.tile_access import TileAccess  # imports this module
    from enrichment.pvgis import PvgisClient  # made on first use: not imported at startup


@dataclass
class AppState:
    """Built in the lifespan, stored on ``app.state.lfs``."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cipher: FieldCipher
    # Rate-limit counters, cached answers, the PVGIS budget: PostgreSQL or Redis (geo.shared_state).
    shared: SharedState
    # Answers of the analytics and list totals, tagged with the leads-layer version (in ``shared``).
    analytics: AnalyticsCache
    claims: ClaimsCache = field(default_factory=ClaimsCache)
    # Made on first use (api.tile_access, api.storage, api.services.enrichment,
    # api.routers.enrichment, api.routers.lead_reports).
    tiles: TileAccess | None = None
    storage: Storage | None = None
    pvgis: PvgisClient | None = None
    queue: App | None = None
    dossier_slots: asyncio.Semaphore | None = None
    # Awaited at shutdown, in order, before the engine is disposed.
    on_close: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
