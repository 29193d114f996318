"""TileJSON 3.0, MBTiles-style metadata.json (for GDAL), the MapLibre style and the TMS."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

from tiles.layers import CLUSTER_ATTRS, LAYERS, MAX_ZOOM, Layer

WORLD_BOUNDS = [-180.0, -85.0511287798066, 180.0, 85.0511287798066]
# Metropolitan France: where a map opens.
FRANCE_CENTER = [2.35, 46.6, 5]

STATUS_COLOURS = {
    "NEW": "#9e9e9e",
    "ENRICHED": "#42a5f5",
    "QUALIFIED": "#7e57c2",
    "IN_REVIEW": "#ffb300",
    "CLIENT_READY": "#43a047",
    "SOLD": "#1b5e20",
    "REJECTED": "#e53935",
    "ARCHIVED": "#616161",
}
ENV_ZONE_COLOURS = {
    "natura2000_zsc": "#2e7d32",
    "natura2000_zps": "#66bb6a",
    "znieff1": "#f9a825",
    "znieff2": "#fdd835",
    "parc_national_coeur": "#b71c1c",
    "parc_national_adhesion": "#ef9a9a",
    "pnr": "#a1887f",
    "rnn": "#c62828",
    "rnr": "#d84315",
    "reserve_biologique": "#ad1457",
    "appb": "#6a1b9a",
    "ramsar": "#0277bd",
    "site_classe": "#4e342e",
    "zone_humide": "#0288d1",
    "ppri_rouge": "#d50000",
    "foret": "#1b5e20",
    "friche": "#8d6e63",
    "zone_acceleration": "#00bfa5",
}
URBAN_ZONE_COLOURS = {
    "U": "#e57373",
    "AUc": "#ffb74d",
    "AUs": "#ffe082",
    "AU": "#ffcc80",
    "A": "#fff59d",
    "N": "#a5d6a7",
}


def vector_layer(layer: Layer) -> dict[str, Any]:
    """The TileJSON ``vector_layers`` entry of a layer."""
    fields = {a.name: a.type for a in layer.attrs}
    if layer.cluster_below is not None:
        fields.update({a.name: a.type for a in CLUSTER_ATTRS})
    return {
        "id": layer.name,
        "description": layer.description,
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "fields": fields,
    }


Bounds = tuple[float, float, float, float]


def union(boxes: list[Bounds | None]) -> Bounds | None:
    """The box covering every given box (None when none is given)."""
    real = [b for b in boxes if b is not None]
    if not real:
        return None
    return (
        min(b[0] for b in real),
        min(b[1] for b in real),
        max(b[2] for b in real),
        max(b[3] for b in real),
    )


def bounds_and_center(
    extent: Bounds | None, minzoom: int, maxzoom: int
) -> tuple[list[float], list[float]]:
    """TileJSON ``bounds`` (the data's extent) and ``center`` inside it at a zoom in range.

    The zoom is the one where the extent spans about one 512-pixel tile, clamped to
    [minzoom, maxzoom]; without data, the world and France at minzoom.
    """
    if extent is None:
        zoom = min(max(FRANCE_CENTER[2], minzoom), maxzoom)
        return WORLD_BOUNDS, [FRANCE_CENTER[0], FRANCE_CENTER[1], zoom]
    minx, miny, maxx, maxy = extent
    span = max(maxx - minx, (maxy - miny) * 1.5, 1e-9)  # latitude degrees are "longer" in France
    fit = math.floor(math.log2(360.0 / span))
    zoom = min(max(fit, minzoom), maxzoom)
    bounds = [round(v, 6) for v in extent]
    return bounds, [round((minx + maxx) / 2, 6), round((miny + maxy) / 2, 6), zoom]


def tilejson(
    layers: list[Layer],
    base_url: str,
    query: str,
    attribution: str | None = None,
    extent: Bounds | None = None,
) -> dict[str, Any]:
    """TileJSON 3.0.0 for one layer or a composite; ``query`` is appended to the tile URL."""
    names = ",".join(la.name for la in layers)
    suffix = f"?{query}" if query else ""
    minzoom, maxzoom = min(la.minzoom for la in layers), max(la.maxzoom for la in layers)
    bounds, center = bounds_and_center(extent, minzoom, maxzoom)
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": names,
        "description": "; ".join(f"{la.name}: {la.description}" for la in layers),
        "scheme": "xyz",
        "tiles": [f"{base_url}/tiles/{names}/{{z}}/{{x}}/{{y}}.mvt{suffix}"],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": center,
        "vector_layers": [vector_layer(la) for la in layers],
    }
    if attribution:
        doc["attribution"] = attribution
    return doc


def mbtiles_metadata(layer: Layer, extent: Bounds | None = None) -> dict[str, Any]:
    """MBTiles-style metadata.json of a tile directory, as GDAL's MVT driver reads it."""
    bounds, center = bounds_and_center(extent, layer.minzoom, layer.maxzoom)
    return {
        "name": layer.name,
        "description": layer.description,
        "format": "pbf",
        "minzoom": str(layer.minzoom),
        "maxzoom": str(layer.maxzoom),
        "bounds": ",".join(str(v) for v in bounds),
        "center": ",".join(str(v) for v in center),
        "type": "overlay",
        "json": json.dumps({"vector_layers": [vector_layer(layer)]}),
    }


def _match(field: str, colours: dict[str, str], default: str) -> list[Any]:
    expr: list[Any] = ["match", ["get", field]]
    for value, colour in colours.items():
        expr += [value, colour]
    expr.append(default)
    return expr


def generic_style_layers(layer: Layer, source: str) -> list[dict[str, Any]]:
    """MapLibre layers of a layer the style has no dedicated paint for (tiles.layers.Style)."""
    on = {"source": source, "source-layer": layer.name}
    colour = layer.style.color
    if layer.style.kind == "circle":
        paint = {"circle-color": colour, "circle-radius": 4, "circle-stroke-color": "#ffffff"}
        return [{"id": f"{layer.name}-circle", "type": "circle", **on, "paint": paint}]
    line = {
        "id": f"{layer.name}-line",
        "type": "line",
        **on,
        "paint": {"line-color": colour, "line-width": 1.2},
    }
    if layer.style.kind != "fill":
        return [line]
    fill_paint = {"fill-color": colour, "fill-opacity": 0.25}
    return [{"id": f"{layer.name}-fill", "type": "fill", **on, "paint": fill_paint}, line]


def style(
    base_url: str, query: str, with_leads: bool = True, public_reference: bool = True
) -> dict[str, Any]:
    """A MapLibre style drawing every layer: zones by type, leads by status, parcels as lines.

    Two sources: ``reference`` (the open layers, without the token when they are public, so an
    expired token never blanks the map) and ``leads`` (with the token). Without credentials the
    style has no leads source and no leads layers at all (their TileJSON would be a 401).
    """
    suffix = f"?{query}" if query else ""
    ref_names = ",".join(name for name, la in LAYERS.items() if la.reference)
    sources: dict[str, Any] = {
        "reference": {
            "type": "vector",
            "url": f"{base_url}/tiles/{ref_names}.json{'' if public_reference else suffix}",
        }
    }
    if with_leads:
        # The site finder's candidates are drawn per run by the Prospection page, not here.
        leads = ",".join(
            name for name, la in LAYERS.items() if not la.reference and la.visibility == "leads"
        )
        sources["leads"] = {"type": "vector", "url": f"{base_url}/tiles/{leads}.json{suffix}"}
    status = _match("status", STATUS_COLOURS, "#9e9e9e")
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f4f1ea"}},
        {
            "id": "communes-line",
            "type": "line",
            "source": "reference",
            "source-layer": "communes",
            "paint": {"line-color": "#5c6bc0", "line-width": 0.8},
        },
        {
            "id": "env_zones-fill",
            "type": "fill",
            "source": "reference",
            "source-layer": "env_zones",
            "paint": {
                "fill-color": _match("zone_type", ENV_ZONE_COLOURS, "#81c784"),
                "fill-opacity": 0.3,
            },
        },
        {
            "id": "urban_zones-fill",
            "type": "fill",
            "source": "reference",
            "source-layer": "urban_zones",
            "paint": {
                "fill-color": _match("zone_type", URBAN_ZONE_COLOURS, "#e0e0e0"),
                "fill-opacity": 0.35,
            },
        },
        {
            "id": "parcels-line",
            "type": "line",
            "source": "reference",
            "source-layer": "parcels",
            "paint": {"line-color": "#795548", "line-width": 0.5},
        },
        {
            "id": "leads-fill",
            "type": "fill",
            "source": "leads",
            "source-layer": "leads",
            "filter": ["==", ["geometry-type"], "Polygon"],
            "paint": {"fill-color": status, "fill-opacity": 0.55},
        },
        {
            "id": "leads-outline",
            "type": "line",
            "source": "leads",
            "source-layer": "leads",
            "filter": ["==", ["geometry-type"], "Polygon"],
            "paint": {"line-color": status, "line-width": 2},
        },
        {
            "id": "leads-clusters",
            "type": "circle",
            "source": "leads",
            "source-layer": "leads",
            "filter": ["==", ["geometry-type"], "Point"],
            "paint": {
                "circle-color": status,
                "circle-radius": ["interpolate", ["linear"], ["get", "count"], 1, 4, 100, 14],
                "circle-opacity": 0.8,
            },
        },
        {
            "id": "substations-circle",
            "type": "circle",
            "source": "reference",
            "source-layer": "substations",
            "paint": {
                "circle-color": [
                    "case",
                    [">", ["coalesce", ["get", "capacity_available_mw"], 0], 10],
                    "#00897b",
                    "#ef6c00",
                ],
                "circle-radius": 5,
                "circle-stroke-color": "#ffffff",
                "circle-stroke-width": 1,
            },
        },
    ]
    drawn = {la.get("source-layer") for la in layers}
    for layer in LAYERS.values():  # a layer without its own paint: drawn from its style hints
        if layer.name not in drawn and layer.visibility == "leads":
            layers += generic_style_layers(layer, "reference" if layer.reference else "leads")
    if not with_leads:
        layers = [la for la in layers if la.get("source") != "leads"]
    return {
        "version": 8,
        "name": "LFS Lead Factory",
        "center": FRANCE_CENTER[:2],
        "zoom": FRANCE_CENTER[2],
        "sources": sources,
        "layers": layers,
    }


