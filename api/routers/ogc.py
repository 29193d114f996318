"""OGC API - Features (/ogc): landing, conformance, collections, items, queryables."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import OptionalViewerDep, get_optional_viewer
from api.routers.tiles import (
    TILE_RESPONSES,
    MVTResponse,
    _forward_query,
    base_url,
    check_access,
    data_extent,
    data_tag,
    serve_tile,
)
from api.tile_access import TileAccess, TileAccessDep
from geo.errors import BadRequest, NotFound
from tiles import cql2, documents, ogc_openapi
from tiles import features as ft
from tiles.documents import TMS_ID, TMS_URI, WORLD_BOUNDS
from tiles.layers import LAYERS, Layer

GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
# Exactly the classes implemented: Features Part 1 (core, GeoJSON, OpenAPI 3.0), Part 3's
# Filter, Features Filter and Queryables, and the CQL2 classes tiles.cql2 implements.
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    *cql2.CONFORMANCE,
    # OGC API - Tiles Part 1: vector tiles of each collection (geodata), their tileset list and
    # tileset metadata, in Mapbox Vector Tile format.
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]
REL_TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
# Query parameters of /items that are not property filters.
ITEM_PARAMS = {
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "cursor",
    "datetime",
    "filter",
    "filter-lang",
    "filter-crs",
    "f",
    "token",
}
_BOX = re.compile(r"BOX\(([-\d.eE]+) ([-\d.eE]+),([-\d.eE]+) ([-\d.eE]+)\)")

router = APIRouter(prefix="/ogc", tags=["ogc"])

GEOJSON_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {"schema": {"type": "object"}}}, "description": "GeoJSON"}
}


class GeoJSONResponse(Response):
    """A GeoJSON body (already serialised by PostgreSQL)."""

    media_type = GEOJSON


class SchemaJSONResponse(JSONResponse):
    """A JSON Schema document (the queryables)."""

    media_type = "application/schema+json"


class OpenAPIResponse(JSONResponse):
    """An OpenAPI 3.0 document (/ogc/api)."""

    media_type = OPENAPI


# Routes that copy ``?token=`` into their links verify it first (get_optional_viewer): a link
# never carries anything but a valid tile token (an access token in a URL is refused).
VERIFIED_TOKEN = [Depends(get_optional_viewer)]


def _token_query(request: Request) -> str:
    token = request.query_params.get("token")
    return f"?token={token}" if token else ""


def _collection(layer: Layer, root: str, tq: str, bbox: list[float]) -> dict[str, Any]:
    href = f"{root}/ogc/collections/{layer.name}"
    return {
        "id": layer.name,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        "crs": [ft.CRS84],
        "extent": {"spatial": {"bbox": [bbox], "crs": ft.CRS84}},
        "links": [
            {"href": f"{href}{tq}", "rel": "self", "type": "application/json"},
            {"href": f"{href}/items{tq}", "rel": "items", "type": GEOJSON},
            {
                "href": f"{href}/queryables{tq}",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
            },
            {
                "href": f"{href}/tiles{tq}",
                "rel": REL_TILESETS_VECTOR,
                "type": "application/json",
                "title": "Vector tilesets (OGC API - Tiles)",
            },
            {
                "href": f"{root}/tiles/{layer.name}.json{tq}",
                "rel": "describedby",
                "type": "application/json",
                "title": "TileJSON of the same layer",
            },
        ],
    }


async def _extent(access: TileAccess, layer: Layer) -> list[float]:
    if not layer.reference:
        return WORLD_BOUNDS
    try:
        text = await access.service.fetchval(ft.extent_sql(layer), [])
    except asyncpg.PostgresError:
        return WORLD_BOUNDS
    m = _BOX.match(text or "")
    return [float(v) for v in m.groups()] if m else WORLD_BOUNDS


@router.head("", include_in_schema=False, dependencies=VERIFIED_TOKEN)
@router.get("", response_model=dict[str, Any], dependencies=VERIFIED_TOKEN)
async def landing(request: Request, access: TileAccessDep) -> JSONResponse:
    """OGC API landing page."""
    root, tq = base_url(request, access), _token_query(request)
    return JSONResponse(
        {
            "title": "LFS Lead Factory - OGC API Features",
            "description": "Reference layers and leads (role-filtered) as OGC API Features.",
            "links": [
                {"href": f"{root}/ogc{tq}", "rel": "self", "type": "application/json"},
                {"href": f"{root}/ogc/api", "rel": "service-desc", "type": OPENAPI},
                {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html"},
                {
                    "href": f"{root}/ogc/conformance{tq}",
                    "rel": "conformance",
                    "type": "application/json",
                },
                {"href": f"{root}/ogc/collections{tq}", "rel": "data", "type": "application/json"},
                {
                    "href": f"{root}/ogc/tileMatrixSets",
                    "rel": REL_TILING_SCHEMES,
                    "type": "application/json",
                },
            ],
        }
    )


@router.head("/conformance", include_in_schema=False)
@router.get("/conformance", response_model=dict[str, Any])
async def conformance() -> JSONResponse:
    """Conformance classes: Core, GeoJSON, OAS 3.0, Filter, Queryables, CQL2-text (see list)."""
    return JSONResponse({"conformsTo": CONFORMANCE})


@router.head("/api", include_in_schema=False)
@router.get("/api", response_model=dict[str, Any], response_class=OpenAPIResponse)
async def service_desc(request: Request, access: TileAccessDep) -> JSONResponse:
    """The OpenAPI 3.0 document of /ogc: per-collection queryables, limit default and maximum."""
    doc = ogc_openapi.document(
        base_url(request, access), request.app.state.lfs.settings.tiles.max_items
    )
    return JSONResponse(doc, media_type=OPENAPI)


@router.head("/collections", include_in_schema=False, dependencies=VERIFIED_TOKEN)
@router.get("/collections", response_model=dict[str, Any], dependencies=VERIFIED_TOKEN)
async def collections(request: Request, access: TileAccessDep) -> JSONResponse:
    """Every layer as a collection."""
    root, tq = base_url(request, access), _token_query(request)
    cols = [_collection(la, root, tq, await _extent(access, la)) for la in LAYERS.values()]
    return JSONResponse(
        {
            "links": [
                {"href": f"{root}/ogc/collections{tq}", "rel": "self", "type": "application/json"}
            ],
            "collections": cols,
        }
    )


@router.head("/collections/{collection_id}", include_in_schema=False, dependencies=VERIFIED_TOKEN)
@router.get(
    "/collections/{collection_id}", response_model=dict[str, Any], dependencies=VERIFIED_TOKEN
)
async def collection(request: Request, collection_id: str, access: TileAccessDep) -> JSONResponse:
    """One collection's description."""
    layer = _layer(collection_id)
    root, tq = base_url(request, access), _token_query(request)
    return JSONResponse(_collection(layer, root, tq, await _extent(access, layer)))


