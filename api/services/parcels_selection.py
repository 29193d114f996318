"""A selection of parcels before it is a lead: what it touches, and the selection as a file.

``constraints`` answers what a prospector checks before "Créer le lead": the protected zones and
PLU zones under the selection (with their overlap), the nearest poste source and its capacity,
the active leads already holding some of the parcels, and the total area. Where a layer has no
data for the selection (outside every import's coverage, or never imported) it says
"données absentes" instead of an empty list that would read as "nothing there" — the same
coverage rules as the enrichment (enrichment.spatial).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from sqlalchemy import ARRAY, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.services import site_exports
from api.services.reference import parcel_ref_label
from enrichment.spatial import _coverage, absent_message, partial_message, statement
from enrichment.wording import zone_label
from geo.errors import InvalidInput
from geo.models import Lead
from geo.pipeline import OPEN_STATUSES
from geo.visibility import Viewer, clause_sql, lead_visibility

# The selection: its parcels' union, total ellipsoidal area and declared contenance, and a point
# inside it (the grid's reference point, as a lead's centroid is for the enrichment).
_SELECTION = """sel AS (
    SELECT ST_Union(geom) AS g FROM parcels WHERE id = ANY(:ids)
)"""

_TOTALS = text(
    """SELECT id, ST_Area(geom::geography) AS area_m2, contenance FROM parcels
       WHERE id = ANY(:ids) ORDER BY id"""
).bindparams(bindparam("ids", type_=ARRAY(String)))

# As enrichment/sql/coverage.sql, for the selection instead of a lead.
_COVERAGE = text(
    f"""WITH {_SELECTION}, hits AS (
        SELECT c.layer,
               bool_or(ST_CoveredBy(sel.g, c.geom)) AS whole,
               bool_or(ST_Intersects(c.geom, ST_PointOnSurface(sel.g))) AS centroid_covered,
               array_agg(c.geom) AS geoms
        FROM sel JOIN layer_coverage AS c ON ST_Intersects(c.geom, sel.g)
        GROUP BY c.layer
    )
    SELECT hits.layer, hits.centroid_covered,
           CASE WHEN hits.whole THEN 1.0
                ELSE ST_Area(ST_Intersection(ST_Union(hits.geoms), sel.g)::geography)
                     / NULLIF(ST_Area(sel.g::geography), 0)
           END AS share
    FROM hits CROSS JOIN sel ORDER BY hits.layer"""
).bindparams(bindparam("ids", type_=ARRAY(String)))

# Protected zones with more than 1 m² under the selection (a shared edge is not a constraint).
_ZONES = text(
    f"""WITH {_SELECTION}
    SELECT z.zone_type, z.code, z.name,
           ST_Area(ST_Intersection(z.geom, sel.g)::geography) AS overlap_m2
    FROM sel JOIN env_zones AS z ON ST_Intersects(z.geom, sel.g)
    ORDER BY overlap_m2 DESC, z.zone_type, z.code"""
).bindparams(bindparam("ids", type_=ARRAY(String)))

_PLU = text(
    f"""WITH {_SELECTION}
    SELECT u.zone_type, u.label, u.commune_insee,
           sum(ST_Area(ST_Intersection(u.geom, sel.g)::geography)) AS overlap_m2
    FROM sel JOIN urban_zones AS u ON ST_Intersects(u.geom, sel.g)
    GROUP BY u.zone_type, u.label, u.commune_insee
    ORDER BY overlap_m2 DESC, u.label, u.commune_insee"""
).bindparams(bindparam("ids", type_=ARRAY(String)))

# As enrichment/sql/grid.sql: KNN candidates, then the exact ellipsoidal distance, within radius.
_POSTE = text(
    f"""WITH {_SELECTION}, c AS (SELECT ST_PointOnSurface(g) AS p FROM sel WHERE g IS NOT NULL)
    SELECT k.id, k.code, k.name, k.operator, k.voltage_kv, k.capacity_available_mw, k.distance_m
    FROM c CROSS JOIN LATERAL (
        SELECT s.*, ST_Distance(s.geom::geography, c.p::geography) AS distance_m
        FROM (SELECT * FROM substations AS s ORDER BY s.geom <-> c.p LIMIT 10) AS s
        WHERE ST_Distance(s.geom::geography, c.p::geography) <= :radius_m
        ORDER BY distance_m, s.id
        LIMIT 1
    ) AS k"""
).bindparams(bindparam("ids", type_=ARRAY(String)))

# The active leads holding a parcel of the selection (more than 1 m² of it, as the duplicate
# check of a lead's creation), with whether the viewer may see each.
_LEADS = """
SELECT id, internal_name, name, status, visible, array_agg(parcel_id ORDER BY parcel_id) AS parcels
FROM (
    SELECT l.id, l.internal_name, l.name, l.status, {visible} AS visible, p.id AS parcel_id
    FROM parcels AS p
    JOIN leads AS l ON l.geom && p.geom AND l.status = ANY(:open)
                   AND ST_Intersects(l.geom, p.geom)
                   AND ST_Area(ST_Intersection(l.geom, p.geom)::geography) > 1.0
    WHERE p.id = ANY(:ids)
) AS hits
GROUP BY id, internal_name, name, status, visible
ORDER BY id
"""

_EXPORT_ROWS = text(
    """SELECT p.id, p.commune, c.name AS commune_name, p.prefixe, p.section, p.numero,
              p.contenance, ST_Area(p.geom::geography) AS area_m2,
              ST_AsGeoJSON(p.geom, 7) AS geojson, ST_AsBinary(p.geom) AS wkb
       FROM parcels AS p LEFT JOIN communes AS c ON c.insee = p.commune
       WHERE p.id = ANY(:ids) ORDER BY p.id"""
).bindparams(bindparam("ids", type_=ARRAY(String)))


def _unique(ids: list[str]) -> list[str]:
    return sorted({i.strip().upper() for i in ids})


def _missing(ids: list[str], found: list[str]) -> None:
    """A 422 naming the parcels that do not exist (nothing is answered for a partial list)."""
    missing = sorted(set(ids) - set(found))
    if missing:
        raise InvalidInput(f"unknown parcels: {', '.join(missing)}", missing=missing)


def _layer_state(layer: str, layers: dict[str, Any], cov_rows: list[Any]) -> dict[str, Any]:
    """covered / partial / absent for the selection, with the French message when not covered."""
    if not layers.get(layer):  # the layer holds nothing at all: never imported
        return {"status": "absent", "covered_pct": 0.0, "message": absent_message(layer)}
    cov = _coverage(layer, layers, cov_rows)
    message = None
    if cov["status"] == "absent":
        message = absent_message(layer)
    elif cov["status"] == "partial":
        message = partial_message(layer, cov["covered_pct"])
    return {**cov, "message": message}


async def constraints(
    session: AsyncSession, ids: list[str], viewer: Viewer, grid_radius_m: float
) -> dict[str, Any]:
    """What the parcels ``ids`` touch together (docs/api.md, "Selection constraints")."""
    ids = _unique(ids)
    p = {"ids": ids}
    parcels = (await session.execute(_TOTALS, p)).all()
    _missing(ids, [r.id for r in parcels])
    layers = dict((await session.execute(statement("layers"))).mappings().one())
    cov_rows = list((await session.execute(_COVERAGE, p)).mappings())
    area_m2 = sum(float(r.area_m2 or 0.0) for r in parcels)
    declared = [r.contenance for r in parcels if r.contenance is not None]

    env = _layer_state("env_zones", layers, cov_rows)
    env["items"] = [
        {
            "zone_type": r.zone_type,
            "label": zone_label(r.zone_type),
            "code": r.code,
            "name": r.name,
            "overlap_m2": round(float(r.overlap_m2), 1),
            "share": round(float(r.overlap_m2) / area_m2, 4) if area_m2 else 0.0,
        }
        for r in await session.execute(_ZONES, p)
        if float(r.overlap_m2 or 0.0) > 1.0
    ]
    plu = _layer_state("urban_zones", layers, cov_rows)
    plu["items"] = [
        {
            "zone_type": r.zone_type,
            "label": r.label,
            "commune_insee": r.commune_insee,
            "overlap_m2": round(float(r.overlap_m2), 1),
            "share": round(float(r.overlap_m2) / area_m2, 4) if area_m2 else 0.0,
        }
        for r in await session.execute(_PLU, p)
        if float(r.overlap_m2 or 0.0) > 1.0
    ]
    grid = _layer_state("substations", layers, cov_rows)
    row = (await session.execute(_POSTE, {**p, "radius_m": grid_radius_m})).one_or_none()
    grid["radius_m"] = grid_radius_m
    grid["nearest"] = (
        None
        if row is None
        else {
            "id": row.id,
            "code": row.code,
            "name": row.name,
            "operator": row.operator,
            "voltage_kv": row.voltage_kv,
            "capacity_available_mw": row.capacity_available_mw,
            "distance_m": round(float(row.distance_m), 1),
        }
    )

    visible = clause_sql(lead_visibility(viewer, Lead.__table__.alias("l")))
    lead_rows = (
        await session.execute(
            text(_LEADS.format(visible=visible)).bindparams(bindparam("ids", type_=ARRAY(String))),
            {**p, "open": sorted(s.value for s in OPEN_STATUSES)},
        )
    ).all()
    return {
        "parcel_count": len(parcels),
        "area_m2": round(area_m2, 1),
        "contenance_m2": sum(declared) if len(declared) == len(parcels) else None,
        "env_zones": env,
        "urban_zones": plu,
        "substations": grid,
        "leads": [
            {
                "id": r.id,
                "internal_name": r.internal_name,
                "name": r.name,
                "status": r.status,
                "parcel_ids": list(r.parcels),
            }
            for r in lead_rows
            if r.visible
        ],
        "hidden_leads": sum(1 for r in lead_rows if not r.visible),
    }


_EXPORT_FIELDS = ("id", "reference", "commune", "commune_name", "contenance_m2", "area_m2")


async def export_rows(session: AsyncSession, ids: list[str]) -> list[dict[str, Any]]:
    """The selected parcels with their main properties, id order (422 for unknown ids)."""
    ids = _unique(ids)
    rows = (await session.execute(_EXPORT_ROWS, {"ids": ids})).all()
    _missing(ids, [r.id for r in rows])
    return [
        {
            "properties": {
                "id": r.id,
                "reference": parcel_ref_label(r.commune, r.prefixe, r.section, r.numero),
                "commune": r.commune,
                "commune_name": r.commune_name,
                "contenance_m2": r.contenance,
                "area_m2": round(float(r.area_m2), 1),
            },
            "geojson": r.geojson,
            "wkb": bytes(r.wkb),
        }
        for r in rows
    ]


def to_geojson(rows: list[dict[str, Any]]) -> bytes:
    """The parcels as a GeoJSON FeatureCollection (EPSG:4326)."""
    return orjson.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": r["properties"]["id"],
                    "geometry": orjson.loads(r["geojson"]),
                    "properties": r["properties"],
                }
                for r in rows
            ],
        }
    )


def to_kml(rows: list[dict[str, Any]]) -> bytes:
    """The parcels as KML placemarks named by their cadastral reference, through the shared GDAL
    writer of the site finder's and the leads' exports."""
    props = [r["properties"] for r in rows]
    fields = ["Name", "Description", *_EXPORT_FIELDS]
    data = [
        np.array([f"Parcelle {p['reference']}" for p in props], dtype=object),
        np.array(
            [f"{p['commune_name'] or p['commune']}, {p['area_m2']} m²" for p in props], dtype=object
        ),
        *(
            np.array(["" if p[k] is None else str(p[k]) for p in props], dtype=object)
            for k in _EXPORT_FIELDS
        ),
    ]
    return site_exports.write_gdal("KML", "selection", [r["wkb"] for r in rows], fields, data)
