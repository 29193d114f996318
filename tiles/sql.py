"""All the SQL of tiles/: one statement per tile (every requested layer), built from the registry.

Identifiers come only from ``tiles.layers``; request values (z, x, y, the viewer's id…) are bound
as asyncpg ``$n`` parameters.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from geo.models import Lead
from geo.visibility import Viewer, lead_visibility, search_visibility
from tiles.layers import Layer

EXTENT = 4096
BUFFER = 64
# ST_TileEnvelope's margin is a fraction of the tile: the buffer in tile units / extent.
MARGIN = BUFFER / EXTENT
# Half a screen pixel (512 px tiles) in degrees at z0: ST_Simplify tolerance = this / 2^z.
HALF_PIXEL_DEG_Z0 = 180.0 / 512
# The same half pixel in EPSG:3857 metres at z0 (for the stored 3857 geometries).
HALF_PIXEL_M_Z0 = 40075016.68557849 / 512 / 2
# Cluster cell at z0 in EPSG:3857 metres: a 64-cell grid per tile.
CLUSTER_CELL_Z0 = 40075016.68557849 / 64
# Simplify polygons below this zoom (above it ST_AsMVTGeom's grid snapping is enough).
SIMPLIFY_BELOW = 13

VERSIONS_SQL = "SELECT layer, version FROM layer_versions"

_ENVELOPE = f"""WITH b AS (
  SELECT ST_TileEnvelope($1, $2, $3) AS env,
         ST_Transform(ST_TileEnvelope($1, $2, $3, margin => {MARGIN}), 4326) AS env4326,
         ST_TileEnvelope($1, $2, $3, margin => {MARGIN}) AS env_m
)"""

_DOLLAR = re.compile(r"\$(\d+)")


def visibility_sql(
    viewer: Viewer | None, alias: str, offset: int, layer: Layer | None = None
) -> tuple[str, list[Any]]:
    """``geo.visibility.lead_visibility`` compiled for asyncpg, parameters numbered after offset
    (for a layer of site search results, ``search_visibility`` on the row's run's search).

    The RBAC predicate is written once in geo/visibility.py; here it is only rendered.
    """
    if viewer is None:
        return "false", []
    if layer is not None and layer.visibility == "searches":
        sql, params = _compiled(search_visibility(viewer), offset)
        return (
            "EXISTS (SELECT 1 FROM site_search_runs AS vis_run JOIN site_searches "
            "ON site_searches.id = vis_run.search_id "
            f"WHERE vis_run.id = {alias}.run_id AND ({sql}))",
            params,
        )
    return _compiled(lead_visibility(viewer, Lead.__table__.alias(alias)), offset)


def _compiled(pred: Any, offset: int) -> tuple[str, list[Any]]:
    compiled = pred.compile(
        dialect=asyncpg_dialect.dialect(), compile_kwargs={"render_postcompile": True}
    )
    sql = _DOLLAR.sub(lambda m: f"${int(m.group(1)) + offset}", compiled.string)
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    return sql, params


def _layer_subquery(layer: Layer, z: int, where_extra: str) -> str:
    attrs = ", ".join(f"{a.sql} AS {a.name}" for a in layer.attrs_at(z))
    overview = layer.overview_at(z)
    if overview is not None:
        where_extra = f" AND {overview}{where_extra}"
    if layer.geom_3857:
        # Already projected and indexed: no per-row transform, the index tests the tile box.
        geom = f"t.{layer.geom_3857}"
        if layer.geometry_type == "Polygon" and z < SIMPLIFY_BELOW:
            geom = f"ST_Simplify({geom}, {HALF_PIXEL_M_Z0} / power(2, $1))"
        return (
            f"SELECT {layer.fid_sql} AS fid, {attrs}, "
            f"ST_AsMVTGeom({geom}, b.env, {EXTENT}, {BUFFER}, true) AS geom "
            f"FROM {layer.table} t, b WHERE t.{layer.geom_3857} && b.env_m{where_extra}"
        )
    geom = "t.geom"
    if layer.geometry_type == "Polygon" and z < SIMPLIFY_BELOW:
        # Simplify in degrees before the transform: fewer vertices to project. preserveCollapsed
        # keeps a ring smaller than the tolerance (a 719 m² lead at z10) instead of dropping it.
        keep = ", true" if layer.keep_small else ""
        geom = f"ST_Simplify(t.geom, {HALF_PIXEL_DEG_Z0} / power(2, $1){keep})"
    mvt_geom = f"ST_AsMVTGeom(ST_Transform({geom}, 3857), b.env, {EXTENT}, {BUFFER}, true)"
    if layer.keep_small:
        # Evaluated only when the polygon collapsed on the 4096 grid (coalesce is lazy).
        point = f"ST_Transform({layer.point_sql or 'ST_PointOnSurface(t.geom)'}, 3857)"
        mvt_geom = f"coalesce({mvt_geom}, ST_AsMVTGeom({point}, b.env, {EXTENT}, {BUFFER}, true))"
    return (
        f"SELECT {layer.fid_sql} AS fid, {attrs}, {mvt_geom} AS geom "
        f"FROM {layer.table} t, b WHERE t.geom && b.env4326{where_extra}"
    )


def _cluster_subquery(layer: Layer, where_extra: str) -> str:
    cell = f"({CLUSTER_CELL_Z0} / power(2, $1))"
    return (
        "SELECT count(*)::int AS count, mode() WITHIN GROUP (ORDER BY c.status) AS status, "
        "avg(c.quality_score) AS quality_score, "
        f"ST_AsMVTGeom(ST_Centroid(ST_Collect(c.p)), (SELECT env FROM b), {EXTENT}, {BUFFER}, "
        "true) AS geom "
        f"FROM (SELECT t.status, t.quality_score, ST_Transform({layer.point_sql}, 3857) AS p "
        f"FROM {layer.table} t, b WHERE {layer.point_sql} && b.env4326{where_extra}) c "
        f"GROUP BY floor(ST_X(c.p) / {cell}), floor(ST_Y(c.p) / {cell})"
    )


def tile_sql(layers: list[Layer], z: int, viewer: Viewer | None) -> tuple[str, list[Any]]:
    """One statement returning the MVT of every layer (already filtered by zoom range).

    Parameters: $1 z, $2 x, $3 y, then the visibility predicate's values. Each layer's ST_AsMVT
    result is concatenated (a valid MVT is a concatenation of layer messages). Rows whose
    ST_AsMVTGeom is NULL (collapsed or clipped away) are skipped by ST_AsMVT itself: a
    ``WHERE geom IS NOT NULL`` would make PostgreSQL compute ST_AsMVTGeom twice per row.
    """
    params: list[Any] = []
    parts: list[str] = []
    for layer in layers:
        where = ""
        if not layer.reference:
            vis, vparams = visibility_sql(viewer, "t", 3 + len(params), layer)
            params.extend(vparams)
            where = f" AND ({vis})"
        if layer.cluster_below is not None and z < layer.cluster_below:
            sub = _cluster_subquery(layer, where)
            fid = ""
        else:
            sub = _layer_subquery(layer, z, where)
            fid = ", 'fid'"
        parts.append(
            f"coalesce((SELECT ST_AsMVT(q, '{layer.name}', {EXTENT}, 'geom'{fid}) "
            f"FROM ({sub}) q), ''::bytea)"
        )
    return f"{_ENVELOPE}\nSELECT " + "\n || ".join(parts), params


def extent_sql(layer: Layer, viewer: Viewer | None) -> tuple[str, list[Any]]:
    """(minx, miny, maxx, maxy) in EPSG:4326 of a layer's data; NULLs when it is empty.

    Reference layers: the planner's estimate (no scan; needs ANALYZE statistics), else an exact
    ST_Extent. Leads: the exact extent of the leads the viewer may see (a small table).
    """
    if layer.reference:
        box = (
            f"coalesce(ST_EstimatedExtent('{layer.table}', 'geom'), "
            f"(SELECT ST_Extent(geom) FROM {layer.table}))"
        )
        params: list[Any] = []
    else:
        vis, params = visibility_sql(viewer, "t", 0, layer)
        box = f"(SELECT ST_Extent(t.geom) FROM {layer.table} t WHERE {vis})"
    return (
        f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT {box} AS e) s",
        params,
    )
