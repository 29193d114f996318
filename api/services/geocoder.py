"""Address search through a geocoder speaking the BAN protocol (``LFS_GEOCODER__*``).

The protocol of the national Base Adresse Nationale API: ``GET {base}/search/?q=…&limit=…``
answers a GeoJSON FeatureCollection of points whose properties carry ``label``, ``score``,
``type`` (housenumber, street, locality, municipality), ``city``, ``postcode``, ``citycode``,
``context`` and ``id``. A geocoder that fails or is slow never fails the search: the hits of our
own data are answered with a warning saying addresses are missing.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from api.settings import GeocoderSettings

log = logging.getLogger(__name__)

TIMEOUT = "Recherche d'adresses indisponible : le géocodeur n'a pas répondu à temps."
UNAVAILABLE = "Recherche d'adresses indisponible : le géocodeur ne répond pas."


class GeocoderError(Exception):
    """The geocoder could not answer: ``code`` and a French ``message`` for the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _hit(feature: Any) -> dict[str, Any] | None:
    """A search hit from one feature; None for a feature that is not a point with a label."""
    if not isinstance(feature, dict):
        return None
    props = feature.get("properties") or {}
    coords = (feature.get("geometry") or {}).get("coordinates")
    label = props.get("label")
    if not isinstance(label, str) or not isinstance(coords, list) or len(coords) < 2:
        return None
    try:
        lon, lat = float(coords[0]), float(coords[1])
    except (TypeError, ValueError):
        return None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return None

    def opt(key: str) -> str | None:
        value = props.get(key)
        return str(value) if value is not None else None

    score = props.get("score")
    return {
        "kind": "address",
        "id": opt("id") or label,
        "label": label[:200],
        "bbox": [lon, lat, lon, lat],
        "center": [lon, lat],
        "source": "géocodeur",
        "score": float(score) if isinstance(score, int | float) else None,
        "type": opt("type"),
        "city": opt("city"),
        "postcode": opt("postcode"),
        "citycode": opt("citycode"),
        "context": opt("context"),
    }


async def geocode(config: GeocoderSettings, q: str) -> list[dict[str, Any]]:
    """Addresses matching ``q`` (at most ``config.limit``); GeocoderError when it can't answer."""
    assert config.base_url is not None
    url = config.base_url.rstrip("/") + "/search/"
    try:
        async with httpx.AsyncClient(timeout=config.timeout_s) as http:
            resp = await http.get(url, params={"q": q, "limit": config.limit})
    except httpx.TimeoutException as exc:
        log.warning("geocoder timed out after %.1f s", config.timeout_s)
        raise GeocoderError("geocoder.timeout", TIMEOUT) from exc
    except httpx.HTTPError as exc:
        log.warning("geocoder unreachable: %s", type(exc).__name__)
        raise GeocoderError("geocoder.unavailable", UNAVAILABLE) from exc
    if resp.status_code != 200:
        log.warning("geocoder answered %s", resp.status_code)
        raise GeocoderError("geocoder.unavailable", UNAVAILABLE)
    try:
        body = resp.json()
    except ValueError as exc:
        raise GeocoderError("geocoder.unavailable", UNAVAILABLE) from exc
    features = body.get("features") if isinstance(body, dict) else None
    if not isinstance(features, list):
        raise GeocoderError("geocoder.unavailable", UNAVAILABLE)
    hits = [h for h in (_hit(f) for f in features) if h is not None]
    return hits[: config.limit]