@lru_cache(maxsize=1)
def tile_matrix_set() -> dict[str, Any]:
    """The OGC WebMercatorQuad tile matrix set, TMS 2.0 encoding (from morecantile's definition).

    GDAL 3.6's ``OGCAPI:`` driver reads only the 1.0 member names (``type``, ``supportedCRS`` and,
    per tile matrix, ``identifier`` and ``topLeftCorner``): a pure 2.0 document fails there with
    "Cannot parse CRS". They are added alongside the 2.0 members (same values), which 2.0
    clients ignore and GDAL 3.7+ does not read once it sees ``crs`` and ``tileMatrices``.
    """
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    doc: dict[str, Any] = tms.model_dump(mode="json", exclude_none=True)
    # Only the zooms the tile routes answer (0..MAX_ZOOM), not morecantile's 0..24.
    doc["tileMatrices"] = [m for m in doc["tileMatrices"] if int(m["id"]) <= MAX_ZOOM]
    doc["type"] = "TileMatrixSetType"
    doc["supportedCRS"] = doc["crs"]
    for matrix in doc["tileMatrices"]:
        matrix["identifier"] = matrix["id"]
        matrix["topLeftCorner"] = matrix["pointOfOrigin"]
    return doc


TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
EPSG_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MVT_TYPE = "application/vnd.mapbox-vector-tile"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
# Web Mercator's latitude limit: a tile row is computed for latitudes inside it.
_MAX_LAT = 85.0511287798066


