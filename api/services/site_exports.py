"""A site finder run's candidate sites as files: GeoJSON, KML, CSV (French Excel) and GeoPackage.

The sites of a run are bounded (``LFS_SITE_FINDER__MAX_RESULTS``, ≤ 2,000), so one query reads
them whole; GeoPackage and KML are written by GDAL through pyogrio (the formats' own driver, so
QGIS and Google Earth read them as they read GDAL's files), GeoJSON and CSV directly.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pyogrio.raw
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

ExportFormat = Literal["geojson", "kml", "csv", "gpkg"]

MEDIA_TYPES: dict[str, str] = {
    "geojson": "application/geo+json",
    "kml": "application/vnd.google-earth.kml+xml",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
}

_ROWS = """
SELECT r.rank, r.score, r.completeness, r.area_m2, r.buildable_m2, r.parcel_ids, r.facts,
       r.lead_id, ST_AsGeoJSON(r.geom, 7) AS geojson, ST_AsBinary(r.geom) AS wkb,
       ST_Y(ST_PointOnSurface(r.geom)) AS lat, ST_X(ST_PointOnSurface(r.geom)) AS lon
FROM site_search_results AS r
WHERE r.run_id = :run_id
ORDER BY r.rank
"""


@dataclass(frozen=True)
class Column:
    """One exported attribute: name, type ("str" | "float" | "int") and how to read it."""

    name: str
    kind: str
    description: str


COLUMNS = (
    Column("rank", "int", "rang (score, puis surface constructible)"),
    Column("score", "float", "score 0–100 (le barème des leads)"),
    Column("completeness", "float", "part des critères renseignés (0–1)"),
    Column("area_ha", "float", "surface des parcelles (ha, ellipsoïde)"),
    Column("buildable_ha", "float", "surface constructible (ha)"),
    Column("estimated_mwc", "float", "puissance estimée (MWc)"),
    Column("parcel_count", "int", "nombre de parcelles"),
    Column("parcel_ids", "str", "identifiants des parcelles"),
    Column("poste", "str", "poste source retenu"),
    Column("poste_distance_m", "float", "distance au poste (m)"),
    Column("poste_capacity_mw", "float", "capacité disponible au poste (MW)"),
    Column("verdicts", "str", "verdict de chaque critère et sa raison"),
    Column("lead_id", "int", "lead créé depuis ce site"),
)


def _values(row: Any) -> dict[str, Any]:
    facts = row.facts if isinstance(row.facts, dict) else orjson.loads(row.facts)
    parcels = row.parcel_ids if isinstance(row.parcel_ids, list) else orjson.loads(row.parcel_ids)
    chosen = facts.get("chosen_poste") or {}
    verdicts = facts.get("verdicts") or {}
    return {
        "rank": row.rank,
        "score": round(float(row.score), 1),
        "completeness": round(float(row.completeness), 2),
        "area_ha": round(float(row.area_m2) / 10_000, 2),
        "buildable_ha": round(float(row.buildable_m2) / 10_000, 2),
        "estimated_mwc": facts.get("estimated_mwc"),
        "parcel_count": facts.get("parcel_count", len(parcels)),
        "parcel_ids": " ".join(parcels),
        "poste": chosen.get("name") or chosen.get("code"),
        "poste_distance_m": chosen.get("distance_m"),
        "poste_capacity_mw": chosen.get("capacity_available_mw"),
        "verdicts": " ; ".join(
            f"{k} : {v.get('verdict')}" + (f" ({v['reason']})" if v.get("reason") else "")
            for k, v in verdicts.items()
        ),
        "lead_id": row.lead_id,
    }


async def run_rows(session: AsyncSession, run_id: int) -> list[Any]:
    """A run's sites with their geometry (GeoJSON and WKB) and a point on each, by rank."""
    return list((await session.execute(text(_ROWS), {"run_id": run_id})).all())


def to_geojson(rows: list[Any], meta: dict[str, Any]) -> bytes:
    """A FeatureCollection (RFC 7946, WGS84), one feature per site, with the run's metadata."""
    features = [
        {
            "type": "Feature",
            "id": row.rank,
            "geometry": orjson.loads(row.geojson),
            "properties": _values(row),
        }
        for row in rows
    ]
    return orjson.dumps({"type": "FeatureCollection", "features": features, "metadata": meta})


def _french(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:g}".replace(".", ",")
    return str(v)


def to_csv(rows: list[Any]) -> bytes:
    """One line per site, ``;``-separated with decimal commas and a UTF-8 BOM (French Excel opens
    it as columns), with a point of each site (latitude, longitude) instead of its outline."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow([c.name for c in COLUMNS] + ["latitude", "longitude"])
    for row in rows:
        v = _values(row)
        w.writerow(
            [_french(v[c.name]) for c in COLUMNS]
            + [_french(round(row.lat, 6)), _french(round(row.lon, 6))]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _field_arrays(rows: list[Any]) -> list[np.ndarray]:
    values = [_values(r) for r in rows]
    out = []
    for c in COLUMNS:
        col = [v[c.name] for v in values]
        if c.kind == "str":
            out.append(np.array(["" if x is None else str(x) for x in col], dtype=object))
        else:  # NaN for no value: written as null (nan_as_null)
            out.append(np.array([np.nan if x is None else float(x) for x in col], dtype="f8"))
    return out


def write_gdal(
    driver: Literal["GPKG", "KML"],
    layer: str,
    wkbs: list[bytes],
    fields: list[str],
    data: list[np.ndarray],
    geometry_type: str = "MultiPolygon",
) -> bytes:
    """Features (WKB, EPSG:4326, one array per field) written by GDAL's ``driver`` as one file:
    the writer of the site finder's and the leads' GeoPackage and KML exports (for KML, fields
    "Name" and "Description" become the placemark's name and balloon text)."""
    geometry = np.array(wkbs, dtype=object)
    with tempfile.TemporaryDirectory(prefix="lfs-export-") as tmp:
        path = Path(tmp) / f"{layer}.{driver.lower()}"
        pyogrio.raw.write(
            str(path),
            geometry,
            data,
            fields,
            layer=layer,
            driver=driver,
            geometry_type=geometry_type,
            crs="EPSG:4326",
            encoding="UTF-8",
        )
        return path.read_bytes()


def to_gdal(rows: list[Any], driver: Literal["GPKG", "KML"], layer: str) -> bytes:
    """The sites written by GDAL's ``driver`` (GeoPackage layer ``layer``; KML placemarks named
    "Site n" with the attributes as ExtendedData), EPSG:4326."""
    fields = [c.name for c in COLUMNS]
    data = _field_arrays(rows)
    if driver == "KML":
        fields = ["Name", "Description", *fields]
        data = [
            np.array([f"Site {r.rank}" for r in rows], dtype=object),
            np.array([_values(r)["verdicts"] for r in rows], dtype=object),
            *data,
        ]
    return write_gdal(driver, layer, [bytes(r.wkb) for r in rows], fields, data)
