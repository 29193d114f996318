"""A lead's geometry from GeoJSON, parcel ids or a point: validated and placed in PostGIS."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np
import shapely
import shapely.geometry
from sqlalchemy.ext.asyncio import AsyncSession

from geo.errors import InvalidInput

# The asyncpg connection under a session (driver_connection): the create and the edits run
# these checks inside their transaction.
Conn = asyncpg.Connection

# Validity (with PostGIS's reason), the repaired polygon, its area, the France-bounds test and
# the commune: one function (migration 0013), whose plan is prepared once per connection.
_SQL = "SELECT * FROM lead_geometry_check($1::text, $2, $3, $4, $5)"
_PARCELS = """
SELECT id, commune, section, numero, contenance, area_m2 FROM parcels WHERE id = ANY($1::text[])
"""
_UNION = "SELECT ST_AsGeoJSON(ST_Union(geom), 9) FROM parcels WHERE id = ANY($1::text[])"
_PARCEL_AT = """
SELECT id FROM parcels WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326))
ORDER BY id LIMIT 1
"""
_COMMUNE = "SELECT name, department FROM communes WHERE insee = $1"


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under a session, inside the session's transaction."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    return driver


@dataclass(frozen=True)
class GeometryLimits:
    """What the caller accepts: area range (m²), the bounding box of France, and the size of a
    geometry (parcels, polygons, rings, vertices) checked before any SQL runs."""

    min_area_m2: float
    max_area_m2: float
    bbox: tuple[float, float, float, float]
    max_parcels: int = 500
    max_polygons: int = 500
    max_rings: int = 500
    max_vertices: int = 20_000
    max_repair_crossings: int = 500


@dataclass
class PlacedGeometry:
    """A valid MultiPolygon ready to store, with its commune and parcels when known."""

    ewkb: bytes
    area_m2: float
    repaired: bool
    commune_insee: str | None = None
    commune_name: str | None = None
    department: str | None = None
    parcels: list[dict[str, Any]] = field(default_factory=list)
    # Who gave the commune: "communes" (an outline), "parcels" (the cadastre's code), None.
    commune_source: str | None = None


def check_shape(geojson: dict[str, Any], limits: GeometryLimits) -> None:
    """The geometry's size and form, in Python before any SQL: PostGIS's validity check and
    repair of a few thousand overlapping rings hold a backend for minutes at gigabytes, beyond
    the reach of a statement timeout (GEOS does not stop for a cancel). 422 naming the limit."""
    polygons = geojson["coordinates"]
    if geojson["type"] == "Polygon":
        polygons = [polygons]
    if len(polygons) > limits.max_polygons:
        raise InvalidInput(
            f"the geometry has {len(polygons)} polygons; at most {limits.max_polygons} are "
            "accepted",
            limit="max_polygons",
            max=limits.max_polygons,
        )
    rings = sum(len(polygon) for polygon in polygons)
    if rings > limits.max_rings:
        raise InvalidInput(
            f"the geometry has {rings} rings; at most {limits.max_rings} are accepted",
            limit="max_rings",
            max=limits.max_rings,
        )
    vertices = sum(len(ring) for polygon in polygons for ring in polygon)
    if vertices > limits.max_vertices:
        raise InvalidInput(
            f"the geometry has {vertices} vertices; at most {limits.max_vertices} are accepted "
            "(simplify it)",
            limit="max_vertices",
            max=limits.max_vertices,
        )
    for polygon in polygons:
        for ring in polygon:
            if any(not all(math.isfinite(c) for c in pos) for pos in ring):
                raise InvalidInput("a coordinate is not a finite number")
            if ring[0][:2] != ring[-1][:2]:
                raise InvalidInput("a polygon ring is not closed (first and last positions differ)")


def department_of(insee: str | None) -> str | None:
    """The department code of an INSEE commune code (2A/2B for Corsica, 97x overseas)."""
    if not insee:
        return None
    return insee[:3] if insee.startswith("97") else insee[:2]


def planar_shape(geojson: dict[str, Any]) -> shapely.Geometry:
    """A GeoJSON (Multi)Polygon as a shapely geometry on its longitude and latitude: a position
    may carry an altitude, and a ring mixing ``[x, y]`` and ``[x, y, z]`` made shapely fail (a
    ValueError, a 500). Validity and bounds are questions in the plane, as PostGIS answers them."""
    coords = geojson["coordinates"]
    if geojson["type"] == "Polygon":
        coords = [[p[:2] for p in ring] for ring in coords]
    else:
        coords = [[[p[:2] for p in ring] for ring in polygon] for polygon in coords]
    return shapely.geometry.shape({"type": geojson["type"], "coordinates": coords})


def check_validity(geojson: dict[str, Any], limits: GeometryLimits, *, repair: bool) -> None:
    """An invalid geometry is refused here, with GEOS's reason (the same GEOS check as
    PostGIS's ST_IsValidReason), unless ``repair``; then only when its self-intersections are
    few enough to repair in reasonable time. ST_MakeValid's cost grows faster than the square of
    the crossings (0.4 s for 1,200, 2.9 s for 4,600 on the 2-core machine) and it checks for
    cancellation too rarely to be stopped by a statement timeout (12.9 s for a 3 s one)."""
    geom = planar_shape(geojson)
    if shapely.is_valid(geom):
        return
    if not repair:
        reason = shapely.is_valid_reason(geom)
        raise InvalidInput(
            f"invalid geometry: {reason}; send repair=true to accept the geometry repaired by "
            "ST_MakeValid",
            reason=reason,
        )
    crossings = count_crossings(geom, stop_after=limits.max_repair_crossings)
    if crossings > limits.max_repair_crossings:
        raise InvalidInput(
            f"the geometry crosses itself more than {limits.max_repair_crossings} times: too "
            "tangled to repair; send a valid geometry",
            limit="max_repair_crossings",
            max=limits.max_repair_crossings,
        )


def count_crossings(geom: Any, *, stop_after: int) -> int:
    """How many pairs of edges of ``geom``'s rings meet, besides consecutive edges of a ring at
    their shared vertex; counting stops past ``stop_after`` (a block of edges at a time, so a
    tangle of millions of pairs costs no more than the first block)."""
    rings = [
        np.asarray(ring.coords)[:, :2]
        for polygon in getattr(geom, "geoms", [geom])
        for ring in (polygon.exterior, *polygon.interiors)
    ]
    starts = np.concatenate([r[:-1] for r in rings])
    ends = np.concatenate([r[1:] for r in rings])
    ring_id = np.concatenate([np.full(len(r) - 1, i) for i, r in enumerate(rings)])
    position = np.concatenate([np.arange(len(r) - 1) for r in rings])
    ring_edges = np.array([len(r) - 1 for r in rings])[ring_id]
    edges = np.asarray(shapely.linestrings(np.stack([starts, ends], axis=1)), dtype=object)
    tree = shapely.STRtree(edges)
    found = 0
    for lo in range(0, len(edges), 256):
        i, j = tree.query(edges[lo : lo + 256], predicate="intersects")
        i = i + lo
        gap = np.abs(position[j] - position[i])
        adjacent = (ring_id[i] == ring_id[j]) & ((gap == 1) | (gap == ring_edges[i] - 1))
        found += int(np.count_nonzero((i < j) & ~adjacent))
        if found > stop_after:
            break
    return found


async def read_geojson(
    conn: Conn, geojson: dict[str, Any], limits: GeometryLimits, *, repair: bool
) -> Any:
    """Run the geometry checks in PostGIS, once its size and validity are checked in Python
    (:func:`check_shape`, :func:`check_validity`); a text PostGIS can't read is a 422."""
    check_shape(geojson, limits)
    check_validity(geojson, limits, repair=repair)
    args: list[Any] = [json.dumps(geojson), *limits.bbox]
    try:
        if isinstance(conn, asyncpg.Connection) and conn.is_in_transaction():
            async with conn.transaction():  # a savepoint: the caller's transaction survives
                return await conn.fetchrow(_SQL, *args)
        return await conn.fetchrow(_SQL, *args)
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == "57014":  # statement_timeout: the request's time is up (503)
            raise
        raise InvalidInput("the geometry can't be read as GeoJSON") from exc


