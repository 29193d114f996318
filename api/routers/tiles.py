"""Vector tiles (/tiles): MVT per layer or composite, TileJSON, style, metadata.json, OGC TMS."""

from __future__ import annotations

import gzip
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import OptionalViewerDep
from api.tile_access import TileAccess, TileAccessDep
from geo.errors import BadRequest, NotAuthenticated, NotFound
from geo.visibility import Viewer
from tiles import documents
from tiles.cache import ClientGone
from tiles.layers import LAYERS, MAX_ZOOM, Layer, parse_layers
from tiles.service import PUBLIC_SCOPE, TileRequest

MVT = "application/vnd.mapbox-vector-tile"
LONG_CACHE = "public, max-age=31536000, immutable"

router = APIRouter(prefix="/tiles", tags=["tiles"])

TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A Mapbox Vector Tile (gzip-encoded when the client accepts it).",
        "content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
    },
    204: {"description": "Empty tile: no feature here."},
    304: {"description": "Not modified (If-None-Match matched the ETag)."},
}


class MVTResponse(Response):
    """A Mapbox Vector Tile body."""

    media_type = MVT


def layers_or_404(spec: str) -> list[Layer]:
    """Parse a layer list; unknown names answer 404 listing the layers."""
    try:
        layers = parse_layers(spec)
    except KeyError as exc:
        raise NotFound(f"unknown layer {exc.args[0]!r}", layers=list(LAYERS)) from None
    if not layers:
        raise NotFound("no layer given", layers=list(LAYERS))
    return layers


def parse_zxy(z: str, x: str, y: str) -> tuple[int, int, int]:
    """Tile coordinates: non-integers are a 400, coordinates outside the zoom's grid a 404."""
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError:
        raise BadRequest("z, x and y must be integers") from None
    if not 0 <= zi <= MAX_ZOOM:
        raise NotFound(f"zoom must be between 0 and {MAX_ZOOM}")
    n = 1 << zi
    if not (0 <= xi < n and 0 <= yi < n):
        raise NotFound(f"tile {zi}/{xi}/{yi} is outside the grid (0..{n - 1} at z{zi})")
    return zi, xi, yi


def check_access(access: TileAccess, layers: list[Layer], viewer: Viewer | None) -> None:
    """Leads need a token; reference layers too unless they are public (the default)."""
    if viewer is not None:
        return
    if any(not la.reference for la in layers) or not access.public_reference:
        raise NotAuthenticated("this layer needs a token (Authorization: Bearer or ?token=)")


def data_tag(layers: list[Layer], versions: dict[str, int]) -> str:
    """A short hash of the layers' data versions, used in versioned URLs (``?v=``)."""
    raw = ",".join(f"{la.name}:{versions.get(la.name, 0)}" for la in layers)
    return hashlib.blake2s(raw.encode(), digest_size=6).hexdigest()


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == bare for t in if_none_match.split(","))


