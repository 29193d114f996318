"""Test data for documents and dossiers: a real site of 20 cadastral parcels (Terres de Bord, Eure),
reference zones and postes around it, and lead_* rows filled as the enrichment engine does.

Also used by bench/bench_pdf.py. Geometries are real (Etalab cadastre, tests/fixtures/reference);
the zones and postes are placed by hand around the site so that every map element has something
to show.
"""

from __future__ import annotations

import gzip
import json
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from geoalchemy2.shape import from_shape
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.ops import unary_union
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from enrichment import score as sc
from geo.crypto import FieldCipher
from geo.models import (
    AgreementStatus,
    EnvZone,
    EnvZoneType,
    Lead,
    LeadEconomic,
    LeadFoncier,
    LeadNetwork,
    LeadRegulatory,
    LeadSourcing,
    LeadStatus,
    LeadTechnical,
    Parcel,
    Substation,
    Verdict,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PARCELS_FILE = FIXTURES / "reference" / "cadastre-27412-parcelles.geojson.gz"
PVGIS_FILE = FIXTURES / "pvgis" / "grid-connected-and-tracking-pv-systems.json"
GEOD = Geod(ellps="WGS84")

OWNERS = [
    {
        "name": "Jeanne Lefebvre-Morin",
        "type": "private",
        "address": "12 rue des Tilleuls, 27400 Louviers",
        "contact": "jeanne.lefebvre@example.fr",
    },
    {
        "name": "GFA du Val d'Eure",
        "type": "company",
        "address": "3 chemin du Moulin, 27340 Pont-de-l'Arche",
        "contact": "+33 2 32 00 00 00",
    },
]
SPECIFIC_YIELD = 1_045.0  # kWh/kWc/yr, Normandy (DOMAIN.md: 950–1,050 in the north)


def geodesic_area(geom: Any) -> float:
    """Area in m² on the WGS84 ellipsoid (what PostGIS geography computes)."""
    return abs(GEOD.geometry_area_perimeter(geom)[0])


SEED_PARCEL = "27412000ZC0022"


def pick_parcels(n: int = 20) -> list[dict[str, Any]]:
    """``n`` neighbouring field parcels (0.4–3 ha each) around a seed: about 32 ha for 20."""
    feats = json.loads(gzip.decompress(PARCELS_FILE.read_bytes()))["features"]
    fields = [f for f in feats if 4_000 < geodesic_area(shape(f["geometry"])) < 30_000]
    seed = shape(next(f for f in feats if f["properties"]["id"] == SEED_PARCEL)["geometry"])
    fields.sort(key=lambda f: shape(f["geometry"]).centroid.distance(seed.centroid))
    return sorted(fields[:n], key=lambda f: f["properties"]["id"])


def _mp(g: Any) -> MultiPolygon:
    return g if isinstance(g, MultiPolygon) else MultiPolygon([g])


def _offset(p: Point, dx_m: float, dy_m: float) -> Point:
    k = 111_320.0
    return Point(p.x + dx_m / (k * math.cos(math.radians(p.y))), p.y + dy_m / k)


def _box(c: Point, w_m: float, h_m: float) -> Polygon:
    a, b = _offset(c, -w_m / 2, -h_m / 2), _offset(c, w_m / 2, h_m / 2)
    return Polygon([(a.x, a.y), (b.x, a.y), (b.x, b.y), (a.x, b.y)])


async def seed_reference(session: AsyncSession, feats: list[dict[str, Any]]) -> dict[str, Any]:
    """Parcels, two protected zones and three postes around the site (idempotent)."""
    for f in feats:
        pid = f["properties"]["id"]
        if await session.get(Parcel, pid) is None:
            g = shape(f["geometry"])
            session.add(
                Parcel(
                    id=pid,
                    commune=pid[:5],
                    prefixe=pid[5:8],
                    section=pid[8:10],
                    numero=pid[10:14],
                    contenance=round(geodesic_area(g)),
                    geom=from_shape(_mp(g), srid=4326),
                )
            )
    site = unary_union([shape(f["geometry"]) for f in feats])
    c = site.centroid
    zones = {
        "znieff2": (
            EnvZoneType.ZNIEFF2,
            "230031044",
            "Vallée de l'Eure de Louviers à Pont-de-l'Arche",
            _box(_offset(c, 350, 0), 900, 2600),
        ),
        "zps": (
            EnvZoneType.NATURA2000_ZPS,
            "FR2312003",
            "Terrasses alluviales de la Seine",
            _box(_offset(c, -2600, 1800), 1800, 1400),
        ),
    }
    out: dict[str, Any] = {"site": site, "zones": {}, "postes": {}}
    for key, (ztype, code, name, poly) in zones.items():
        z = await session.scalar(select(EnvZone).where(EnvZone.code == code))
        if z is None:
            z = EnvZone(zone_type=ztype, code=code, name=name, geom=from_shape(_mp(poly), 4326))
            session.add(z)
            await session.flush()
        out["zones"][key] = (z, poly)
    postes = [
        ("27-PDA", "Pont-de-l'Arche", 3_100, -1_400, "90/20", 18.4),
        ("27-LVR", "Louviers", -5_200, -4_300, "90/20", 4.0),
        ("27-VDR", "Val-de-Reuil", 6_500, 5_200, "225/20", 31.0),
    ]
    for code, name, dx, dy, kv, cap in postes:
        s = await session.scalar(select(Substation).where(Substation.code == code))
        if s is None:
            s = Substation(
                code=code,
                name=name,
                operator="Enedis",
                voltage_kv=kv,
                geom=from_shape(_offset(c, dx, dy), 4326),
                s3renr_region="Normandie",
                capacity_reserved_mw=cap + 6,
                capacity_allocated_mw=6,
                capacity_available_mw=cap,
                quote_part_eur_kw=40.68,
            )
            session.add(s)
            await session.flush()
        out["postes"][code] = s
    return out


def monthly_pvgis() -> list[dict[str, Any]]:
    """PVGIS monthly entries (per kWp), rescaled to the Normandy yield."""
    d = json.loads(PVGIS_FILE.read_text())
    rows = d["outputs"]["monthly"]["fixed"]
    k = SPECIFIC_YIELD / d["outputs"]["totals"]["fixed"]["E_y"]
    # The shape enrichment.pvgis stores: per month, kWh per kWc and kWh/m².
    return [
        {"month": r["month"], "e_m_kwh_kwc": round(r["E_m"] * k, 2), "h_m_kwh_m2": r["H(i)_m"]}
        for r in rows
    ]


async def seed_site(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    enriched: bool = True,
    status: LeadStatus = LeadStatus.CLIENT_READY,
    assignee_id: int | None = None,
    n_parcels: int = 20,
    name: str = "Terres de Bord — Les Longs Champs",
    owners: list[dict[str, Any]] | None = None,
) -> int:
    """Create a lead on real parcels; with ``enriched`` fill every lead_* table."""
    feats = pick_parcels(n_parcels)
    ref = await seed_reference(session, feats)
    site = ref["site"]
    lead = Lead(
        internal_name=f"LFS-27412-{uuid.uuid4().hex[:6].upper()}",
        name=name,
        status=status,
        assignee_id=assignee_id,
        commune_insee="27412",
        commune_name="Terres de Bord",
        department="27",
        geom=from_shape(_mp(site), 4326),
        is_public=False,
    )
    session.add(lead)
    await session.flush()
    ids = [f["properties"]["id"] for f in feats]
    session.add(LeadSourcing(lead_id=lead.id, parcel_ids=ids, source_notes="Repéré sur carte"))
    if not enriched:
        await session.commit()
        return lead.id
    area = geodesic_area(site)
    znieff, zpoly = ref["zones"]["znieff2"]
    overlap = geodesic_area(site.intersection(zpoly))
    usable = area - overlap * 0.5
    mwc = round(usable / 10_000 / 1.5, 2)
    prod = round(mwc * SPECIFIC_YIELD, 0)
    chosen = ref["postes"]["27-PDA"]
    now = datetime.now(UTC)
    session.add(
        LeadTechnical(
            lead_id=lead.id,
            surface_m2=area,
            usable_surface_m2=usable,
            slope_pct=1.8,
            irradiation_kwh_m2=1_262.0,
            specific_yield_kwh_kwc=SPECIFIC_YIELD,
            installable_mwc=mwc,
            annual_production_mwh=prod,
            optimal_tilt_deg=37.0,
            monthly=monthly_pvgis(),
            pvgis_inputs={"peakpower": 1, "loss": 14, "optimalangles": 1},
            source="pvgis",
            radiation_database="PVGIS-SARAH3",
            computed_at=now,
        )
    )
    zone = {
        "id": znieff.id,
        "type": "znieff2",
        "code": znieff.code,
        "name": znieff.name,
        "overlap_m2": round(overlap),
        "overlap_pct": round(100 * overlap / area, 3),
    }
    plu = [{"type": "A", "label": "Apv", "commune_insee": "27412", "share_pct": 100.0}]
    session.add(
        LeadRegulatory(
            lead_id=lead.id,
            zones=[zone],
            nearby_zones=[
                {
                    "id": ref["zones"]["zps"][0].id,
                    "type": "natura2000_zps",
                    "code": "FR2312003",
                    "name": "Terrasses alluviales de la Seine",
                    "distance_m": 1_650,
                }
            ],
            plu_zone_type="A",
            plu_label="Apv",
            plu_zones=plu,
            constraints=[],
            verdict=Verdict.PENALTY,
            # The engine's wording: "Pénalité modérée (0,35) : ZNIEFF de type II « … » (…) …".
            reasons=[f"Pénalité modérée (0,35) : {sc.zone_overlap(zone)}"],
            computed_at=now,
        )
    )
    cable = round(3_380 / 1000 * 150_000)
    quote_part = round(mwc * 1000 * 40.68)
    conn_cost = cable + quote_part
    session.add(
        LeadNetwork(
            lead_id=lead.id,
            nearest=[
                {
                    "id": s.id,
                    "code": s.code,
                    "name": s.name,
                    "operator": "Enedis",
                    "voltage_kv": s.voltage_kv,
                    "s3renr_region": "Normandie",
                    "capacity_reserved_mw": s.capacity_reserved_mw,
                    "capacity_allocated_mw": s.capacity_allocated_mw,
                    "capacity_available_mw": s.capacity_available_mw,
                    "quote_part_eur_kw": 40.68,
                    "data_date": None,
                    "distance_m": d,
                }
                for s, d in (
                    (chosen, 3_380),
                    (ref["postes"]["27-LVR"], 6_740),
                    (ref["postes"]["27-VDR"], 8_320),
                )
            ],
            chosen_substation_id=chosen.id,
            distance_m=3_380,
            capacity_available_mw=18.4,
            capacity_ok=mwc <= 18.4,
            quote_part_eur_kw=40.68,
            connection_cost_eur=conn_cost,
            connection_voltage="HTA" if mwc <= 17 else "HTB",
            computed_at=now,
        )
    )
    owners = OWNERS if owners is None else owners
    session.add(
        LeadFoncier(
            lead_id=lead.id,
            parcels=[
                {
                    "id": i,
                    "commune": i[:5],
                    "prefixe": i[5:8],
                    "section": i[8:10],
                    "numero": i[10:],
                    "contenance": None,
                }
                for i in ids
            ],
            owners_encrypted=cipher.encrypt_json(owners),
            owner_count=len(owners),
            agreement_status=AgreementStatus.CONTACTED,
        )
    )
    capex = mwc * 700_000
    revenue = prod * 79
    opex = mwc * 17_500 + prod * 6
    rent = usable / 10_000 * 3_000
    session.add(
        LeadEconomic(
            lead_id=lead.id,
            capex_eur=capex,
            opex_eur_yr=opex,
            connection_cost_eur=conn_cost,
            annual_revenue_eur=revenue,
            land_rent_eur_yr=rent,
            simple_payback_years=(capex + conn_cost) / (revenue - opex - rent),
            lcoe_eur_mwh=61.4,
            tariff_eur_mwh=79.0,
            assumptions={
                "ha_per_mwc": 1.5,
                "capex_eur_per_mwc": 700_000,
                "opex_eur_per_mwc_yr": 17_500,
                "ifer_eur_per_mwh": 6.0,
                "land_rent_eur_per_ha_yr": 3_000,
                "tariff_eur_per_mwh": 79.0,
                "degradation_pct_yr": 0.4,
                "discount_rate_pct": 5.0,
                "lifetime_years": 30,
                "connection": {
                    "voltage": "HTA" if mwc <= 17 else "HTB",
                    "cable_eur": cable,
                    "quote_part_eur": quote_part,
                    "quote_part_eur_kw": 40.68,
                    "distance_m": 3_380,
                },
                "specific_yield_kwh_kwc": SPECIFIC_YIELD,
                "rent_basis": "surface mesurée",
                "opex_includes": "OPEX fixe + IFER",
            },
            computed_at=now,
        )
    )
    lead.quality_score = 71.5
    lead.completeness = 0.95
    lead.enriched_at = now
    lead.enrichment_stale = False
    # The shape enrichment.score stores: value 0–1, weight, points, reason, data provenance;
    # the reasons in the engine's own French wording.
    poste = {"name": chosen.name, "distance_m": 3_380, "capacity_available_mw": 18.4}
    crit = {
        "grid": (0.78, sc.grid_criterion(poste, mwc, False).reason, "real"),
        "surface": (0.9, sc.surface_criterion(usable).reason, "real"),
        "sun": (0.45, sc.sun_criterion(SPECIFIC_YIELD, "pvgis").reason, "real"),
        "environment": (0.65, f"Pénalité modérée (0,35) : {sc.zone_overlap(zone)}", "real"),
        "urbanism": (0.8, sc.urbanism_criterion(plu, True).reason, "real"),
        "owners": (0.8, sc.owners_criterion(2).reason, "estimated"),
    }
    weights = {
        "grid": 30.0,
        "surface": 20.0,
        "sun": 15.0,
        "environment": 20.0,
        "urbanism": 10.0,
        "owners": 5.0,
    }
    breakdown = {
        k: {
            "value": v,
            "weight": weights[k],
            "points": round(v * weights[k], 2),
            "reason": r,
            "data": d,
        }
        for k, (v, r, d) in crit.items()
    }
    total = round(sum(b["points"] for b in breakdown.values()), 1)
    lead.quality_score = total
    lead.completeness = 0.95
    lead.enriched_at = now
    lead.enrichment_stale = False
    lead.score_breakdown = {
        "score": total,
        "completeness": 0.95,
        "excluded": False,
        "exclusion_reasons": [],
        "criteria": breakdown,
        "weights": weights,
    }
    await session.commit()
    return lead.id
