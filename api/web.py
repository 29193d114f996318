"""The web app: the built bundle (web/dist) served at ``/`` with client-side routing fallback.

Hashed files under ``/assets`` are immutable (a year of cache); ``index.html`` is revalidated on
every load so a new deployment is picked up at once. The build writes a ``.gz`` beside each text
file (scripts in web/): it is sent as is to clients that accept gzip, so nothing is compressed per
request. Paths of the API, tiles, OGC and docs never fall back to the app: an unknown
``/api/...`` path stays a problem+json 404.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.convertors import Convertor, register_url_convertor

from api.deps import SettingsDep
from api.services.basemaps import basemap_origins, public_mapbox_token
from api.settings import Settings
from geo.errors import NotFound

# Prefixes owned by the server: never answered with the app's index.html.
SERVER_PREFIXES = ("/api", "/tiles", "/ogc", "/docs", "/redoc", "/openapi.json")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Sent with every file of the app (and /docs): no framing (clickjacking), no type sniffing, and
# the page's URL not given away beyond its origin to other sites.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}

router = APIRouter(prefix="/web", tags=["web"])


class WebConfig(BaseModel):
    """What the browser app needs to know about this deployment."""

    mapbox_token: str | None = Field(
        None, description="Public Mapbox token (pk.*) for the basemap; null: our own basemap"
    )


@router.get("/config", response_model=WebConfig)
async def web_config(settings: SettingsDep) -> WebConfig:
    """Public configuration of the web app (no authentication)."""
    # Only public tokens go to browsers; a secret token (sk.*) stays on the server.
    return WebConfig(mapbox_token=public_mapbox_token(settings))


def content_security_policy(settings: Settings) -> str:
    """The web app's CSP: its own origin only, plus what MapLibre needs (workers from ``blob:``,
    images from ``data:``/``blob:``) and the origins of the basemaps' tiles (the configured
    sources, Mapbox's API with a public token: api/services/basemaps.py)."""
    extra = "".join(f" {origin}" for origin in basemap_origins(settings))
    return (
        # Inline styles: React and recharts set style attributes (MapLibre's CSP notes ask for
        # it too); scripts stay strictly our own files.
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{extra}; font-src 'self' data:; connect-src 'self'{extra}; "
        "worker-src 'self' blob:; child-src blob:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _owned_by_server(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in SERVER_PREFIXES)


class AppPathConvertor(Convertor[str]):
    """Matches every path except the server's own prefixes.

    The fallback route then never matches ``/api/...`` at all: unknown API paths keep their
    404 (or 405) problem+json, whatever the method.
    """

    regex = "(?!(?:" + "|".join(p.lstrip("/") for p in SERVER_PREFIXES) + ")(?:/|$)).*"

    def convert(self, value: str) -> str:
        """The path as is."""
        return value

    def to_string(self, value: str) -> str:
        """The path as is."""
        return value


register_url_convertor("lfs_app_path", AppPathConvertor())


def _file_response(path: Path, request: Request, cache: str, csp: str) -> Response:
    """The file, or its pre-compressed ``.gz`` twin when the client accepts gzip."""
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {
        "Cache-Control": cache,
        "Vary": "Accept-Encoding",
        **SECURITY_HEADERS,
        "Content-Security-Policy": csp,
    }
    gz = path.with_name(path.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and gz.is_file():
        headers["Content-Encoding"] = "gzip"
        return FileResponse(gz, media_type=media_type, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers)


def _resolve(dist: Path, path: str) -> Path | None:
    """A file of the bundle for a URL path, refusing anything outside ``dist``."""
    candidate = (dist / path.lstrip("/")).resolve()
    if candidate.is_file() and candidate.is_relative_to(dist) and candidate.suffix != ".gz":
        return candidate
    return None


def mount_web(app: FastAPI, settings: Settings) -> None:
    """Serve the built app from ``settings.web_dist`` (register after every other route)."""
    dist = settings.web_dist.resolve()
    csp = content_security_policy(settings)

    async def serve(request: Request, full_path: str = "") -> Response:
        path = request.url.path
        if _owned_by_server(path):  # pragma: no cover - excluded by the route's convertor
            raise NotFound(f"no route {path}")
        index = dist / "index.html"
        if not index.is_file():
            raise NotFound("the web app is not built (run `make web`)")
        found = _resolve(dist, path) if path != "/" else None
        if found is not None:
            immutable = found.parent.name == "assets"
            return _file_response(found, request, IMMUTABLE if immutable else REVALIDATE, csp)
        if path.startswith("/assets/"):
            # A hashed asset of an older build: a 404, not the index (which would parse as JS).
            raise NotFound(f"no asset {path}")
        return _file_response(index, request, REVALIDATE, csp)

    app.add_api_route(
        "/{full_path:lfs_app_path}", serve, methods=["GET", "HEAD"], include_in_schema=False
    )