@router.head("/collections/{collection_id}/queryables", include_in_schema=False)
@router.get(
    "/collections/{collection_id}/queryables",
    response_model=dict[str, Any],
    response_class=SchemaJSONResponse,
)
async def queryables(request: Request, collection_id: str, access: TileAccessDep) -> JSONResponse:
    """The properties usable in property filters and CQL2 (JSON Schema)."""
    layer = _layer(collection_id)
    root = base_url(request, access)
    types = {"Number": "number", "String": "string", "Boolean": "boolean"}
    props: dict[str, Any] = {
        name: {"title": name, "type": types[attr.type]}
        for name in layer.queryables
        if (attr := layer.attr(name)) is not None
    }
    return JSONResponse(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{root}/ogc/collections/{layer.name}/queryables",
            "type": "object",
            "title": layer.title,
            "properties": props,
            "additionalProperties": False,
        },
        media_type="application/schema+json",
    )


def _layer(collection_id: str) -> Layer:
    if collection_id not in LAYERS:
        raise NotFound(f"unknown collection {collection_id!r}", collections=list(LAYERS))
    return LAYERS[collection_id]


MAX_OFFSET = 2**31 - 1


def _int_param(request: Request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < minimum:
        raise BadRequest(f"{name} must be >= {minimum}")
    return min(value, MAX_OFFSET)


@router.head("/collections/{collection_id}/items", include_in_schema=False)
@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    responses=GEOJSON_RESPONSE,
)
async def items(
    request: Request,
    collection_id: str,
    access: TileAccessDep,
    viewer: OptionalViewerDep,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (CRS84)")] = None,
    limit: Annotated[
        str | None, Query(description="Page size (default 100; larger than the maximum: clamped)")
    ] = None,
    offset: Annotated[
        str | None, Query(description=f"Features to skip (at most {ft.MAX_OFFSET:,})")
    ] = None,
    cursor: Annotated[
        str | None, Query(description="Opaque keyset position, from a next/prev link")
    ] = None,
    datetime: Annotated[str | None, Query(description="RFC 3339 instant or interval")] = None,
    filter: Annotated[
        str | None, Query(description="CQL2-text: Basic CQL2 and LIKE, BETWEEN, IN")
    ] = None,
) -> Response:
    """Features of a collection (GeoJSON), with paging, bbox, datetime and filters."""
    layer = _layer(collection_id)
    check_access(access, [layer], viewer)
    cfg_max = request.app.state.lfs.settings.tiles.max_items
    params = request.query_params
    # The standard says a limit above the maximum is clamped, not refused.
    page = min(_int_param(request, "limit", ogc_openapi.DEFAULT_LIMIT, 1), cfg_max)
    skip = _int_param(request, "offset", 0, 0)
    for crs_param in ("bbox-crs", "crs", "filter-crs"):
        if params.get(crs_param) not in (None, ft.CRS84):
            raise BadRequest(f"{crs_param}: only {ft.CRS84} is supported")
    if params.get("filter-lang") not in (None, *ogc_openapi.FILTER_LANGS):
        raise BadRequest("filter-lang: only cql2-text (or its draft name cql-text) is supported")
    conds: list[ft.Condition] = []
    for name, value in params.multi_items():
        if name not in ITEM_PARAMS:
            attr = ft.queryable(layer, name)
            conds.append(ft.Condition(attr, "=", ft.typed(attr, value)))
    box = ft.parse_bbox(bbox) if bbox else None
    interval = ft.parse_datetime(datetime) if datetime else None
    after = ft.decode_cursor(layer, cursor) if cursor is not None else None
    if after is not None and skip:
        raise BadRequest("cursor and offset cannot be combined: follow the links of a page")
    if skip > ft.MAX_OFFSET:
        raise BadRequest(
            f"offset is limited to {ft.MAX_OFFSET:,}: page deeper by following the next links",
            max_offset=ft.MAX_OFFSET,
        )
    q = ft.build_where(layer, viewer, box, interval, conds, filter)
    row = (await access.service.fetch(*ft.items_sql(q, page, skip, after)))[0]
    fetched, body, first, last = int(row[0]), row[1], row[2], row[3]
    returned = min(fetched, page)
    forward = after is None or after.forward
    # The extra row fetched tells whether there is more in the scan's direction.
    more_after = fetched > page if forward else True
    more_before = (after is not None or skip > 0) if forward else fetched > page
    # numberMatched: exact or absent (never an estimate). Known without counting on a first page
    # holding everything; else counted up to ft.COUNT_CAP rows; not repeated on cursor pages.
    matched: int | None = None
    if after is None:
        if skip == 0 and not more_after:
            matched = returned
        else:
            counted = int(await access.service.fetchval(*ft.count_sql(q, ft.COUNT_CAP)))
            matched = counted if counted <= ft.COUNT_CAP else None
    base = request.url.remove_query_params(["offset", "cursor"])

    def link(rel: str, key: Any = None, is_forward: bool = True) -> dict[str, str]:
        url = (
            base
            if key is None
            else base.include_query_params(cursor=ft.encode_cursor(layer, key, is_forward))
        )
        return {"href": str(url.include_query_params(limit=page)), "rel": rel, "type": GEOJSON}

    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    if more_after:
        links.append(link("next", last) if returned else link("next"))
    if more_before and returned:
        links.append(link("prev", first, is_forward=False))
    elif skip > 0:  # an offset past the end: the offset page before it
        prev = request.url.include_query_params(offset=max(0, skip - page), limit=page)
        links.append({"href": str(prev), "rel": "prev", "type": GEOJSON})
    doc: dict[str, Any] = {"type": "FeatureCollection"}
    if matched is not None:
        doc["numberMatched"] = matched
    doc |= {"numberReturned": returned, "links": links}
    head = json.dumps(doc)
    text = f'{head[:-1]}, "features": {body}}}'
    return GeoJSONResponse(text, headers=_item_headers(layer))


