"""The spatial joins of one lead, each a readable SQL file beside this module.

Every part answers what it found *and* what it could not know: an empty reference layer means
"not imported yet", a lead outside France has no zones or postes in our data — both are said in
the part's messages instead of being reported as "nothing here".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Float, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from enrichment.config import EnrichmentConfig
from enrichment.wording import num
from tiles.layers import factor_layers, label_of

# Metropolitan France and Corsica; beyond it our layers have nothing (overseas: not covered).
FRANCE_BBOX = (-5.3, 41.3, 9.7, 51.2)

# Messages the engine also reads (urbanism unknown): compared whole, never by substring.
OUTSIDE_FRANCE = (
    "Site hors de France (aucune commune sous le site) : nos couches n'y contiennent aucune donnée"
)
PLU_LAYER_EMPTY = "Couche du zonage PLU (urban_zones) vide : pas encore importée"
ABSENT = "données absentes pour cette zone"
# The layer each factor reads, and how the users name that data (the map's layer registry).
LAYER_LABELS = {layer.name: layer.label for layer in factor_layers()}


def absent_message(layer: str) -> str:
    """``Zones protégées : données absentes pour cette zone``."""
    return f"{label_of(layer)} : {ABSENT}"


def no_poste_message(radius_m: float) -> str:
    """What a covered lead without a poste in the search radius is told."""
    km = num(radius_m / 1000, 1, trim=True)
    return f"Aucun poste dans un rayon de {km} km dans les données chargées"


def _coverage(layer: str, layers: dict[str, Any], rows: list[Any]) -> dict[str, Any]:
    """Whether a lead lies in a layer's coverage: covered, partial (with the covered %) or absent.

    A layer loaded without the importer (no imports: tests, the benchmark) is taken as complete.
    The grid asks about the lead's centroid (the postes around it), the others about its area.
    """
    if layer not in (layers.get("tracked") or []):
        return {"status": "covered", "covered_pct": 100.0}
    row = next((r for r in rows if r["layer"] == layer), None)
    if layer == "substations":
        covered = bool(row is not None and row["centroid_covered"])
        return {"status": "covered" if covered else "absent", "covered_pct": 100.0 * covered}
    share = float(row["share"] or 0.0) if row is not None else 0.0
    if share >= 0.999:
        return {"status": "covered", "covered_pct": 100.0}
    if share <= 0.001:
        return {"status": "absent", "covered_pct": 0.0}
    return {"status": "partial", "covered_pct": round(100.0 * share, 1)}


def partial_message(layer: str, covered_pct: float) -> str:
    """``Zonage PLU : données sur 62 % du site seulement, absentes pour le reste``."""
    return (
        f"{label_of(layer)} : données sur {num(covered_pct, 0)} % du site seulement, "
        "absentes pour le reste"
    )


@cache
def load_sql(name: str) -> str:
    """The text of ``enrichment/sql/<name>.sql``."""
    return (resources.files("enrichment") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


@cache
def statement(name: str) -> Any:
    """The statement of ``name`` with its array parameters typed (built once)."""
    sql = load_sql(name)
    types = {
        "lead_ids": ARRAY(BigInteger),
        "radii_deg": ARRAY(Float),
        "exclusion_types": ARRAY(String),
    }
    return text(sql).bindparams(
        *(bindparam(k, type_=t) for k, t in types.items() if f":{k}" in sql)
    )


@dataclass
class Part:
    """One part of the result: its data, whether it is partial, and why."""

    data: dict[str, Any] = field(default_factory=dict)
    partial: bool = False
    messages: list[str] = field(default_factory=list)

    def note(self, message: str, *, partial: bool = True) -> None:
        """Add a message; mark the part partial unless told otherwise."""
        self.messages.append(message)
        self.partial = self.partial or partial


@dataclass
class LeadFacts:
    """The lead's own geometry facts."""

    id: int
    status: str
    empty: bool
    lat: float | None
    lon: float | None
    area_m2: float
    owner_count: int | None


async def leads_facts(conn: AsyncConnection, lead_ids: Sequence[int]) -> dict[int, LeadFacts]:
    """Centroid, area and owner count of each lead that exists, in one statement."""
    rows = (await conn.execute(statement("lead"), {"lead_ids": list(lead_ids)})).mappings()
    return {
        row["id"]: LeadFacts(
            id=row["id"],
            status=row["status"],
            empty=bool(row["empty"]),
            lat=row["lat"],
            lon=row["lon"],
            area_m2=float(row["area_m2"] or 0.0),
            owner_count=row["owner_count"],
        )
        for row in rows
    }


async def lead_facts(conn: AsyncConnection, lead_id: int) -> LeadFacts | None:
    """Centroid, area and owner count of a lead; None when it doesn't exist."""
    return (await leads_facts(conn, [lead_id])).get(lead_id)


