"""The OpenAPI 3.0 document of /ogc (its ``service-desc``), built from the layer registry.

GIS clients read it to decide what they may ask the server (checked in their sources):
- GDAL 3.6's OAPIF driver looks up ``paths["/collections/{id}/items"].get.parameters``: a query
  parameter named like a field makes ``field = value`` server-side, and a ``filter-lang``
  parameter whose enum holds ``cql-text`` (the pre-standard name) makes it send whole WHERE
  clauses as ``filter=…&filter-lang=cql-text``.
- QGIS 3.22's OAPIF provider reads ``components.parameters.limit.schema`` (``maximum``,
  ``default``) for its page size, and per collection the query parameters with ``style: form``,
  ``explode: false`` and a schema ``type`` as "simple queryables" it sends as ``?name=value``.
So every collection gets its own path with one parameter per queryable.
"""

from __future__ import annotations

from typing import Any

from tiles.features import MAX_OFFSET
from tiles.layers import LAYERS, Layer

DEFAULT_LIMIT = 100
FILTER_LANGS = ["cql2-text", "cql-text"]  # cql-text: the draft's name, still sent by GDAL 3.6
_JSON_TYPES = {"Number": "number", "String": "string", "Boolean": "boolean"}


def _param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "schema": schema,
        "description": description,
    }


def _components(max_items: int) -> dict[str, Any]:
    number = {"type": "number"}
    return {
        "limit": _param(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": max_items, "default": DEFAULT_LIMIT},
            f"Page size (default {DEFAULT_LIMIT}; larger values are clamped to {max_items}).",
        ),
        "offset": _param(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            f"Skip (up to {MAX_OFFSET:,}; page deeper by following the next links).",
        ),
        "cursor": _param(
            "cursor",
            {"type": "string"},
            "Opaque position from a next/prev link (keyset paging); not combined with offset.",
        ),
        "bbox": _param(
            "bbox",
            {"type": "array", "minItems": 4, "maxItems": 6, "items": number},
            "minlon,minlat,maxlon,maxlat (CRS84): features intersecting the box.",
        ),
        "datetime": _param("datetime", {"type": "string"}, "RFC 3339 instant or interval."),
        "filter": _param(
            "filter",
            {"type": "string"},
            "CQL2-text (Basic CQL2: comparisons, IS [NOT] NULL, AND/OR/NOT; LIKE, BETWEEN, IN).",
        ),
        "filter-lang": _param(
            "filter-lang",
            {"type": "string", "enum": FILTER_LANGS, "default": "cql2-text"},
            "The filter's language.",
        ),
        "filter-crs": _param(
            "filter-crs",
            {"type": "string", "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]},
            "CRS of the filter's geometries.",
        ),
        "token": _param("token", {"type": "string"}, "A tile token (for the leads)."),
    }


def _items_path(layer: Layer) -> dict[str, Any]:
    shared = [
        "limit",
        "offset",
        "cursor",
        "bbox",
        "datetime",
        "filter",
        "filter-lang",
        "filter-crs",
    ]
    params: list[dict[str, Any]] = [{"$ref": f"#/components/parameters/{n}"} for n in shared]
    for name in layer.queryables:
        attr = layer.attr(name)
        if attr is not None:
            params.append(
                _param(name, {"type": _JSON_TYPES[attr.type]}, f"{attr.description} (equals)")
            )
    params.append({"$ref": "#/components/parameters/token"})
    return {
        "get": {
            "operationId": f"getFeatures_{layer.name}",
            "summary": f"{layer.title}: features",
            "tags": ["ogc"],
            "parameters": params,
            "responses": {
                "200": {
                    "description": "GeoJSON FeatureCollection",
                    "content": {"application/geo+json": {"schema": {"type": "object"}}},
                },
                "400": {"description": "Bad parameter (problem+json)"},
                "401": {"description": "A token is needed (problem+json)"},
            },
        }
    }


def _json_get(op_id: str, summary: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "tags": ["ogc"],
            "responses": {
                "200": {
                    "description": summary,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }


def document(root: str, max_items: int) -> dict[str, Any]:
    """The OpenAPI document; paths are relative to ``{root}/ogc`` (its ``servers`` entry)."""
    paths: dict[str, Any] = {
        "/": _json_get("getLandingPage", "Landing page"),
        "/conformance": _json_get("getConformance", "Conformance classes"),
        "/collections": _json_get("getCollections", "Collections"),
    }
    for layer in LAYERS.values():
        base = f"/collections/{layer.name}"
        paths[base] = _json_get(f"describeCollection_{layer.name}", layer.title)
        paths[f"{base}/queryables"] = _json_get(f"getQueryables_{layer.name}", "Queryables")
        paths[f"{base}/items"] = _items_path(layer)
        item = _json_get(f"getFeature_{layer.name}", "One feature")
        item["get"]["parameters"] = [
            {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}
        ]
        paths[f"{base}/items/{{featureId}}"] = item
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "LFS Lead Factory - OGC API Features",
            "version": "1.0.0",
            "description": "Reference layers and role-filtered leads.",
        },
        "servers": [{"url": f"{root}/ogc"}],
        "paths": paths,
        "components": {"parameters": _components(max_items)},
    }
