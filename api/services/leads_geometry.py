"""A lead's geometry from GeoJSON, parcel ids or a point: validated and placed in PostGIS."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import auth_sql
from api.security import TokenClaims
from geo.db import Queryable
from geo.errors import InvalidInput

# Plain asyncpg (a pool, or the connection under a session: see driver_connection): the lead
# create path runs without SQLAlchemy, and edits share these checks inside their transaction.
Conn = Queryable

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
    """What the caller accepts: area range (m²) and the bounding box of France."""

    min_area_m2: float
    max_area_m2: float
    bbox: tuple[float, float, float, float]
    max_parcels: int = 500


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


def _check_rings(geojson: dict[str, Any]) -> None:
    polygons = geojson["coordinates"]
    if geojson["type"] == "Polygon":
        polygons = [polygons]
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


def _authenticated(sql: str) -> str:
    # The token's checks (api.deps.auth_sql) in the same statement: $6 user id, $7 jti.
    return (
        f"WITH auth AS ({auth_sql('$6', '$7')}), g AS ({sql}) "
        "SELECT auth.role AS auth_role, auth.revoked AS auth_revoked, g.* FROM auth, g"
    )


_AUTH_SQL = _authenticated(_SQL)


async def read_geojson(
    conn: Conn, geojson: dict[str, Any], limits: GeometryLimits, claims: TokenClaims | None = None
) -> Any:
    """Run the geometry checks in PostGIS (with the token's checks when ``claims`` are given:
    columns ``auth_role``, ``auth_revoked``); a text PostGIS can't read is a 422."""
    _check_rings(geojson)
    args: list[Any] = [json.dumps(geojson), *limits.bbox]
    sql = _SQL
    if claims is not None:
        sql = _AUTH_SQL
        args += [claims.user_id, claims.jti]
    try:
        if isinstance(conn, asyncpg.Connection) and conn.is_in_transaction():
            async with conn.transaction():  # a savepoint: the caller's transaction survives
                return await conn.fetchrow(sql, *args)
        return await conn.fetchrow(sql, *args)
    except asyncpg.PostgresError as exc:
        raise InvalidInput("the geometry can't be read as GeoJSON") from exc


async def place_geojson(
    conn: Conn,
    geojson: dict[str, Any],
    limits: GeometryLimits,
    *,
    repair: bool,
) -> PlacedGeometry:
    """Validate a GeoJSON (Multi)Polygon in PostGIS; InvalidInput (422) says what is wrong."""
    return placed_from(await read_geojson(conn, geojson, limits), limits, repair=repair)


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
    if row["has_communes"] and row["commune_insee"] is None:
        raise InvalidInput("the geometry is not on land (it touches no commune: sea?)")
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
        department=row["department"],
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
    if placed.commune_insee is None:
        # No communes layer: the cadastre's own commune code (the most frequent one).
        communes = [r["commune"] for r in rows]
        placed.commune_insee = max(set(communes), key=communes.count)
        placed.department = department_of(placed.commune_insee)
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
