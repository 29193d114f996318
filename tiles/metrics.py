"""Prometheus metrics of the tile cache: hits, misses and bytes served per layer (set).

A tile request names one layer or several (``parcels,communes``): the label is that set, as
requested, so the series stay as few as the layers the maps combine.
"""

from __future__ import annotations

from prometheus_client import Counter

TILE_REQUESTS = Counter(
    "lfs_tile_cache_requests",
    "Tiles asked of the tile service, by layer(s) and cache outcome (hit: served from the "
    "process' cache; miss: rendered by PostGIS, or joined a rendering already in flight).",
    ["layer", "cache"],
)
TILE_BYTES = Counter(
    "lfs_tile_bytes",
    "Bytes of the (gzipped) tiles produced by the tile service, by layer(s).",
    ["layer"],
)
