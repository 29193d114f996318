"""The site finder: scan a territory for candidate solar sites, in PostGIS (``sql/site_*.sql``).

A run is four statements in the caller's transaction: the territory's parcels (bounded), the
parcels judged (active lead, PLU), the sites assembled and measured with their criteria, then
the counts and the kept sites. Intermediate tables are temporary (dropped at commit) and no
geometry comes to Python: results are stored from the temporary table by :func:`store_sites`
in the same transaction. Each criterion answers pass, fail or "absent" (données absentes, when
its layer has no data there) — never a pass or a zero in place of missing data.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import shapely
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from enrichment import criteria as cr
from enrichment.config import DEFAULT_ZONE_RULES, EnrichmentConfig, PvgisConfig
from enrichment.estimate import estimate_sun
from enrichment.pvgis import (
    PvgisError,
    SunResult,
    parse_pvcalc,
    pvcalc_cache_key,
    pvcalc_params,
)
from enrichment.score import score
from enrichment.spatial import (
    ABSENT,
    LAYER_LABELS,
    LeadFacts,
    Part,
    absent_message,
    load_sql,
    partial_message,
    statement,
)
from enrichment.terrain import FLAT_PCT, TerrainReader, mosaics
from enrichment.wording import num
from geo.errors import InvalidInput
from geo.pipeline import OPEN_STATUSES

# DOMAIN.md: hard exclusions removed with a buffer "commonly 0–100 m" → the middle, 50 m.
DEFAULT_BUFFER_M = 50.0
DEFAULT_EXCLUDED_ZONES = {
    t: DEFAULT_BUFFER_M
    for t, (kind, _) in sorted(DEFAULT_ZONE_RULES.items())
    if kind == "exclusion"
}
# DOMAIN.md's site-selection default: "U/AU activity zones, Npv/Nenr/Aenr sectors" — no whole
# family (a residential Ub or 1AU zone does not pass), the sectors and the activity zones by label.
DEFAULT_PLU_TYPES: tuple[str, ...] = ()
DEFAULT_PLU_LABELS = (
    *("Npv", "Nenr", "Aenr", "Ne"),
    *("Ui", "Ux", "Uy", "AUi", "AUx", "AUy"),  # 1AUi, 2AUx…: digits either side are ignored
)
# DOMAIN.md: slope < 5 % ideal, 5–15 % acceptable if facing south-ish, > 15 % or north-facing
# poor → at most 15 % on average, and at most half of the site facing north.
DEFAULT_MAX_SLOPE_PCT = 15.0
DEFAULT_MAX_NORTH_SHARE = 50.0
# DOMAIN.md: "specific yield ≥ 1,100 kWh/kWc" (a typical target site; the site finder's default).
DEFAULT_MIN_YIELD = 1_100.0
# What removes a site (or a parcel), as the counts name them.
REMOVAL_REASONS = (
    "parcels_in_active_leads",
    "parcels_plu_not_allowed",
    "removed_min_buildable_area",
    "removed_poste_distance",
    "removed_poste_capacity",
    "removed_yield",
    "removed_slope",
    "removed_north_share",
)


@dataclass(frozen=True)
class SiteCriteria:
    """A run's criteria with DOMAIN.md's defaults; None switches a criterion off."""

    gap_m: float = 5.0
    min_buildable_ha: float | None = 5.0
    max_poste_distance_m: float | None = 5_000.0
    # "site": enough for the site's estimated MWc (buildable ha ÷ ha per MWc).
    min_capacity_mw: float | str | None = "site"
    excluded_zones: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_EXCLUDED_ZONES))
    plu_allowed_types: tuple[str, ...] | None = DEFAULT_PLU_TYPES
    plu_allowed_labels: tuple[str, ...] = DEFAULT_PLU_LABELS
    plu_unknown_passes: bool = True
    exclude_active_leads: bool = True
    # Terrain (when a terrain model covers the site, else "données absentes"): mean slope (%)
    # and share of north-facing cells (%) of the buildable area.
    max_slope_pct: float | None = DEFAULT_MAX_SLOPE_PCT
    max_north_share: float | None = DEFAULT_MAX_NORTH_SHARE
    # Specific yield (kWh/kWc/an) at the site's centroid: the PVGIS answer cached for its
    # 0.05° cell, else the offline estimate (labelled as such).
    min_specific_yield: float | None = DEFAULT_MIN_YIELD

    def as_dict(self) -> dict[str, Any]:
        """The criteria as stored with a run (every value, defaults included)."""
        d = asdict(self)
        types = self.plu_allowed_types
        d["plu_allowed_types"] = list(types) if types is not None else None
        d["plu_allowed_labels"] = list(self.plu_allowed_labels)
        return d


@dataclass(frozen=True)
class Territory:
    """Communes (INSEE codes), départements, or a GeoJSON polygon — exactly one."""

    communes: tuple[str, ...] = ()
    departements: tuple[str, ...] = ()
    polygon: str | None = None  # GeoJSON text, already checked by the caller
    chunk: tuple[str, ...] | None = None  # a polygon's chunk: its parcels of these communes


@dataclass(frozen=True)
class FinderBounds:
    """The run's bounds (api.settings.SiteFinderSettings)."""

    max_site_parcels: int = 200
    max_site_ha: float = 200.0
    max_results: int = 200
    max_territory_parcels: int = 50_000
    min_part_m2: float = 1_000.0
    min_width_m: float = 10.0
    poste_candidates: int = 10
    ha_per_mwc: float = 1.5
    terrain_dir: Path | None = None  # where `leadfactory import dem` keeps the mosaics