def _item_headers(layer: Layer) -> dict[str, str]:
    cache = "public, no-cache" if layer.reference else "private, no-cache"
    return {"Cache-Control": cache}


@router.head("/collections/{collection_id}/items/{feature_id}", include_in_schema=False)
@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    responses=GEOJSON_RESPONSE,
)
async def item(
    request: Request,
    collection_id: str,
    feature_id: str,
    access: TileAccessDep,
    viewer: OptionalViewerDep,
) -> Response:
    """One feature by id (404 when unknown or not visible to the caller)."""
    layer = _layer(collection_id)
    check_access(access, [layer], viewer)
    key: Any = feature_id
    if layer.pk_type == "int":
        try:
            key = int(feature_id)
        except ValueError:
            raise NotFound(f"no {layer.name} feature {feature_id!r}") from None
        if not -(2**63) <= key < 2**63:
            raise NotFound(f"no {layer.name} feature {feature_id!r}")
    q = ft.build_where(layer, viewer, None, None, [])
    body = await access.service.fetchval(*ft.item_sql(q, key))
    if body is None:
        raise NotFound(f"no {layer.name} feature {feature_id!r}")
    doc = json.loads(body)
    root = base_url(request, access)
    doc["links"] = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {
            "href": f"{root}/ogc/collections/{layer.name}",
            "rel": "collection",
            "type": "application/json",
        },
    ]
    return GeoJSONResponse(json.dumps(doc), headers=_item_headers(layer))