async def place_geojson(
    conn: Conn,
    geojson: dict[str, Any],
    limits: GeometryLimits,
    *,
    repair: bool,
) -> PlacedGeometry:
    """Validate a GeoJSON (Multi)Polygon in PostGIS; InvalidInput (422) says what is wrong."""
    row = await read_geojson(conn, geojson, limits, repair=repair)
    return placed_from(row, limits, repair=repair)


def placed_from(row: Any, limits: GeometryLimits, *, repair: bool) -> PlacedGeometry:
    """The checks on a row of :func:`read_geojson`: InvalidInput (422) says what is wrong."""
    if not row["valid"] and not repair:
        raise InvalidInput(
            f"invalid geometry: {row['reason']}; send repair=true to accept the geometry "
            "repaired by ST_MakeValid",
            reason=row["reason"],
        )
    if row["empty"]:
        raise InvalidInput(f"the geometry has no area ({row['reason']})", reason=row["reason"])
    if not row["in_bounds"]:
        raise InvalidInput(
            "the geometry is outside metropolitan France and Corsica", bbox=list(limits.bbox)
        )
    # The SQL falls back from the commune outlines to the parcels' own commune code: no answer
    # means no land data at all under the geometry.
    if row["has_communes"] and row["commune_insee"] is None:
        raise InvalidInput(
            "the geometry is not on land (it touches no commune and no parcel: sea?)"
        )
    area = float(row["area_m2"])
    if not limits.min_area_m2 <= area <= limits.max_area_m2:
        raise InvalidInput(
            f"the surface {area:,.0f} m² is outside the accepted range "
            f"{limits.min_area_m2:,.0f}–{limits.max_area_m2:,.0f} m²",
            area_m2=round(area, 1),
        )
    return PlacedGeometry(
        ewkb=bytes(row["ewkb"]),
        area_m2=area,
        repaired=not row["valid"],
        commune_insee=row["commune_insee"],
        commune_name=row["commune_name"],
        department=row["department"] or department_of(row["commune_insee"]),
        commune_source=row["commune_source"],
    )