@dataclass
class FinderResult:
    """What a run found: counts, the territory's coverage, messages and the ranked sites."""

    counts: dict[str, int]
    coverage: dict[str, str]
    messages: list[str]
    sites: list[dict[str, Any]]


async def _territory_coverage(
    conn: AsyncConnection, params: dict[str, Any], tracked: list[str], loaded: dict[str, bool]
) -> tuple[dict[str, str], list[str]]:
    """Per layer over the territory: covered | partial | absent, and the French messages."""
    rows = {
        r["layer"]: r for r in (await conn.execute(statement("site_coverage"), params)).mappings()
    }
    coverage: dict[str, str] = {}
    messages: list[str] = []
    for layer, label in LAYER_LABELS.items():
        if not loaded[layer]:
            coverage[layer] = "absent"
            messages.append(f"{label} : couche vide, pas encore importée")
            continue
        if layer not in tracked:
            coverage[layer] = "covered"
            continue
        row = rows.get(layer)
        if row is None or not row["pieces"]:
            coverage[layer] = "covered"  # no outline to compare with (commune not in the layer)
            continue
        if row["whole"] == row["pieces"]:
            coverage[layer] = "covered"
        elif row["touched"]:
            coverage[layer] = "partial"
            messages.append(f"{label} : données sur une partie du territoire seulement")
        else:
            coverage[layer] = "absent"
            messages.append(f"{label} : {ABSENT}")
    return coverage, messages


def _verdicts(site: dict[str, Any], criteria: SiteCriteria) -> dict[str, dict[str, Any]]:
    """Each criterion's verdict on a kept site: pass | absent | off, with its reason in French."""
    v: dict[str, dict[str, Any]] = {}
    ha = (site["buildable_m2"] or 0.0) / 10_000.0
    env = site["env_coverage"]
    if criteria.min_buildable_ha is None:
        v["min_buildable_area"] = {"verdict": "off"}
    else:
        v["min_buildable_area"] = {
            "verdict": "pass",
            "reason": f"{ha:.2f} ha constructibles ≥ {criteria.min_buildable_ha:g} ha".replace(
                ".", ","
            ),
        }
    if env == "off":
        v["excluded_zones"] = {"verdict": "off"}
    elif env == "covered":
        v["excluded_zones"] = {"verdict": "pass", "reason": "zones exclues retirées"}
    else:
        why = ABSENT if env == "absent" else "données sur une partie du site seulement"
        v["excluded_zones"] = {
            "verdict": "absent",
            "reason": f"{LAYER_LABELS['env_zones']} : {why} ; surface constructible non réduite "
            "des zones qui y manquent",
        }
    grid = site["grid_status"]
    if grid == "off":
        v["poste"] = {"verdict": "off"}
    elif grid == "absent":
        v["poste"] = {"verdict": "absent", "reason": f"{LAYER_LABELS['substations']} : {ABSENT}"}
    elif grid == "absent_capacity":
        v["poste"] = {
            "verdict": "absent",
            "reason": "Capacité S3REnR inconnue pour les postes à portée",
        }
    else:
        chosen = site["chosen"]
        v["poste"] = {
            "verdict": "pass",
            "reason": f"Poste {chosen['name'] or chosen['code']} à ≈ "
            f"{chosen['distance_m'] / 1000:.1f} km".replace(".", ","),
        }
    if site["plu_off"]:
        v["plu"] = {"verdict": "off"}
    elif site["plu_absent"]:
        v["plu"] = {"verdict": "absent", "reason": f"{LAYER_LABELS['urban_zones']} : {ABSENT}"}
    elif site["plu_unknown"]:
        v["plu"] = {
            "verdict": "pass",
            "reason": "Parcelles sans zone PLU (carte communale ou RNU) admises",
        }
    else:
        v["plu"] = {"verdict": "pass", "reason": "Zones PLU admises"}
    v["active_leads"] = {"verdict": "pass" if criteria.exclude_active_leads else "off"}
    sun = site.get("sun")
    if criteria.min_specific_yield is None:
        v["yield"] = {"verdict": "off"}
    elif sun is not None:
        v["yield"] = {
            "verdict": "pass",
            "reason": f"Productible {num(sun['specific_yield_kwh_kwc'])} kWh/kWc/an ≥ "
            f"{num(criteria.min_specific_yield)} ({sun['label']})",
        }
    v.update(_terrain_verdicts(site.get("terrain"), criteria))
    return v