def in_france_bbox(lat: float, lon: float) -> bool:
    """Whether a point is inside metropolitan France's bounding box."""
    x0, y0, x1, y1 = FRANCE_BBOX
    return x0 <= lon <= x1 and y0 <= lat <= y1


def degree_radius(radius_m: float, lat: float) -> float:
    """A radius in degrees that covers ``radius_m`` in every direction at this latitude."""
    cos_lat = max(math.cos(math.radians(min(abs(lat) + 1.0, 89.0))), 0.01)
    return 1.05 * radius_m / (111_320.0 * cos_lat)


async def spatial_parts(
    conn: AsyncConnection, lead: LeadFacts, config: EnrichmentConfig
) -> dict[str, Part]:
    """Run every join for ``lead``: environment, grid, urbanism (with land), surface."""
    return (await spatial_parts_many(conn, [lead], config))[lead.id]


async def _grouped(
    conn: AsyncConnection, name: str, params: dict[str, Any]
) -> dict[int, list[Any]]:
    """The rows of one chunk-wide statement, per lead (each lead's rows in the SQL's order)."""
    out: dict[int, list[Any]] = defaultdict(list)
    for r in (await conn.execute(statement(name), params)).mappings():
        out[r["lead_id"]].append(r)
    return out


async def spatial_parts_many(
    conn: AsyncConnection, leads: Sequence[LeadFacts], config: EnrichmentConfig
) -> dict[int, dict[str, Part]]:
    """Every join for a chunk of leads: one statement per part for all of them, then per lead
    the same assembly (so one lead alone and the same lead in a chunk get the same parts)."""
    if not leads:
        return {}
    layers = dict((await conn.execute(statement("layers"))).mappings().one())
    ids = [lead.id for lead in leads]
    p: dict[str, Any] = {"lead_ids": ids}
    empty: dict[int, list[Any]] = {}
    rows = {"communes": await _grouped(conn, "communes", p)}
    rows["coverage"] = await _grouped(conn, "coverage", p) if layers["tracked"] else empty
    rows["env_overlaps"] = await _grouped(conn, "env_overlaps", p) if layers["env_zones"] else empty
    radii = [degree_radius(config.nearby_radius_m, lead.lat or 0.0) for lead in leads]
    rows["env_nearby"] = (
        await _grouped(
            conn,
            "env_nearby",
            {**p, "radii_deg": radii, "radius_m": config.nearby_radius_m},
        )
        if layers["env_zones"]
        else empty
    )
    grid_p = {
        **p,
        "candidates": max(10, config.grid_candidates * 3),
        "n": config.grid_candidates,
        "radius_m": config.grid_radius_m,
    }
    rows["grid"] = await _grouped(conn, "grid", grid_p) if layers["substations"] else empty
    rows["plu"] = await _grouped(conn, "plu", p) if layers["urban_zones"] else empty
    rows["parcels"] = await _grouped(conn, "parcels", p) if layers["parcels"] else empty
    surf_p = {**p, "exclusion_types": config.score.exclusion_types()}
    rows["surface"] = await _grouped(conn, "surface", surf_p)
    return {
        lead.id: _assemble(lead, layers, {k: v.get(lead.id, []) for k, v in rows.items()}, config)
        for lead in leads
    }