@router.head("/tileMatrixSets", include_in_schema=False)
@router.get("/tileMatrixSets", response_model=dict[str, Any])
async def tile_matrix_sets(request: Request, access: TileAccessDep) -> JSONResponse:
    """The tile matrix sets of the tiles: WebMercatorQuad only."""
    root = base_url(request, access)
    return JSONResponse(
        {
            "tileMatrixSets": [
                {
                    "id": TMS_ID,
                    "title": "Google Maps Compatible for the World",
                    "uri": TMS_URI,
                    "links": [
                        {
                            "href": f"{root}/ogc/tileMatrixSets/{TMS_ID}",
                            "rel": "self",
                            "type": "application/json",
                        }
                    ],
                }
            ]
        }
    )


@router.head(f"/tileMatrixSets/{TMS_ID}", include_in_schema=False)
@router.get(f"/tileMatrixSets/{TMS_ID}", response_model=dict[str, Any])
async def tile_matrix_set() -> JSONResponse:
    """WebMercatorQuad in the TMS 2.0 JSON encoding, zooms 0-22 (with GDAL 3.6's 1.0 names)."""
    return JSONResponse(documents.tile_matrix_set())


@router.head("/collections/{collection_id}/tiles", include_in_schema=False)
@router.get("/collections/{collection_id}/tiles", response_model=dict[str, Any])
async def collection_tilesets(
    request: Request, collection_id: str, access: TileAccessDep, viewer: OptionalViewerDep
) -> JSONResponse:
    """The collection's vector tilesets (one: WebMercatorQuad)."""
    layer = _layer(collection_id)
    check_access(access, [layer], viewer)
    return JSONResponse(
        documents.tilesets(layer, base_url(request, access), _forward_query(request))
    )


@router.head(f"/collections/{{collection_id}}/tiles/{TMS_ID}", include_in_schema=False)
@router.get(f"/collections/{{collection_id}}/tiles/{TMS_ID}", response_model=dict[str, Any])
async def collection_tileset(
    request: Request, collection_id: str, access: TileAccessDep, viewer: OptionalViewerDep
) -> JSONResponse:
    """Tileset metadata: zoom range and per-zoom limits of the data, the tile URL template."""
    layer = _layer(collection_id)
    check_access(access, [layer], viewer)
    versions = await access.service.versions()
    extent = await data_extent(access, [layer], viewer, versions)
    query = _forward_query(request, {"v": data_tag([layer], versions)})
    return JSONResponse(documents.tileset(layer, base_url(request, access), query, extent))


@router.head(
    f"/collections/{{collection_id}}/tiles/{TMS_ID}/{{tile_matrix}}/{{tile_row}}/{{tile_col}}",
    include_in_schema=False,
)
@router.get(
    f"/collections/{{collection_id}}/tiles/{TMS_ID}/{{tile_matrix}}/{{tile_row}}/{{tile_col}}",
    response_class=MVTResponse,
    responses=TILE_RESPONSES,
)
async def collection_tile(
    request: Request,
    collection_id: str,
    tile_matrix: str,
    tile_row: str,
    tile_col: str,
    access: TileAccessDep,
    viewer: OptionalViewerDep,
    v: Annotated[str | None, Query(description="Data version tag (from the tileset).")] = None,
) -> Response:
    """One vector tile of the collection (tileMatrix = zoom, tileRow = y, tileCol = x)."""
    layer = _layer(collection_id)
    return await serve_tile(request, access, viewer, layer.name, tile_matrix, tile_col, tile_row)