def _terrain_verdicts(
    terrain: dict[str, Any] | None, criteria: SiteCriteria
) -> dict[str, dict[str, Any]]:
    """The slope and north-facing verdicts of a kept site (it passed, or no terrain there)."""
    out: dict[str, dict[str, Any]] = {}
    for key, limit in (
        ("slope", criteria.max_slope_pct),
        ("north_share", criteria.max_north_share),
    ):
        label = "Pente" if key == "slope" else "Exposition nord"
        if limit is None:
            out[key] = {"verdict": "off"}
        elif terrain is None:
            out[key] = {"verdict": "absent", "reason": f"{label} : {ABSENT}"}
        elif key == "slope":
            out[key] = {
                "verdict": "pass",
                "reason": f"Pente moyenne {terrain['mean_slope_pct']:.1f} % ≤ {limit:g} %".replace(
                    ".", ","
                ),
            }
        else:
            out[key] = {
                "verdict": "pass",
                "reason": f"{terrain['north_share_pct']:.0f} % de la surface exposée au nord "
                f"≤ {limit:g} %".replace(".", ","),
            }
    return out


def _site_parts(
    r: dict[str, Any], facts: list[dict[str, Any]], criteria: SiteCriteria
) -> dict[str, Part]:
    """A kept site's facts as the leads' enrichment parts, for the criteria registry: the poste
    chosen, the buildable area, the protected zones over it, the PLU zones under its parcels
    and the terrain — each partial (données absentes) where its layer has no data there."""
    grid = Part(data={"nearest": r["postes"] or []})
    status = r["grid_status"]
    if status == "absent":
        grid.note(absent_message("substations"))
    elif status == "off":
        grid.note("Postes sources non recherchés : critère de distance au poste non demandé")
    env_layer = r["env_layer"]
    env = Part(
        data={
            "zones": [
                {
                    "type": f["zone_type"],
                    "code": f["code"],
                    "name": f["name"],
                    "overlap_m2": round(f["m2"], 2),
                    "overlap_pct": round(100.0 * f["m2"] / f["total_m2"], 3)
                    if f["total_m2"]
                    else 0.0,
                }
                for f in facts
                if f["fact"] == "env"
            ],
            "coverage": {"status": env_layer},
        }
    )
    if env_layer == "absent":
        env.note(absent_message("env_zones"))
    elif env_layer == "partial":
        env.note(f"{LAYER_LABELS['env_zones']} : données sur une partie du site seulement")
    plu_rows = [f for f in facts if f["fact"].startswith("plu_")]
    total = sum(f["m2"] for f in plu_rows)
    absent_m2 = sum(f["m2"] for f in plu_rows if f["fact"] == "plu_absent")
    zones = [f for f in plu_rows if f["fact"] == "plu_zone" and f["zone_type"] is not None]
    plu_status = "absent" if total and absent_m2 >= total else "partial" if absent_m2 else "covered"
    urb = Part(
        data={
            "plu_zones": [
                {
                    "type": f["zone_type"],
                    "label": f["name"],
                    "overlap_m2": round(f["m2"], 2),
                    "share_pct": round(100.0 * f["m2"] / total, 3) if total else 0.0,
                }
                for f in sorted(zones, key=lambda f: (-f["m2"], f["name"] or ""))
            ],
            "coverage": {"plu": {"status": plu_status}},
        }
    )
    if not total or (r["plu_absent"] and plu_status == "absent"):
        urb.note(absent_message("urban_zones"))
    elif plu_status == "partial":
        urb.note(partial_message("urban_zones", 100.0 * (1 - absent_m2 / total)))
    terrain = Part(data=dict(r.get("terrain") or {}))
    if not terrain.data:
        off = criteria.max_slope_pct is None and criteria.max_north_share is None
        terrain.note(
            "Relief non lu : critères de pente et d'exposition non demandés"
            if off
            else cr.TERRAIN_ABSENT
        )
    surface = Part(data={"usable_surface_m2": float(r["buildable_m2"] or 0.0)})
    return {
        "grid": grid,
        "environment": env,
        "urbanism": urb,
        "surface": surface,
        "terrain": terrain,
    }