def tile_range(extent: Bounds, z: int) -> tuple[int, int, int, int]:
    """(min col, min row, max col, max row) of the WebMercatorQuad tiles covering ``extent``."""
    n = 1 << z

    def col(lon: float) -> int:
        return min(n - 1, max(0, math.floor((lon + 180.0) / 360.0 * n)))

    def row(lat: float) -> int:
        lat = max(-_MAX_LAT, min(_MAX_LAT, lat))
        merc = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
        return min(n - 1, max(0, math.floor((1 - merc / math.pi) / 2 * n)))

    minx, miny, maxx, maxy = extent
    return col(minx), row(maxy), col(maxx), row(miny)


def tileset(layer: Layer, base_url: str, query: str, extent: Bounds | None) -> dict[str, Any]:
    """OGC API - Tiles tileset metadata of one collection in WebMercatorQuad (TMS 2.0 JSON).

    ``tileMatrixSetLimits`` lists the zooms of the layer (minzoom to maxzoom: clients overzoom
    beyond) and, per zoom, the tiles covering its data extent; ``query`` (``token=…``) is
    carried into every link.
    """
    suffix = f"?{query}" if query else ""
    href = f"{base_url}/ogc/collections/{layer.name}/tiles/{TMS_ID}"
    limits = []
    for z in range(layer.minzoom, layer.maxzoom + 1):
        c0, r0, c1, r1 = tile_range(extent, z) if extent else (0, 0, (1 << z) - 1, (1 << z) - 1)
        limits.append(
            {
                "tileMatrix": str(z),
                "minTileRow": r0,
                "maxTileRow": r1,
                "minTileCol": c0,
                "maxTileCol": c1,
            }
        )
    bounds, center = bounds_and_center(extent, layer.minzoom, layer.maxzoom)
    fields = vector_layer(layer)["fields"]
    types = {"Number": "number", "String": "string", "Boolean": "boolean"}
    return {
        "title": f"{layer.title} ({TMS_ID})",
        "description": layer.description,
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": TMS_URI,
        "tileMatrixSetLimits": limits,
        "boundingBox": {"lowerLeft": bounds[:2], "upperRight": bounds[2:], "crs": CRS84},
        "centerPoint": {
            "coordinates": center[:2],
            "crs": CRS84,
            "tileMatrix": str(center[2]),
        },
        "layers": [
            {
                "id": layer.name,
                "title": layer.title,
                "dataType": "vector",
                "geometryDimension": 0 if layer.geometry_type == "Point" else 2,
                "minTileMatrix": str(layer.minzoom),
                "maxTileMatrix": str(layer.maxzoom),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {k: {"type": types[v]} for k, v in fields.items()},
                },
            }
        ],
        "links": [
            {"href": f"{href}{suffix}", "rel": "self", "type": "application/json"},
            {
                "href": f"{base_url}/ogc/tileMatrixSets/{TMS_ID}",
                "rel": REL_TILING_SCHEME,
                "type": "application/json",
                "title": "WebMercatorQuad tile matrix set",
            },
            {
                "href": f"{base_url}/ogc/collections/{layer.name}{suffix}",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/geodata",
                "type": "application/json",
            },
            {
                "href": f"{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{suffix}",
                "rel": "item",
                "type": MVT_TYPE,
                "templated": True,
                "title": "Mapbox vector tiles",
            },
        ],
    }


def tilesets(layer: Layer, base_url: str, query: str) -> dict[str, Any]:
    """The tileset list of one collection (one vector tileset, WebMercatorQuad)."""
    suffix = f"?{query}" if query else ""
    root = f"{base_url}/ogc/collections/{layer.name}/tiles"
    return {
        "links": [{"href": f"{root}{suffix}", "rel": "self", "type": "application/json"}],
        "tilesets": [
            {
                "title": f"{layer.title} ({TMS_ID})",
                "dataType": "vector",
                "crs": EPSG_3857,
                "tileMatrixSetURI": TMS_URI,
                "links": [
                    {"href": f"{root}/{TMS_ID}{suffix}", "rel": "self", "type": "application/json"},
                    {
                        "href": f"{base_url}/ogc/tileMatrixSets/{TMS_ID}",
                        "rel": REL_TILING_SCHEME,
                        "type": "application/json",
                    },
                ],
            }
        ],
    }