def _assemble(
    lead: LeadFacts, layers: dict[str, Any], rows: dict[str, list[Any]], config: EnrichmentConfig
) -> dict[str, Part]:
    """One lead's parts from its rows of each statement (pure)."""
    assert lead.lat is not None and lead.lon is not None
    env, grid, urb, surf = Part(), Part(), Part(), Part()

    communes = [dict(r) for r in rows["communes"]]
    communes = [c for c in communes if c["overlap_m2"] > 0.01]
    if layers["communes"]:
        outside = not communes
    else:
        outside = not in_france_bbox(lead.lat, lead.lon)
        urb.note("Couche des communes vide : pas encore importée, commune inconnue")
    if outside:
        for part in (env, grid, urb):
            part.note(OUTSIDE_FRANCE)
    cov_rows = rows["coverage"]
    env_cov = _coverage("env_zones", layers, cov_rows)
    grid_cov = _coverage("substations", layers, cov_rows)
    plu_cov = _coverage("urban_zones", layers, cov_rows)
    parcels_cov = _coverage("parcels", layers, cov_rows)

    # Environment: overlaps and nearest of each type.
    overlaps: list[dict[str, Any]] = []
    nearby: list[dict[str, Any]] = []
    if not layers["env_zones"]:
        env.note("Couche des zones protégées (env_zones) vide : pas encore importée")
    elif not outside:
        # Zones found are facts even outside the coverage (an exclusion still excludes); what
        # the coverage withholds is the conclusion "no zone".
        if env_cov["status"] == "absent":
            env.note(absent_message("env_zones"))
        elif env_cov["status"] == "partial":
            env.note(partial_message("env_zones", env_cov["covered_pct"]))
        for r in rows["env_overlaps"]:
            share = 100.0 * r["overlap_m2"] / r["lead_area_m2"] if r["lead_area_m2"] else 0.0
            item = {"id": r["id"], "type": r["zone_type"], "code": r["code"], "name": r["name"]}
            if r["overlap_m2"] < 0.01:  # touches the boundary only: adjacent, not inside
                nearby.append({**item, "distance_m": 0.0})
                continue
            overlaps.append(
                {**item, "overlap_m2": round(r["overlap_m2"], 2), "overlap_pct": round(share, 3)}
            )
        seen = {n["type"] for n in nearby}
        for r in rows["env_nearby"]:
            if r["zone_type"] in seen:
                continue
            nearby.append(
                {
                    "id": r["id"],
                    "type": r["zone_type"],
                    "code": r["code"],
                    "name": r["name"],
                    "distance_m": round(r["distance_m"], 1),
                }
            )
        nearby.sort(key=lambda n: (n["type"], n["distance_m"]))
    env.data = {
        "zones": overlaps,
        "nearby": nearby,
        "radius_m": config.nearby_radius_m,
        "coverage": env_cov,
    }

    # Grid: nearest postes sources.
    postes: list[dict[str, Any]] = []
    if not layers["substations"]:
        grid.note("Couche des postes sources (substations) vide : pas encore importée")
    elif not outside and grid_cov["status"] == "absent":
        grid.note(absent_message("substations"))
    elif not outside:
        for r in rows["grid"]:
            p = dict(r)
            del p["lead_id"]
            p["distance_m"] = round(p["distance_m"], 1)
            p["data_date"] = p["data_date"].isoformat() if p["data_date"] else None
            postes.append(p)
    grid.data = {"nearest": postes, "radius_m": config.grid_radius_m, "coverage": grid_cov}

    # Urbanism and land.
    plu: list[dict[str, Any]] = []
    parcels: list[dict[str, Any]] = []
    if not layers["urban_zones"]:
        urb.note(PLU_LAYER_EMPTY)
    elif not outside and plu_cov["status"] == "absent":
        urb.note(absent_message("urban_zones"))
    elif not outside:
        if plu_cov["status"] == "partial":
            urb.note(partial_message("urban_zones", plu_cov["covered_pct"]))
        for r in rows["plu"]:
            if r["overlap_m2"] < 0.01:
                continue
            plu.append(
                {
                    "type": r["zone_type"],
                    "label": r["label"],
                    "commune_insee": r["commune_insee"],
                    "document_id": r["document_id"],
                    "overlap_m2": round(r["overlap_m2"], 2),
                    "share_pct": round(100.0 * r["overlap_m2"] / lead.area_m2, 3)
                    if lead.area_m2
                    else 0.0,
                }
            )
        if not plu and plu_cov["status"] == "covered":
            urb.note(
                "Aucune zone PLU sous le site : carte communale ou règlement national "
                "d'urbanisme (RNU)",
                partial=False,
            )
    if not layers["parcels"]:
        urb.note("Couche du cadastre (parcels) vide : pas encore importée")
    elif not outside and parcels_cov["status"] == "absent":
        urb.note(absent_message("parcels"))
    elif not outside:
        if parcels_cov["status"] == "partial":
            urb.note(partial_message("parcels", parcels_cov["covered_pct"]))
        for r in rows["parcels"]:
            if r["overlap_m2"] < 1.0:  # shares an edge only
                continue
            parcels.append(
                {
                    "id": r["id"],
                    "commune": r["commune"],
                    "prefixe": r["prefixe"],
                    "section": r["section"],
                    "numero": r["numero"],
                    "contenance": r["contenance"],
                    "area_m2": round(r["area_m2"], 2),
                    "overlap_m2": round(r["overlap_m2"], 2),
                }
            )
    urb.data = {
        "plu_zones": plu,
        "communes": [
            {
                "insee": c["insee"],
                "name": c["name"],
                "department": c["department"],
                "overlap_m2": round(c["overlap_m2"], 2),
            }
            for c in communes
        ],
        "parcels": parcels,
        "coverage": {"plu": plu_cov, "parcels": parcels_cov},
    }

    # Surface: measured, and usable (minus hard-excluded overlaps).
    row = rows["surface"][0]
    surface = float(row["surface_m2"])
    excluded = float(row["excluded_m2"]) if layers["env_zones"] and not outside else 0.0
    surf.data = {
        "surface_m2": round(surface, 2),
        "excluded_m2": round(excluded, 2),
        "usable_surface_m2": round(max(surface - excluded, 0.0), 2),
    }
    if env.partial:
        surf.note("Surface utile non réduite des zones protégées : données de zones manquantes")
    return {"environment": env, "grid": grid, "urbanism": urb, "surface": surf}