def _sun_of(site_sun: dict[str, Any] | None) -> SunResult | None:
    if site_sun is None:
        return None
    return SunResult(
        source=site_sun["source"],
        specific_yield_kwh_kwc=site_sun["specific_yield_kwh_kwc"],
        irradiation_kwh_m2=None,
        optimal_tilt_deg=None,
        azimuth_deg=None,
        radiation_database=None,
    )


def _ranked(
    rows: list[dict[str, Any]],
    facts: dict[Any, list[dict[str, Any]]],
    criteria: SiteCriteria,
    config: EnrichmentConfig,
    ha_per_mwc: float,
) -> list[dict[str, Any]]:
    """Score each kept site with the leads' scorer through the criteria registry (grid,
    surface, sun, environment, urbanism, owners) and the site-only ones (terrain), a factor
    without data counting as missing in the completeness as for a lead; then rank: score, then
    buildable area, then the site's key (stable)."""
    weights = {k: c.weight for k, c in cr.SITE_ONLY.items()} | config.score.weights
    score_cfg = replace(config.score, weights=weights)
    out = []
    for r in rows:
        buildable = float(r["buildable_m2"] or 0.0)
        mwc = buildable / 10_000.0 / ha_per_mwc
        postes = r["postes"] or []
        # The nearest poste with enough capacity (SQL), else the nearest (as for a lead).
        chosen = r["chosen"] or (postes[0] if postes else None)
        if r["grid_status"] in ("absent", "off"):
            chosen = None
        parts = _site_parts(r, facts.get(r["site_key"], []), criteria)
        x = cr.ScoreInput(
            facts=LeadFacts(0, "", False, r["lat"], r["lon"], buildable, None),
            sun=_sun_of(r.get("sun")),
            parts=parts,
            config=config,
            mwc=mwc,
            chosen=chosen,
            no_poste=False,  # a site without a poste in range is removed, or the criterion off
            environment=cr.environment_assessment(parts, config),
        )
        result = score(cr.evaluate_site(x), x.environment.exclusions, score_cfg)
        out.append(
            {
                "site_key": r["site_key"],
                "parcel_ids": list(r["parcel_ids"]),
                "area_m2": round(float(r["area_m2"]), 1),
                "buildable_m2": round(buildable, 1),
                "score": result["score"],
                "completeness": result["completeness"],
                "facts": {
                    "parcel_count": r["parcel_count"],
                    "over_cap": bool(r["over_cap"]),
                    "estimated_mwc": round(mwc, 2),
                    "need_mw": r["need_mw"],
                    "excluded_zones": r["zones"] or [],
                    "postes": postes,
                    "chosen_poste": chosen,
                    "sun": r.get("sun"),
                    "env_zones": parts["environment"].data["zones"],
                    "plu_zones": parts["urbanism"].data["plu_zones"],
                    "terrain": r.get("terrain"),
                    "verdicts": _verdicts(r, criteria),
                    "breakdown": result["criteria"],
                    "exclusion_reasons": result["exclusion_reasons"],
                },
            }
        )
    out.sort(key=lambda s: (-s["score"], -s["buildable_m2"], s["site_key"]))
    for i, s in enumerate(out, start=1):
        s["rank"] = i
    return out


def _where(territory: Territory) -> dict[str, Any]:
    return {
        "communes": list(territory.communes),
        "departements": list(territory.departements),
        "polygon": territory.polygon,
    }


async def territory_coverage(
    conn: AsyncConnection, territory: Territory
) -> tuple[dict[str, str], list[str]]:
    """Per reference layer over the whole territory: covered | partial | absent, and the French
    messages."""
    layers = dict((await conn.execute(statement("layers"))).mappings().one())
    loaded = {k: bool(layers[k]) for k in LAYER_LABELS}
    return await _territory_coverage(conn, _where(territory), list(layers["tracked"] or []), loaded)


@dataclass(frozen=True)
class CommuneCount:
    """A commune of a run's territory: its parcels there and where it lies (lon, lat)."""

    code: str
    parcels: int
    x: float
    y: float


async def plan_territory(conn: AsyncConnection, territory: Territory) -> list[CommuneCount]:
    """The territory's parcels counted per cadastral commune, by code."""
    rows = await conn.execute(text(load_sql("site_plan")), _where(territory))
    return [CommuneCount(r.commune, int(r.parcels), float(r.x), float(r.y)) for r in rows]


