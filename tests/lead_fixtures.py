"""Real reference rows for the lead tests: cadastre 69114 parcels and Rhône communes (SQL)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np
import psycopg
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from tests.conftest import DATA, read_json

CADASTRE = DATA / "cadastre-69114-parcelles.json.gz"
COMMUNES = DATA / "communes-69-rhone.geojson.gz"
_TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True).transform


@cache
def cadastre() -> dict[str, dict[str, Any]]:
    """Every parcel feature of the 69114 sample, by id."""
    data = read_json(CADASTRE)
    return {f["properties"]["id"]: f for f in data["features"]}


def area_l93(geojson: dict[str, Any]) -> float:
    """Area in m² in Lambert-93 (EPSG:2154), computed with shapely + pyproj, not PostGIS."""

    def to_l93(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(_TO_L93(xy[:, 0], xy[:, 1]))

    return float(shapely.transform(shape(geojson), to_l93).area)


def sync_url(db_url: str) -> str:
    """A psycopg URL from a SQLAlchemy one."""
    return db_url.replace("postgresql+asyncpg://", "postgresql://")


def load_parcels(db_url: str, ids: list[str]) -> None:
    """Insert some real parcels of the 69114 sample."""
    feats = cadastre()
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        for pid in ids:
            f = feats[pid]
            p = f["properties"]
            conn.execute(
                "INSERT INTO parcels (id, commune, prefixe, section, numero, contenance, geom)"
                " VALUES (%s, %s, %s, %s, %s, %s,"
                " ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326)))"
                " ON CONFLICT (id) DO NOTHING",
                (
                    pid,
                    p["commune"],
                    p["prefixe"],
                    p["section"],
                    p["numero"].zfill(4),
                    p["contenance"],
                    json.dumps(f["geometry"]),
                ),
            )


def load_communes(db_url: str, codes: list[str] | None = None) -> None:
    """Insert Rhône communes (all, or some INSEE codes)."""
    data = read_json(COMMUNES)
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        for f in data["features"]:
            code = f["properties"]["code"]
            if codes is not None and code not in codes:
                continue
            conn.execute(
                "INSERT INTO communes (insee, name, department, geom) VALUES (%s, %s, '69',"
                " ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326))) ON CONFLICT DO NOTHING",
                (code, f["properties"]["nom"], json.dumps(f["geometry"])),
            )


def count_rows(db_url: str, *tables: str) -> dict[str, int]:
    """Row counts of some tables (to assert nothing was half-written)."""
    with psycopg.connect(sync_url(db_url)) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in tables
        }


LEAD_TABLES = (
    "leads",
    "lead_sourcing",
    "lead_foncier",
    "lead_status_history",
    "activity_log",
    "lead_name_counters",
)


# A lead drawn where another active one is: a declared duplicate (else 409 lead.overlaps, or
# lead.parcels_taken for parcels; tests/test_drawn_duplicates.py, tests/test_pipeline_api.py).
DUP: dict[str, Any] = {"allow_duplicate": True, "duplicate_reason": "test"}


def square(lon: float, lat: float, d: float = 0.002) -> dict[str, Any]:
    """A GeoJSON square polygon of side ``d`` degrees from (lon, lat)."""
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


PEOPLE = {
    "admin": ("ADMIN", "Ada Admin"),
    "manager": ("MANAGER", "Marc Manager"),
    "ops": ("OPS", "Olga Ops"),
    "ops2": ("OPS", "Oscar Ops"),
    "sales": ("COMMERCIAL", "Sam Sales"),
}


async def make_people(make_user: Any, auth_headers: Any) -> dict[str, tuple[Any, dict[str, str]]]:
    """One user per PEOPLE entry, logged in: {key: (user, Authorization header)}."""
    from geo.models import Role

    out = {}
    for key, (role, name) in PEOPLE.items():
        user = await make_user(Role(role), full_name=name)
        out[key] = (user, await auth_headers(user=user))
    return out


def mark_enriched(db_url: str, lead_id: int, score: float | None = 55.0) -> None:
    """Give a lead what a completed enrichment leaves (``enriched_at``, a score): the moves to
    ENRICHED and QUALIFIED need them (geo.pipeline.check_ready). The enrichment itself is
    tested in tests/test_enrichment*.py."""
    with psycopg.connect(sync_url(db_url)) as conn:
        conn.execute(
            "UPDATE leads SET enriched_at = now(), quality_score = %s, enrichment_stale = false "
            "WHERE id = %s",
            (score, lead_id),
        )
