"""The basemaps the web map offers under the data layers (``LFS_BASEMAP__*``).

The configured sources (by default the IGN Géoplateforme's Plan IGN and orthophotos, public WMTS
without a key) and, with a public Mapbox token, Mapbox's streets and satellite styles as raster
tiles. The web app's Content-Security-Policy allows exactly their origins (api/web.py).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from api.settings import BasemapSource, Settings

_HOST = re.compile(r"[A-Za-z0-9.\[\]-]+(:[0-9]{1,5})?")


def public_mapbox_token(settings: Settings) -> str | None:
    """The Mapbox token browsers may see: a public one (pk.*) only."""
    token = settings.mapbox.token.get_secret_value() if settings.mapbox.token else None
    return token if token and token.startswith("pk.") else None


def _mapbox(settings: Settings, token: str) -> list[BasemapSource]:
    root = settings.mapbox.api_url.rstrip("/")

    def tiles(style: str) -> str:
        path = f"/styles/v1/mapbox/{style}/tiles/256/{{z}}/{{x}}/{{y}}@2x"
        return f"{root}{path}?access_token={token}"

    credit = "© Mapbox © OpenStreetMap"
    return [
        BasemapSource(
            key="mapbox-streets",
            label="Plan Mapbox",
            kind="plan",
            url=tiles("streets-v12"),
            max_zoom=22,
            attribution=credit,
        ),
        BasemapSource(
            key="mapbox-satellite",
            label="Photo Mapbox",
            kind="photo",
            url=tiles("satellite-streets-v12"),
            max_zoom=22,
            attribution=f"{credit} © Maxar",
        ),
    ]


def basemap_sources(settings: Settings) -> list[BasemapSource]:
    """Every basemap offered: the configured ones, then Mapbox's with a public token."""
    token = public_mapbox_token(settings)
    return [*settings.basemap.sources, *(_mapbox(settings, token) if token else [])]


def basemaps(settings: Settings) -> dict[str, Any]:
    """``GET /api/reference/basemaps``: the sources and the one shown at opening."""
    sources = basemap_sources(settings)
    keys = [s.key for s in sources]
    default = settings.basemap.default if settings.basemap.default in keys else None
    return {"items": [s.model_dump() for s in sources], "default": default}


def basemap_origins(settings: Settings) -> list[str]:
    """The origins the basemaps' tiles come from (scheme://host[:port]), for the CSP."""
    origins: list[str] = []
    for source in basemap_sources(settings):
        for url in (source.url, *source.origins):
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            # Only a plain host[:port] reaches the CSP (a ";" or a space would add directives).
            ok = parts.scheme in ("http", "https") and _HOST.fullmatch(parts.netloc)
            if ok and origin not in origins:
                origins.append(origin)
    return origins