def _hilbert(x: int, y: int, order: int) -> int:
    """The position of cell (x, y) along a Hilbert curve over a 2^order grid."""
    d = 0
    s = 1 << (order - 1)
    while s > 0:
        rx = 1 if x & s else 0
        ry = 1 if y & s else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:  # rotate the quadrant
            if rx == 1:
                x, y = s - 1 - x, s - 1 - y
            x, y = y, x
        s >>= 1
    return d


def chunk_communes(counts: list[CommuneCount], target: int) -> list[tuple[list[str], int]]:
    """Whole communes packed into chunks of about ``target`` parcels (a commune larger than that
    is a chunk alone), taken along a Hilbert curve through their positions so that a chunk's
    communes are neighbours: fewer sites cross a chunk's edge than in code order (on the
    benchmark département, code order put 23 % of the parcels at a chunk edge)."""
    if not counts:
        return []
    order = 16
    x0, x1 = min(c.x for c in counts), max(c.x for c in counts)
    y0, y1 = min(c.y for c in counts), max(c.y for c in counts)
    span = max(x1 - x0, y1 - y0) or 1.0
    cells = (1 << order) - 1

    def key(c: CommuneCount) -> tuple[int, str]:
        gx = int((c.x - x0) / span * cells)
        gy = int((c.y - y0) / span * cells)
        return _hilbert(gx, gy, order), c.code

    chunks: list[tuple[list[str], int]] = []
    cur: list[str] = []
    n = 0
    for c in sorted(counts, key=key):
        if cur and n + c.parcels > target:
            chunks.append((sorted(cur), n))
            cur, n = [], 0
        cur.append(c.code)
        n += c.parcels
    if cur:
        chunks.append((sorted(cur), n))
    return chunks


async def judge_parcels(
    conn: AsyncConnection, territory: Territory, criteria: SiteCriteria, bounds: FinderBounds
) -> int:
    """Steps 1a and 1b: the territory's parcels (bounded) judged into ``sf_parcels``; how many."""
    await conn.execute(
        text(load_sql("site_territory")),
        {
            **_where(territory),
            "chunk": list(territory.chunk) if territory.chunk is not None else None,
            "max_parcels": bounds.max_territory_parcels,
        },
    )
    picked = int((await conn.execute(text("SELECT count(*) FROM sf_picked"))).scalar_one())
    if picked > bounds.max_territory_parcels:
        raise InvalidInput(
            f"the territory holds more than {bounds.max_territory_parcels:,} parcels: too large "
            "for one run; choose fewer communes or a smaller polygon",
            limit="max_territory_parcels",
            max=bounds.max_territory_parcels,
        )
    # The joins of step 1b go from each zone to its parcels' points.
    await conn.execute(text("CREATE INDEX ON sf_picked USING gist (pos)"))
    await conn.execute(text("ANALYZE sf_picked"))
    await conn.execute(text(load_sql("site_parcels")), _judging(criteria))
    return picked


def _judging(criteria: SiteCriteria) -> dict[str, Any]:
    """How a parcel is judged free (site_parcels.sql, and site_edges.sql for a neighbour in
    another chunk): the same parameters for both, so both give the same verdict."""
    return {
        "exclude_active": criteria.exclude_active_leads,
        "open_statuses": sorted(s.value for s in OPEN_STATUSES),
        "plu_on": criteria.plu_allowed_types is not None,
        "plu_types": list(criteria.plu_allowed_types or ()),
        "plu_labels": [x.lower() for x in criteria.plu_allowed_labels],
        "plu_unknown_passes": criteria.plu_unknown_passes,
    }


async def set_aside_edges(
    conn: AsyncConnection, criteria: SiteCriteria, others: list[str], polygon: str | None
) -> int:
    """A chunk's clusters that may continue in another chunk (communes ``others``) set aside
    (``removed = 'edge'``) for the merge; how many parcels."""
    if not others:
        return 0
    await conn.execute(
        text(load_sql("site_edges")),
        {
            "gap_m": criteria.gap_m,
            # More than gap_m in degrees of longitude up to 60° N (1° ≥ 55 km there).
            "deg": (criteria.gap_m + 1.0) / 50_000.0,
            "others": others,
            "polygon": polygon,
            **_judging(criteria),
        },
    )
    n = (
        await conn.execute(
            text(
                "UPDATE sf_parcels SET removed = 'edge' "
                "WHERE id IN (SELECT id FROM sf_edge) RETURNING 1"
            )
        )
    ).all()
    return len(n)


