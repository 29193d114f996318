"""The FastAPI app factory: ``create_app(settings)``; no state is built at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

from api import web as web_app
from api.bodylimit import BodyLimitMiddleware
from api.cors import CredentialedOriginsCORS
from api.docs_ui import mount_docs
from api.error_reports import init_error_reports
from api.errors import install_error_handlers
from api.logs import install_token_redaction
from api.metrics import router as metrics_router
from api.metrics import start_pool_sampler
from api.observe import RequestObserver
from api.openapi import install_openapi
from api.ratelimit import RateLimitMiddleware, RateLimits
from api.routers import analytics as analytics_router
from api.routers import auth, bulk, health, notifications, ready, saved_views, users
from api.routers import comments as comments_router
from api.routers import documents as documents_router
from api.routers import enrichment as enrichment_router
from api.routers import exports as exports_router
from api.routers import lead_reports as lead_reports_router
from api.routers import leads as leads_router
from api.routers import ogc as ogc_router
from api.routers import parcels as parcels_router
from api.routers import pipeline as pipeline_router
from api.routers import reference as reference_router
from api.routers import site_searches as site_searches_router
from api.routers import tile_token as tile_token_router
from api.routers import tiles as tiles_router
from api.services.analytics_cache import AnalyticsCache
from api.settings import Settings, get_settings, resolve_dev_secrets
from api.state import AppState
from api.uploads import ENVELOPE_BYTES as UPLOAD_ENVELOPE_BYTES
from api.urlguard import NulGuard
from api.version import __version__
from geo.crypto import FieldCipher
from geo.db import make_engine, make_sessionmaker
from geo.shared_state import make_shared_state, start_sweeper

log = logging.getLogger(__name__)

GZIP_MINIMUM_SIZE = 1024
# Level 5: ~4x cheaper CPU than the default 9 for a few % larger JSON (measured on lists).
GZIP_LEVEL = 5

DESCRIPTION = """
LFS Lead Factory: find land for ground-mounted solar farms in France, enrich it (PVGIS sun,
protected zones, grid capacity, urbanism, land, economics, an explainable score) and sell it.

Authenticate with `POST /api/auth/login` and send `Authorization: Bearer <token>`.
Errors are RFC 9457 `application/problem+json` documents.
"""


def build_state(settings: Settings) -> AppState:
    """Engine, session factory and cipher for one app instance."""
    engine = make_engine(
        settings.async_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout_s=settings.db_pool_timeout_s,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )
    assert settings.crypto.keys is not None
    s = settings.leads
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    shared = make_shared_state(engine, redis_url, settings.redis_prefix)
    return AppState(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        cipher=FieldCipher.from_spec(settings.crypto.keys.get_secret_value()),
        shared=shared,
        analytics=AnalyticsCache(
            shared, s.analytics_cache_ttl_s, s.analytics_cache_entries, s.analytics_max_stale_s
        ),
    )


def api_router() -> APIRouter:
    """Every /api route."""
    router = APIRouter(prefix="/api")
    router.include_router(health.router)
    router.include_router(ready.router)
    router.include_router(auth.router)
    router.include_router(users.router)
    router.include_router(enrichment_router.router)
    router.include_router(leads_router.router)
    router.include_router(comments_router.router)
    router.include_router(pipeline_router.router)
    # The pipeline as a team uses it: bulk actions on the lead list (/api/leads/bulk: no route of
    # the leads router takes that path), notifications, saved views.
    router.include_router(bulk.router)
    router.include_router(notifications.router)
    router.include_router(saved_views.router)
    router.include_router(analytics_router.router)
    router.include_router(tile_token_router.router)
    router.include_router(documents_router.router)
    router.include_router(lead_reports_router.router)
    router.include_router(reference_router.router)
    router.include_router(parcels_router.router)
    router.include_router(site_searches_router.router)
    router.include_router(web_app.router)
    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application from explicit settings (or the environment's)."""
    settings = resolve_dev_secrets(settings or get_settings())
    init_error_reports(settings, "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # By now the server configured its logging (uvicorn's access log included).
        install_token_redaction()
        state = build_state(settings)
        app.state.lfs = state
        limits.store = state.shared  # rate limits count in the deployment's shared state
        state.on_close.append(state.analytics.close)
        if state.shared.backend == "postgresql":  # Redis expires its keys itself
            state.on_close.append(start_sweeper(state.shared))
        state.on_close.append(state.shared.aclose)
        state.on_close.append(start_pool_sampler(state))
        # Everything built so far (routes, models, SQLAlchemy metadata) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it (those
        # pauses were tens of ms of the API's tail latency under load).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for close in state.on_close:
                await close()
            await state.engine.dispose()

    # Counted in the shared state once the lifespan has built it.
    limits = RateLimits(settings.rate_limit.login_per_minute, settings.rate_limit.api_per_minute)
    app = FastAPI(
        title="LFS Lead Factory",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api.docs_ui: Swagger UI from a package, not a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    install_error_handlers(app)
    install_openapi(app)  # every operation's problem responses, derived once
    app.include_router(exports_router.router, prefix="/api")
    # Tiles and OGC first: a map fetches them by the hundred, and FastAPI matches routes in order
    # (their /tiles and /ogc prefixes can't shadow an /api route).
    app.include_router(tiles_router.router)
    app.include_router(ogc_router.router)
    app.include_router(api_router())
    app.include_router(metrics_router)
    mount_docs(app)
    # Last route: the web app and its client-side routing fallback (non-server paths).
    web_app.mount_web(app, settings)
    # Tiles are gzipped once by the tile service (cached so) and carry their own Vary: the
    # middleware would add a second Accept-Encoding to it on identity responses. A workbook is
    # a zip already: compressing it again cost ~18 ms a megabyte (5.2 MB: 95 ms) for 0.5 %.
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MINIMUM_SIZE,
        compresslevel=GZIP_LEVEL,
        exclude_content_types=(
            *DEFAULT_EXCLUDED_CONTENT_TYPES,
            tiles_router.MVT,
            exports_router.XLSX,
        ),
    )
    app.add_middleware(
        CredentialedOriginsCORS,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
        expose_headers=["ETag", "Location", "Retry-After", "Content-Disposition", "X-Data-Stale"],
    )
    app.add_middleware(RateLimitMiddleware, limits=limits)
    app.add_middleware(NulGuard)  # a NUL in the URL: 422 before any route (api.urlguard)
    # No body is read or parsed past its cap.
    upload_bytes = int(settings.storage.max_upload_mb * 1024 * 1024) + UPLOAD_ENVELOPE_BYTES
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=int(settings.max_body_mb * 1024 * 1024),
        max_upload_bytes=upload_bytes,
        upload_paths=r"/api/leads/[^/]+/documents",
    )
    # Outermost (added last), the 413s included: request id, latency, log line, error report.
    app.add_middleware(RequestObserver)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``."""
    return create_app(get_settings())
