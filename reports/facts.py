"""The facts a dossier is made of, read from the lead's tables and our own reference layers.

Readers are tolerant: the enrichment engine stores JSON (monthly production, zones, nearest postes,
score breakdown) whose keys may evolve, so each reader accepts the usual spellings and returns
``None`` rather than a made-up zero when a figure is missing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from geoalchemy2 import Geography
from geoalchemy2.shape import to_shape
from shapely import wkb
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from enrichment.criteria import label as criterion_label
from enrichment.criteria import rank as criterion_rank
from geo.crypto import FieldCipher
from geo.models import (
    Document,
    DocumentCategory,
    EnvZone,
    Lead,
    LeadEconomic,
    LeadFoncier,
    LeadNetwork,
    LeadRegulatory,
    LeadSourcing,
    LeadTechnical,
    Parcel,
    Substation,
    User,
)
from geo.visibility import document_visibility

# Maps are drawn in Web Mercator so that an optional web basemap lines up exactly; distances on
# the map are corrected by cos(latitude) (MapLayers.ground_per_unit).
MAP_SRID = 3857
# Context map: reference features within this distance of the site (metres).
CONTEXT_RADIUS_M = 5_000.0
MAX_CONTEXT_ZONES = 60


@dataclass
class Criterion:
    """One line of the score breakdown."""

    key: str
    label: str
    weight: float | None
    score: float | None  # 0–1
    points: float | None
    reason: str
    data: str | None = None  # real / estimated / missing


@dataclass
class MapLayers:
    """Geometries in Web Mercator (EPSG:3857) for the maps."""

    site: BaseGeometry | None = None
    parcels: list[tuple[str, BaseGeometry]] = field(default_factory=list)
    zones: list[tuple[str, str, BaseGeometry]] = field(default_factory=list)  # type, name, geom
    substations: list[tuple[str, Point, bool]] = field(default_factory=list)
    ground_per_unit: float = 1.0  # metres on the ground per map unit (cos latitude)
    # The enrichment's geodesic distance to the chosen poste (m): the map's label, never a
    # length measured on the projected map (Web Mercator's was 338 km for a true 346.5).
    chosen_distance_m: float | None = None


@dataclass
class DossierFacts:
    """Everything the dossier shows, already read and decrypted."""

    lead: dict[str, Any]
    technical: dict[str, Any] | None
    regulatory: dict[str, Any] | None
    network: dict[str, Any] | None
    foncier: dict[str, Any] | None
    economic: dict[str, Any] | None
    sourcing: dict[str, Any] | None
    parcels: list[dict[str, Any]]
    owners: list[dict[str, Any]] | None  # None: not included (commercial version)
    owners_included: bool
    criteria: list[Criterion]
    exclusion: str | None
    layers: MapLayers
    annex_documents: list[dict[str, Any]]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def enriched(self) -> bool:
        """Whether the lead has been through enrichment at all."""
        return any(x is not None for x in (self.technical, self.regulatory, self.network))

    def missing(self) -> list[str]:
        """What the dossier can't show, in words (never shown as zeros)."""
        out: list[str] = []
        if self.technical is None or self.technical.get("annual_production_mwh") is None:
            out.append("production solaire (PVGIS) non calculée")
        if self.regulatory is None:
            out.append("analyse réglementaire (zones protégées, PLU) non réalisée")
        if self.network is None or self.network.get("distance_m") is None:
            out.append("analyse réseau (poste source, capacité) non réalisée")
        if self.economic is None or self.economic.get("capex_eur") is None:
            out.append("analyse économique non réalisée")
        if self.lead.get("quality_score") is None:
            out.append("score de qualité non calculé")
        if not self.parcels:
            out.append("parcelles cadastrales non identifiées")
        return out


def _row(obj: Any, skip: tuple[str, ...] = ("lead_id",)) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in skip}