async def load_edges(conn: AsyncConnection, run_id: int) -> int:
    """The merge's parcels: every chunk's edge parcels of a run, as judged there, in
    ``sf_parcels`` (the table step 2 reads); how many."""
    await conn.execute(
        text(
            """CREATE TEMPORARY TABLE sf_parcels ON COMMIT DROP AS
               SELECT p.id, p.geom, ST_Transform(p.geom, 2154) AS g93, p.area_m2,
                      CAST(NULL AS text) AS plu_type, CAST(NULL AS text) AS plu_label,
                      CAST(e.plu_status AS text) AS plu_status, CAST(NULL AS text) AS removed
               FROM site_search_edge_parcels AS e
               JOIN parcels AS p ON p.id = e.parcel_id
               WHERE e.run_id = :run_id"""
        ),
        {"run_id": run_id},
    )
    return int((await conn.execute(text("SELECT count(*) FROM sf_parcels"))).scalar_one())


async def assemble_sites(
    conn: AsyncConnection, criteria: SiteCriteria, bounds: FinderBounds, config: EnrichmentConfig
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Steps 2–4 on ``sf_parcels``: the sites, the counts by reason and the kept sites ranked
    (the largest ``max_results`` by buildable area) with the score's facts; the sites stay in
    ``sf_sites``."""
    cap = criteria.min_capacity_mw
    min_ha = criteria.min_buildable_ha
    await conn.execute(
        text(load_sql("site_sites")),
        {
            "gap_m": criteria.gap_m,
            "max_site_parcels": bounds.max_site_parcels,
            "max_site_m2": bounds.max_site_ha * 10_000.0,
            "min_buildable_m2": None if min_ha is None else min_ha * 10_000.0,
            "zone_types": list(criteria.excluded_zones),
            "zone_buffers": [float(b) for b in criteria.excluded_zones.values()],
            "min_part_m2": bounds.min_part_m2,
            "min_width_m": bounds.min_width_m,
            "capacity_for_site": cap == "site",
            "min_capacity_mw": cap if isinstance(cap, int | float) else None,
            "ha_per_mwc": bounds.ha_per_mwc,
            "max_poste_m": criteria.max_poste_distance_m,
            "poste_candidates": bounds.poste_candidates,
        },
    )
    suns = await judge_yield(conn, criteria, config.pvgis)
    terrain, removed = await judge_terrain(conn, criteria, bounds)
    counts = {
        k: int(v)
        for k, v in (await conn.execute(text(load_sql("site_counts")))).mappings().one().items()
    }
    counts.update(removed)
    rows = [
        {**r, "terrain": terrain.get(r["site_key"]), "sun": suns.get(r["site_key"])}
        for r in (
            await conn.execute(text(load_sql("site_top")), {"max_results": bounds.max_results})
        ).mappings()
    ]
    facts: dict[Any, list[dict[str, Any]]] = {}
    if rows:
        for f in (
            await conn.execute(
                text(load_sql("site_facts")),
                {"keys": [r["site_key"] for r in rows], "excluded": list(criteria.excluded_zones)},
            )
        ).mappings():
            facts.setdefault(f["site_key"], []).append(dict(f))
    sites = _ranked(rows, facts, criteria, config, bounds.ha_per_mwc)
    counts["sites_returned"] = len(sites)
    return counts, sites


_KEPT_CENTROIDS = """
SELECT site_key, ST_Y(ST_Centroid(geom)) AS lat, ST_X(ST_Centroid(geom)) AS lon
FROM sf_sites WHERE removed IS NULL
"""


async def site_suns(
    conn: AsyncConnection, points: dict[Any, tuple[float, float]], config: PvgisConfig
) -> dict[Any, dict[str, Any]]:
    """Each site's specific yield at its centroid: the PVGIS answer cached for its cell (the
    enrichment's cache, same key), else the offline estimate — labelled as such."""
    cell = {k: pvcalc_cache_key(config, lat, lon) for k, (lat, lon) in points.items()}
    bodies: dict[str, Any] = {}
    if config.enabled and cell:
        rows = await conn.execute(
            text("SELECT key, response FROM pvgis_cache WHERE key = ANY(CAST(:k AS text[]))"),
            {"k": sorted(set(cell.values()))},
        )
        bodies = {k: body for k, body in rows}
    out: dict[Any, dict[str, Any]] = {}
    for k, (lat, lon) in points.items():
        sun: SunResult | None = None
        if cell[k] in bodies:
            try:
                sun = parse_pvcalc(bodies[cell[k]], {})
            except PvgisError:
                sun = None
        p = pvcalc_params(config, lat, lon)
        if sun is not None:
            label = "PVGIS, maille de 0,05°"
        else:
            sun = estimate_sun(lat, lon, config.loss_pct)
            label = "estimation hors ligne"
        out[k] = {
            "source": sun.source,
            "specific_yield_kwh_kwc": round(sun.specific_yield_kwh_kwc, 1),
            "label": label,
            "cell": {"lat": p["lat"], "lon": p["lon"]},
        }
    return out


async def judge_yield(
    conn: AsyncConnection, criteria: SiteCriteria, config: PvgisConfig
) -> dict[Any, dict[str, Any]]:
    """The kept sites' specific yield (:func:`site_suns`); a site under the minimum is removed
    in ``sf_sites`` (``yield``, counted by ``site_counts.sql``)."""
    points = {
        r.site_key: (float(r.lat), float(r.lon)) for r in await conn.execute(text(_KEPT_CENTROIDS))
    }
    suns = await site_suns(conn, points, config)
    low = criteria.min_specific_yield
    if low is not None:
        out = [{"k": k} for k, v in suns.items() if v["specific_yield_kwh_kwc"] < low]
        if out:
            await conn.execute(
                text("UPDATE sf_sites SET removed = 'yield' WHERE site_key = :k"), out
            )
            for o in out:
                del suns[o["k"]]
    return suns


_KEPT_BUILDABLE = """
SELECT site_key, ST_AsBinary(coalesce(buildable_g93, ST_Transform(geom, 2154))) AS wkb
FROM sf_sites WHERE removed IS NULL
"""


def _terrain_stats(paths: list[Path], rows: list[Any]) -> dict[Any, dict[str, Any] | None]:
    """Each site's terrain statistics (None: no terrain under it), read in a worker thread."""
    with TerrainReader(paths) as reader:
        return {key: reader.site(shapely.from_wkb(wkb)) for key, wkb in rows}


async def judge_terrain(
    conn: AsyncConnection, criteria: SiteCriteria, bounds: FinderBounds
) -> tuple[dict[Any, dict[str, Any]], dict[str, int]]:
    """The kept sites' mean slope and north-facing share over their buildable area (before
    slivers are dropped) from the terrain mosaics; a site over a limit is removed in
    ``sf_sites`` (``slope``, then ``north_share``) and counted. A site with no terrain under it
    is kept: its verdicts say "données absentes"."""
    removed = {"removed_slope": 0, "removed_north_share": 0}
    max_slope, max_north = criteria.max_slope_pct, criteria.max_north_share
    if max_slope is None and max_north is None:
        return {}, removed
    paths = await asyncio.to_thread(mosaics, bounds.terrain_dir)
    if not paths:
        return {}, removed
    rows = [(r.site_key, bytes(r.wkb)) for r in await conn.execute(text(_KEPT_BUILDABLE))]
    if not rows:
        return {}, removed
    stats = await asyncio.to_thread(_terrain_stats, paths, rows)
    verdicts = []
    for key, st in stats.items():
        if st is None:
            continue
        st["flat_below_pct"] = FLAT_PCT
        if max_slope is not None and st["mean_slope_pct"] > max_slope:
            verdicts.append({"k": key, "why": "slope"})
        elif max_north is not None and st["north_share_pct"] > max_north:
            verdicts.append({"k": key, "why": "north_share"})
    if verdicts:
        await conn.execute(text("UPDATE sf_sites SET removed = :why WHERE site_key = :k"), verdicts)
    for v in verdicts:
        removed[f"removed_{v['why']}"] += 1
    return {k: v for k, v in stats.items() if v is not None}, removed


async def find_sites(
    conn: AsyncConnection,
    territory: Territory,
    criteria: SiteCriteria,
    bounds: FinderBounds,
    config: EnrichmentConfig,
) -> FinderResult:
    """A whole territory at once in the caller's transaction (the benchmark's engine figure; the
    API runs territories in chunks); the sites stay in ``sf_sites`` until commit."""
    picked = await judge_parcels(conn, territory, criteria, bounds)
    coverage, messages = await territory_coverage(conn, territory)
    counts, sites = await assemble_sites(conn, criteria, bounds, config)
    if not picked:
        messages.append(no_parcels_message())
    return FinderResult(counts=counts, coverage=coverage, messages=messages, sites=sites)


def no_parcels_message() -> str:
    """What a territory without parcels says."""
    return f"{LAYER_LABELS['parcels']} : aucune parcelle dans ce territoire ({ABSENT})"


_STORE = """
INSERT INTO site_search_results
    (run_id, rank, parcel_ids, area_m2, buildable_m2, score, completeness, facts, geom)
SELECT :run_id, :rank, CAST(:parcel_ids AS jsonb), :area_m2, :buildable_m2, :score,
       :completeness, CAST(:facts AS jsonb), s.geom
FROM sf_sites AS s
WHERE s.site_key = :site_key
"""


_STAGE = """
INSERT INTO site_search_staged
    (run_id, chunk_idx, site_key, parcel_ids, area_m2, buildable_m2, score, completeness, facts,
     geom)
SELECT :run_id, :chunk_idx, s.site_key, CAST(:parcel_ids AS jsonb), :area_m2, :buildable_m2,
       :score, :completeness, CAST(:facts AS jsonb), s.geom
FROM sf_sites AS s
WHERE s.site_key = :site_key
"""


async def stage_sites(
    conn: AsyncConnection, run_id: int, chunk_idx: int, sites: list[dict[str, Any]]
) -> None:
    """Keep a chunk's scored sites (geometry from ``sf_sites``) and its edge parcels until the
    run is merged (same transaction as the chunk's work)."""
    await conn.execute(
        text(
            "INSERT INTO site_search_edge_parcels (run_id, parcel_id, chunk_idx, plu_status) "
            "SELECT :run_id, id, :chunk_idx, plu_status FROM sf_parcels WHERE removed = 'edge'"
        ),
        {"run_id": run_id, "chunk_idx": chunk_idx},
    )
    if not sites:
        return
    await conn.execute(
        text(_STAGE),
        [
            {
                "run_id": run_id,
                "chunk_idx": chunk_idx,
                "site_key": s["site_key"],
                "parcel_ids": orjson.dumps(s["parcel_ids"]).decode(),
                "area_m2": s["area_m2"],
                "buildable_m2": s["buildable_m2"],
                "score": s["score"],
                "completeness": s["completeness"],
                "facts": orjson.dumps(s["facts"]).decode(),
            }
            for s in sites
        ],
    )


# The run's results from its staged sites: the largest max_results by buildable area (the bound
# of a run, as site_top.sql), ranked by score, then buildable area, then the site's key.
_PUBLISH = """
INSERT INTO site_search_results
    (run_id, rank, parcel_ids, area_m2, buildable_m2, score, completeness, facts, geom)
SELECT run_id,
       row_number() OVER (ORDER BY score DESC, buildable_m2 DESC, site_key COLLATE "C"),
       parcel_ids, area_m2, buildable_m2, score, completeness, facts, geom
FROM (
    SELECT * FROM site_search_staged
    WHERE run_id = :run_id
    ORDER BY buildable_m2 DESC, area_m2 DESC, site_key COLLATE "C"
    LIMIT :max_results
) AS top
"""


# The map's cached ``candidates`` tiles are keyed by this version (tiles/layers.py).
BUMP_CANDIDATES = """
INSERT INTO layer_versions AS v (layer, version) VALUES ('candidates', 1)
ON CONFLICT (layer) DO UPDATE SET version = v.version + 1, updated_at = now()
"""


async def publish_sites(conn: AsyncConnection, run_id: int, max_results: int) -> int:
    """Write a run's ranked results from its staged sites and drop what was staged; how many."""
    n = (
        await conn.execute(text(_PUBLISH), {"run_id": run_id, "max_results": max_results})
    ).rowcount
    await discard_staged(conn, run_id)
    await conn.execute(text(BUMP_CANDIDATES))
    return int(n or 0)


async def discard_staged(conn: AsyncConnection, run_id: int) -> None:
    """Drop a run's staged sites and edge parcels (published, cancelled or failed)."""
    await conn.execute(text("DELETE FROM site_search_staged WHERE run_id = :r"), {"r": run_id})
    await conn.execute(
        text("DELETE FROM site_search_edge_parcels WHERE run_id = :r"), {"r": run_id}
    )


async def store_sites(conn: AsyncConnection, run_id: int, sites: list[dict[str, Any]]) -> None:
    """Write a run's ranked sites with their geometry from ``sf_sites`` (same transaction)."""
    if not sites:
        return
    await conn.execute(
        text(_STORE),
        [
            {
                "run_id": run_id,
                "rank": s["rank"],
                "parcel_ids": orjson.dumps(s["parcel_ids"]).decode(),
                "area_m2": s["area_m2"],
                "buildable_m2": s["buildable_m2"],
                "score": s["score"],
                "completeness": s["completeness"],
                "facts": orjson.dumps(s["facts"]).decode(),
                "site_key": s["site_key"],
            }
            for s in sites
        ],
    )
