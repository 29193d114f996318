"""Real open data loaded for the tile and OGC tests (a commune's cadastre, communes, zones…)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import psycopg

# Real files shipped with the repository (provenance: data/SOURCES.md).
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
CADASTRE = DATA / "cadastre-69114-parcelles.json.gz"
COMMUNES = DATA / "communes-69-rhone.geojson.gz"
ZPS = DATA / "natura2000_zps_cotes-darmor.geojson.gz"
PLU = ROOT / "tests" / "fixtures" / "reference" / "zone-urba_partition_DU_17345.json.gz"
POSTES = DATA / "postes_source_extract_AURA.csv"

GEOM = "ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326)), 3))"


def features(path: Path) -> list[dict[str, Any]]:
    """The features of a GeoJSON file."""
    raw = path.read_bytes()
    doc: dict[str, Any] = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
    return list(doc["features"])


def _num(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def load_reference(db_url: str) -> dict[str, int]:
    """Insert the reference layers from the shipped files; return row counts per layer."""
    parcels = features(CADASTRE)
    communes = features(COMMUNES)
    zps = features(ZPS)
    plu = features(PLU)
    with open(POSTES, newline="") as fh:
        postes = list(csv.DictReader(fh))
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO parcels (id, commune, prefixe, section, numero, contenance, geom) "
            f"VALUES (%s, %s, %s, %s, %s, %s, {GEOM})",
            [
                (
                    f["properties"]["id"],
                    f["properties"]["commune"],
                    f["properties"]["prefixe"],
                    f["properties"]["section"],
                    f["properties"]["numero"],
                    f["properties"]["contenance"],
                    json.dumps(f["geometry"]),
                )
                for f in parcels
            ],
        )
        cur.executemany(
            f"INSERT INTO communes (insee, name, department, geom) VALUES (%s, %s, '69', {GEOM})",
            [
                (f["properties"]["code"], f["properties"]["nom"], json.dumps(f["geometry"]))
                for f in communes
            ],
        )
        cur.executemany(
            "INSERT INTO env_zones (zone_type, code, name, geom) "
            f"VALUES ('natura2000_zps', %s, %s, {GEOM})",
            [
                (
                    f["properties"]["SITECODE"],
                    f["properties"]["SITENAME"],
                    json.dumps(f["geometry"]),
                )
                for f in zps
            ],
        )
        cur.executemany(
            "INSERT INTO urban_zones (natural_key, commune_insee, zone_type, label, label_long, "
            f"document_id, geom) VALUES (%s, '17345', %s, %s, %s, %s, {GEOM})",
            [
                (
                    str(f["properties"]["gid"]),
                    f["properties"]["typezone"],
                    f["properties"]["libelle"],
                    f["properties"]["libelong"],
                    f["properties"]["idurba"],
                    json.dumps(f["geometry"]),
                )
                for f in plu
            ],
        )
        cur.executemany(
            "INSERT INTO substations (code, name, operator, geom, s3renr_region, "
            "capacity_available_mw, quote_part_eur_kw) "
            "VALUES (%s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s, %s, %s)",
            [
                (
                    p["code"],
                    p["name"],
                    p["grd1_name"] or None,
                    float(p["lon"]),
                    float(p["lat"]),
                    p["territory_name"],
                    _num(p["INFO_FAS3R"]),
                    _num(p["INFO_QP_keur_per_MW"]),
                )
                for p in postes
            ],
        )
        cur.execute(
            "INSERT INTO layer_versions (layer, version) VALUES ('parcels', 1), ('communes', 1), "
            "('env_zones', 1), ('urban_zones', 1), ('substations', 1) "
            "ON CONFLICT (layer) DO UPDATE SET version = layer_versions.version + 1"
        )
        cur.execute("ANALYZE")
    return {
        "parcels": len(parcels),
        "communes": len(communes),
        "env_zones": len(zps),
        "urban_zones": len(plu),
        "substations": len(postes),
    }


# Four leads on parcels of commune 69114: (parcel id, status, assignee key, is_public).
LEAD_SPECS = (
    ("69114000AA0030", "NEW", "ops1", False),
    ("69114000AA0001", "QUALIFIED", "ops2", True),
    ("69114000AM0097", "CLIENT_READY", "ops2", False),
    ("69114000AM0100", "SOLD", None, False),
)


def parcel_geometry(parcel_id: str) -> dict[str, Any]:
    """The GeoJSON geometry of a parcel of the 69114 cadastre file."""
    for f in features(CADASTRE):
        if f["properties"]["id"] == parcel_id:
            geom: dict[str, Any] = f["geometry"]
            return geom
    raise KeyError(parcel_id)


async def create_leads(sessions: Any, users: dict[str, Any]) -> list[Any]:
    """Insert LEAD_SPECS through the ORM (and bump the leads layer version)."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import MultiPolygon, shape

    from geo.activity import bump_layer_version
    from geo.models import Lead, LeadStatus

    leads = []
    async with sessions() as session:
        for i, (pid, status, who, public) in enumerate(LEAD_SPECS):
            geom = shape(parcel_geometry(pid))
            if geom.geom_type == "Polygon":
                geom = MultiPolygon([geom])
            lead = Lead(
                internal_name=f"LFS-T6-{i}",
                name=f"Site {pid}",
                status=LeadStatus(status),
                assignee_id=users[who].id if who else None,
                is_public=public,
                commune_insee="69114",
                quality_score=50.0 + i,
                geom=from_shape(geom, srid=4326),
            )
            session.add(lead)
            leads.append(lead)
        await bump_layer_version(session, "leads")
        await session.commit()
    return leads