async def place_parcels(
    conn: Conn, parcel_ids: list[str], limits: GeometryLimits
) -> PlacedGeometry:
    """The union of cadastral parcels; unknown ids are a 422 listing them."""
    ids = list(dict.fromkeys(parcel_ids))
    if len(ids) > limits.max_parcels:
        raise InvalidInput(f"at most {limits.max_parcels} parcels per lead")
    rows = await conn.fetch(_PARCELS, ids)
    found = {r["id"]: r for r in rows}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise InvalidInput(f"unknown parcel ids: {', '.join(unknown)}", unknown_parcel_ids=unknown)
    union = await conn.fetchval(_UNION, ids)
    placed = await place_geojson(conn, json.loads(union), limits, repair=True)
    placed.parcels = [
        {
            "id": r["id"],
            "commune": r["commune"],
            "section": r["section"],
            "numero": r["numero"],
            "contenance_m2": r["contenance"],
            "area_m2": round(r["area_m2"], 1) if r["area_m2"] is not None else None,
        }
        for r in (found[i] for i in ids)
    ]
    # Without an outline, lead_geometry_check already answered with the parcels' own code.
    return placed


async def parcel_at(conn: Conn, lat: float, lon: float) -> str:
    """The id of the parcel under a position; 422 when there is none."""
    pid: str | None = await conn.fetchval(_PARCEL_AT, lon, lat)
    if pid is None:
        raise InvalidInput(f"no known parcel at lat={lat}, lon={lon}")
    return pid


async def commune_facts(conn: Conn, insee: str) -> tuple[str | None, str | None]:
    """(name, department) of a commune when the layer has it."""
    row = await conn.fetchrow(_COMMUNE, insee)
    return (row["name"], row["department"]) if row else (None, None)