async def serve_tile(
    request: Request,
    access: TileAccess,
    viewer: Viewer | None,
    spec: str,
    z: str,
    x: str,
    y: str,
) -> Response:
    """The shared body of every tile route (XYZ and OGC WebMercatorQuad)."""
    layers = layers_or_404(spec)
    zi, xi, yi = parse_zxy(z, x, y)
    check_access(access, layers, viewer)
    private = any(not la.reference for la in layers)
    scope = viewer.scope if (private and viewer is not None) else PUBLIC_SCOPE
    in_range = [la for la in layers if zi >= la.minzoom]
    versions = await access.service.versions()
    req = TileRequest(
        tuple(in_range), zi, xi, yi, tuple(versions.get(la.name, 0) for la in in_range), scope
    )
    # CORS headers come from api/cors.py, the same on every answer of /tiles and /ogc.
    headers = {"ETag": req.etag, "Vary": "Accept-Encoding, Authorization"}
    if private or not access.public_reference:
        headers["Cache-Control"] = "private, no-cache"
    elif request.query_params.get("v") == data_tag(layers, versions):
        headers["Cache-Control"] = LONG_CACHE
    else:
        headers["Cache-Control"] = "public, no-cache"
    if _matches(request.headers.get("if-none-match"), req.etag):
        return Response(status_code=304, headers=headers)
    if not in_range:
        return Response(status_code=204, headers=headers)
    try:
        data = await access.service.render(req, viewer, request.is_disconnected)
    except ClientGone:
        return Response(status_code=499, headers=headers)
    if not data:
        return Response(status_code=204, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
    else:
        data = gzip.decompress(data)
    return MVTResponse(content=data, headers=headers)


async def data_extent(
    access: TileAccess, layers: list[Layer], viewer: Viewer | None, versions: dict[str, int]
) -> documents.Bounds | None:
    """The union of the layers' cached data extents (for leads: the ones the viewer may see)."""
    boxes = []
    for la in layers:
        scope = viewer.scope if (not la.reference and viewer is not None) else PUBLIC_SCOPE
        version = versions.get(la.name, 0)
        boxes.append(await access.service.extent(la, version, scope, viewer))
    return documents.union(boxes)


def base_url(request: Request, access: TileAccess) -> str:
    """The public base URL for links (settings.public_url, else the request's)."""
    configured = request.app.state.lfs.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _forward_query(request: Request, extra: dict[str, str] | None = None) -> str:
    """The token (if given in the query) carried into generated URLs, plus ``extra``.

    Only for routes that verified it (OptionalViewerDep: a tile token, never an access token).
    """
    params = {}
    token = request.query_params.get("token")
    if token:
        params["token"] = token
    params.update(extra or {})
    return "&".join(f"{k}={v}" for k, v in params.items())


@router.head("/style.json", include_in_schema=False)
@router.get("/style.json", response_model=dict[str, Any])
async def style(request: Request, access: TileAccessDep, viewer: OptionalViewerDep) -> JSONResponse:
    """A MapLibre style drawing every layer (leads coloured by status, zones by type)."""
    authed = viewer is not None
    doc = documents.style(
        base_url(request, access), _forward_query(request), authed, access.public_reference
    )
    return JSONResponse(doc)


@router.head("/tileMatrixSets/WebMercatorQuad", include_in_schema=False)
@router.get("/tileMatrixSets/WebMercatorQuad", response_model=dict[str, Any])
async def tile_matrix_set() -> JSONResponse:
    """The OGC WebMercatorQuad tile matrix set used by every tile route."""
    return JSONResponse(documents.tile_matrix_set())


@router.head("/{layers}.json", include_in_schema=False)
@router.get("/{layers}.json", response_model=dict[str, Any])
async def tilejson(
    request: Request, layers: str, access: TileAccessDep, viewer: OptionalViewerDep
) -> JSONResponse:
    """TileJSON 3.0 of one layer or a comma-separated composite (versioned tile URLs)."""
    parsed = layers_or_404(layers)
    check_access(access, parsed, viewer)
    versions = await access.service.versions()
    query = _forward_query(request, {"v": data_tag(parsed, versions)})
    extent = await data_extent(access, parsed, viewer, versions)
    doc = documents.tilejson(parsed, base_url(request, access), query, extent=extent)
    return JSONResponse(doc)


@router.head("/{layer}/metadata.json", include_in_schema=False)
@router.get("/{layer}/metadata.json", response_model=dict[str, Any])
async def metadata(layer: str, access: TileAccessDep, viewer: OptionalViewerDep) -> JSONResponse:
    """MBTiles-style metadata of a layer's tile directory (GDAL's MVT driver reads it)."""
    parsed = layers_or_404(layer)
    if len(parsed) != 1:
        raise NotFound("metadata.json is per layer")
    check_access(access, parsed, viewer)
    versions = await access.service.versions()
    extent = await data_extent(access, parsed, viewer, versions)
    return JSONResponse(documents.mbtiles_metadata(parsed[0], extent))


@router.head("/{layers}/WebMercatorQuad/{z}/{y}/{x}", include_in_schema=False)
@router.get(
    "/{layers}/WebMercatorQuad/{z}/{y}/{x}", response_class=MVTResponse, responses=TILE_RESPONSES
)
async def ogc_tile(
    request: Request,
    layers: str,
    z: str,
    y: str,
    x: str,
    access: TileAccessDep,
    viewer: OptionalViewerDep,
    v: Annotated[str | None, Query(description="Data version tag (from TileJSON).")] = None,
) -> Response:
    """OGC API - Tiles path: tileMatrix/tileRow/tileCol of WebMercatorQuad."""
    return await serve_tile(request, access, viewer, layers, z, x, y)


@router.head("/{layers}/{z}/{x}/{y}.{fmt}", include_in_schema=False)
@router.get("/{layers}/{z}/{x}/{y}.{fmt}", response_class=MVTResponse, responses=TILE_RESPONSES)
async def xyz_tile(
    request: Request,
    layers: str,
    z: str,
    x: str,
    y: str,
    fmt: str,
    access: TileAccessDep,
    viewer: OptionalViewerDep,
    v: Annotated[str | None, Query(description="Data version tag (from TileJSON).")] = None,
) -> Response:
    """A vector tile of one layer or of comma-separated layers (one SQL statement)."""
    if fmt not in ("mvt", "pbf"):
        raise NotFound("tiles are served as .mvt or .pbf")
    return await serve_tile(request, access, viewer, layers, z, x, y)
