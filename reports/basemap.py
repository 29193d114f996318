"""Optional basemap from the Mapbox Static Images API (only when a token is configured)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from reports.maps import Bounds, wgs84_bbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BasemapConfig:
    """Mapbox access (from api.settings.MapboxSettings)."""

    token: str
    api_url: str = "https://api.mapbox.com"
    style: str = "mapbox/satellite-streets-v12"
    timeout_s: float = 5.0


def fetch_basemap(cfg: BasemapConfig, b: Bounds, w_px: int, h_px: int) -> bytes | None:
    """The image covering exactly ``b`` (Web Mercator), or None on any failure."""
    scale = min(1.0, 1280 / max(w_px, h_px))
    w, h = max(int(w_px * scale), 1), max(int(h_px * scale), 1)
    minlon, minlat, maxlon, maxlat = wgs84_bbox(b)
    url = (
        f"{cfg.api_url.rstrip('/')}/styles/v1/{cfg.style}/static/"
        f"[{minlon:.6f},{minlat:.6f},{maxlon:.6f},{maxlat:.6f}]/{w}x{h}"
    )
    try:
        r = httpx.get(
            url,
            params={
                "access_token": cfg.token,
                "padding": "0",
                "logo": "false",
                "attribution": "false",
            },
            timeout=cfg.timeout_s,
        )
        r.raise_for_status()
        if not r.headers.get("content-type", "").startswith("image/"):
            return None
        return r.content
    except httpx.HTTPError as exc:
        log.warning("basemap unavailable: %s", type(exc).__name__)
        return None