def num(value: Any) -> float | None:
    """A float from numbers or numeric strings; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        return None


def first(d: dict[str, Any], *keys: str) -> Any:
    """The first present, non-null value among ``keys``."""
    for k in keys:
        if d.get(k) is not None:
            return d[k]
    return None


# The engine writes each exclusion reason as "Exclusion : <zone> recouvre 12 % du site"; the
# dossier prints them after its own "Exclusion :" label, so the word is not repeated.
_EXCLUSION_LEAD = re.compile(r"^\s*exclusion\s*:\s*", re.IGNORECASE)


def exclusion_text(reasons: list[Any]) -> str:
    """Exclusion reasons as one French text, without their leading "Exclusion :"."""
    return " ; ".join(_EXCLUSION_LEAD.sub("", str(r)) for r in reasons)


def parse_breakdown(raw: Any) -> tuple[list[Criterion], str | None]:
    """Normalise leads.score_breakdown: a dict of criteria, a list, or {criteria: …}."""
    if not raw:
        return [], None
    exclusion = None
    items: list[tuple[str, Any]] = []
    if isinstance(raw, dict):
        exc = (
            raw.get("exclusion")
            or raw.get("excluded_by")
            or raw.get("hard_exclusion")
            # enrichment.score: {"excluded": true, "exclusion_reasons": [...]}
            or (raw.get("exclusion_reasons") or ["exclusion"] if raw.get("excluded") else None)
        )
        if exc:
            exclusion = exclusion_text([exc] if isinstance(exc, str) else list(exc))
        inner = raw.get("criteria", raw)
        if isinstance(inner, dict):
            items = [(k, v) for k, v in inner.items() if isinstance(v, dict)]
        elif isinstance(inner, list):
            items = [
                (str(v.get("key") or v.get("criterion") or v.get("name") or i), v)
                for i, v in enumerate(inner)
                if isinstance(v, dict)
            ]
    elif isinstance(raw, list):
        items = [
            (str(v.get("key") or v.get("criterion") or v.get("name") or i), v)
            for i, v in enumerate(raw)
            if isinstance(v, dict)
        ]
    out = []
    for key, v in items:
        score = num(first(v, "score", "value", "subscore"))
        if score is not None and score > 1.0:  # given as a percentage
            score /= 100.0
        weight = num(v.get("weight"))
        points = num(first(v, "points", "weighted", "contribution"))
        if points is None and score is not None and weight is not None:
            points = score * weight
        reason = first(v, "reason", "reasons", "explanation", "detail") or ""
        if isinstance(reason, list):
            reason = "; ".join(map(str, reason))
        data = first(v, "data", "source", "reliability", "status")
        if data is None and isinstance(v.get("estimated"), bool):
            data = "estimated" if v["estimated"] else "real"
        if data is None and v.get("missing") is True:
            data = "missing"
        out.append(
            Criterion(
                key,
                str(v.get("label") or criterion_label(key)),
                weight,
                score,
                points,
                str(reason),
                None if data is None else str(data),
            )
        )
    # Stored as JSONB, the breakdown's keys come back in jsonb's order: show the registry's.
    out.sort(key=lambda c: criterion_rank(c.key))
    return out, exclusion


def monthly_mwh(technical: dict[str, Any] | None) -> list[float] | None:
    """Monthly production of the plant in MWh, from PVGIS-like monthly entries.

    The stored entries may be per kWc (PVGIS run at 1 kWp), for the whole plant in kWh, or already
    in MWh: the unit is recognised by comparing their sum with the stored annual figures.
    """
    if not technical or not technical.get("monthly"):
        return None
    rows = technical["monthly"]
    if isinstance(rows, dict):
        rows = rows.get("fixed") or rows.get("months") or list(rows.values())
    vals: list[float] = []
    for r in rows[:12] if isinstance(rows, list) else []:
        if isinstance(r, dict):
            v = num(
                first(
                    r,
                    "e_m_kwh_kwc",
                    "production_mwh",
                    "mwh",
                    "E_m_mwh",
                    "e_m",
                    "E_m",
                    "energy_kwh",
                    "kwh",
                    "value",
                )
            )
        else:
            v = num(r)
        if v is None:
            return None
        vals.append(v)
    if len(vals) != 12:
        return None
    total = sum(vals)
    annual = num(technical.get("annual_production_mwh"))
    specific = num(technical.get("specific_yield_kwh_kwc"))
    mwc = num(technical.get("installable_mwc"))
    if total <= 0:
        return None
    if annual:
        for factor in (1.0, 1e-3):
            if 0.8 < total * factor / annual < 1.25:
                return [v * factor for v in vals]
    if mwc and (specific is None or 0.8 < total / specific < 1.25 or total < 2500):
        return [v * mwc for v in vals]  # kWh/kWc × MWc = MWh
    return None


async def _parcel_layers(
    session: AsyncSession, lead: Lead, parcel_ids: list[str]
) -> tuple[list[dict[str, Any]], list[tuple[str, BaseGeometry]]]:
    geom_m = func.ST_AsBinary(func.ST_Transform(Parcel.geom, MAP_SRID))
    geom = select(Lead.geom).where(Lead.id == lead.id).scalar_subquery()
    stmt = select(
        Parcel.id, Parcel.section, Parcel.numero, Parcel.contenance, Parcel.area_m2, geom_m
    )
    if parcel_ids:
        stmt = stmt.where(Parcel.id.in_(parcel_ids))
    else:
        stmt = stmt.where(
            Parcel.geom.ST_Intersects(geom),
            func.ST_Intersects(func.ST_PointOnSurface(Parcel.geom), geom),
        )
    rows = (await session.execute(stmt.order_by(Parcel.id).limit(500))).all()
    facts = [
        {"id": r[0], "section": r[1], "numero": r[2], "contenance": r[3], "area_m2": r[4]}
        for r in rows
    ]
    return facts, [
        (f"{r[1].lstrip('0') or r[1]} {r[2].lstrip('0') or '0'}", wkb.loads(bytes(r[5])))
        for r in rows
    ]


def _point(data: bytes) -> Point:
    """The WKB of a POINT column (substations.geom) as a shapely Point."""
    g = wkb.loads(data)
    if not isinstance(g, Point):
        raise TypeError(f"expected a point, got a {g.geom_type}")
    return g


async def _context_layers(
    session: AsyncSession, lead: Lead, network: dict[str, Any] | None, k: float
) -> tuple[list[tuple[str, str, BaseGeometry]], list[tuple[str, Point, bool]]]:
    geom = select(Lead.geom).where(Lead.id == lead.id).scalar_subquery()
    site_m = func.ST_Transform(geom, MAP_SRID)
    # Index-friendly prefilter in degrees (0.1° > 5 km at French latitudes), then true metres.
    near = EnvZone.geom.ST_Intersects(func.ST_Expand(geom, 0.1))
    window = func.ST_Expand(site_m, CONTEXT_RADIUS_M / k)
    zgeom = func.ST_AsBinary(
        func.ST_SimplifyPreserveTopology(
            func.ST_Intersection(func.ST_Transform(EnvZone.geom, MAP_SRID), window), 5.0 / k
        )
    )
    zrows = (
        await session.execute(
            select(EnvZone.zone_type, EnvZone.name, zgeom)
            .where(
                near,
                func.ST_DWithin(
                    cast(EnvZone.geom, Geography), cast(geom, Geography), CONTEXT_RADIUS_M
                ),
            )
            .order_by(EnvZone.id)
            .limit(MAX_CONTEXT_ZONES)
        )
    ).all()
    zones = [(str(getattr(t, "value", t)), n, wkb.loads(bytes(g))) for t, n, g in zrows if g]
    zones = [z for z in zones if not z[2].is_empty]
    chosen = network.get("chosen_substation_id") if network else None
    ids: set[int] = {chosen} if chosen else set()
    for n in (network or {}).get("nearest") or []:
        sid = (n.get("substation_id") or n.get("id")) if isinstance(n, dict) else None
        if isinstance(sid, int):
            ids.add(sid)
    sgeom = func.ST_AsBinary(func.ST_Transform(Substation.geom, MAP_SRID))
    stmt = select(Substation.id, Substation.name, sgeom)
    if ids:
        stmt = stmt.where(Substation.id.in_(ids))
    else:
        centroid = select(Lead.centroid).where(Lead.id == lead.id).scalar_subquery()
        stmt = stmt.order_by(Substation.geom.distance_centroid(centroid)).limit(3)
    subs = [(n, _point(bytes(g)), sid == chosen) for sid, n, g in (await session.execute(stmt))]
    if subs and not any(flag for _, _, flag in subs):
        # No chosen poste stored: the nearest one stands for the connection line.
        site_wkb = await session.scalar(select(func.ST_AsBinary(site_m)))
        assert site_wkb is not None  # the lead exists: it was loaded by the caller
        site = wkb.loads(bytes(site_wkb))
        best = min(range(len(subs)), key=lambda i: subs[i][1].distance(site))
        subs[best] = (subs[best][0], subs[best][1], True)
    return zones, subs


async def load_facts(
    session: AsyncSession,
    lead: Lead,
    *,
    cipher: FieldCipher | None,
    include_owners: bool,
) -> DossierFacts:
    """Read every table of the lead and the map layers around it."""
    lid = lead.id
    technical = _row(await session.get(LeadTechnical, lid))
    regulatory = _row(await session.get(LeadRegulatory, lid))
    network = _row(await session.get(LeadNetwork, lid))
    foncier_obj = await session.get(LeadFoncier, lid)
    foncier = _row(foncier_obj, skip=("lead_id", "owners_encrypted"))
    economic = _row(await session.get(LeadEconomic, lid))
    sourcing = _row(await session.get(LeadSourcing, lid))
    owners: list[dict[str, Any]] | None = None
    if include_owners:
        owners = []
        if foncier_obj is not None and foncier_obj.owners_encrypted and cipher is not None:
            decoded = cipher.decrypt_json(foncier_obj.owners_encrypted)
            owners = (
                [o for o in decoded if isinstance(o, dict)] if isinstance(decoded, list) else []
            )
    ids = [p["id"] if isinstance(p, dict) else str(p) for p in (foncier or {}).get("parcels") or []]
    ids = [i for i in ids if i] or list((sourcing or {}).get("parcel_ids") or [])
    parcels, parcel_geoms = await _parcel_layers(session, lead, ids)
    # Foncier rows may know more than the cadastre (e.g. a parcel not yet imported).
    known = {p["id"] for p in parcels}
    for p in (foncier or {}).get("parcels") or []:
        if isinstance(p, dict) and p.get("id") and p["id"] not in known:
            parcels.append(
                {
                    "id": p["id"],
                    "section": p.get("section"),
                    "numero": p.get("numero"),
                    "contenance": p.get("contenance"),
                    "area_m2": num(p.get("area_m2")),
                }
            )
    site = to_shape(lead.geom)
    k = math.cos(math.radians(site.centroid.y))
    zones, subs = await _context_layers(session, lead, network, k)
    site_m = await session.scalar(
        select(func.ST_AsBinary(func.ST_Transform(Lead.geom, MAP_SRID))).where(Lead.id == lid)
    )
    assignee = await session.get(User, lead.assignee_id) if lead.assignee_id else None
    criteria, exclusion = parse_breakdown(lead.score_breakdown)
    if exclusion is None and regulatory and str(regulatory.get("verdict") or "") == "exclusion":
        reasons = [str(x) for x in regulatory.get("reasons") or []]
        hard = [x for x in reasons if _EXCLUSION_LEAD.match(x)] or reasons
        exclusion = exclusion_text(hard) or "exclusion réglementaire"
    # Annexes: uploads only (never a dossier inside a dossier); a commercial dossier appends no
    # document naming the owners (geo.visibility, the rule of every surface).
    docs = (
        await session.scalars(
            select(Document)
            .where(
                Document.lead_id == lid,
                Document.category != DocumentCategory.DOSSIER,
                document_visibility(include_owners),
            )
            .order_by(Document.created_at, Document.id)
        )
    ).all()
    c = site.centroid
    return DossierFacts(
        lead={
            "id": lid,
            "internal_name": lead.internal_name,
            "name": lead.name or lead.internal_name,
            "status": str(getattr(lead.status, "value", lead.status)),
            "commune_insee": lead.commune_insee,
            "commune_name": lead.commune_name,
            "department": lead.department,
            "area_m2": lead.area_m2,
            "quality_score": lead.quality_score,
            "completeness": lead.completeness,
            "enriched_at": lead.enriched_at,
            "enrichment_stale": lead.enrichment_stale,
            "assignee_name": getattr(assignee, "full_name", None),
            "centroid": (c.y, c.x),
        },
        technical=technical,
        regulatory=regulatory,
        network=network,
        foncier=foncier,
        economic=economic,
        sourcing=sourcing,
        parcels=parcels,
        owners=owners,
        owners_included=include_owners,
        criteria=criteria,
        exclusion=exclusion,
        layers=MapLayers(
            site=wkb.loads(bytes(site_m)) if site_m else None,
            ground_per_unit=k,
            parcels=parcel_geoms,
            zones=zones,
            substations=subs,
            chosen_distance_m=num((network or {}).get("distance_m")),
        ),
        annex_documents=[
            {
                "id": d.id,
                "filename": d.filename,
                "content_type": d.content_type,
                "category": str(getattr(d.category, "value", d.category)),
                "storage_key": d.storage_key,
                "size_bytes": d.size_bytes,
            }
            for d in docs
        ],
    )
