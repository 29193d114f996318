"""The quality score's criteria, each declared once: key, French label, weight, how it is scored.

Everything that shows or computes a criterion reads this registry: the engine (``compute``), the
score's weights (``ScoreConfig``), the API (``GET /api/reference/criteria``, which the web
ScoreCard reads for its labels and order), the PDF/XLSX dossier and the exports. Adding a
criterion is one ``CriterionDef`` here (docs/extending.md).

An ``evaluate`` function gets the lead's gathered facts (``ScoreInput``) and answers a
``score.Criterion``: its value 0–1, its French reason, and where the data came from (``real``,
``estimated`` or ``missing``: then the reason says what is absent, never a made-up figure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from enrichment import score as sc
from enrichment.spatial import (
    LAYER_LABELS,
    OUTSIDE_FRANCE,
    PLU_LAYER_EMPTY,
    LeadFacts,
    Part,
    absent_message,
    no_poste_message,
)
from enrichment.wording import SEP, num

if TYPE_CHECKING:
    from enrichment.config import EnrichmentConfig
    from enrichment.pvgis import SunResult


@dataclass(frozen=True)
class Environment:
    """The regulatory verdict of the protected zones and the environment criterion it gives."""

    verdict: str | None  # ok | penalty | exclusion; None when the zones are unknown
    reasons: list[str]
    exclusions: list[str]
    criterion: sc.Criterion


@dataclass
class ScoreInput:
    """What a criterion may read: the lead's facts, its parts, the sun, the chosen poste."""

    facts: LeadFacts
    sun: SunResult | None
    parts: dict[str, Part]
    config: EnrichmentConfig
    mwc: float
    chosen: dict[str, Any] | None
    no_poste: bool
    environment: Environment


@dataclass(frozen=True)
class CriterionDef:
    """One criterion of the score, declared once."""

    key: str  # the breakdown's key (stored JSON, API, exports): never renamed
    label: str  # French, as the ScoreCard and the dossier show it
    weight: float  # default weight (DOMAIN.md); ``LFS_SCORE__WEIGHT_<KEY>`` may override it
    section: str  # the enrichment part it rests on (sun, grid, environment, urbanism, …)
    unit: str  # unit of the figure its reason quotes ("" when none)
    absent: str  # what its reason says when the data is missing ("données absentes")
    evaluate: Callable[[ScoreInput], sc.Criterion]
    description: str = ""


def environment_assessment(parts: dict[str, Part], config: EnrichmentConfig) -> Environment:
    """Verdict and criterion of the protected zones, with the zones' coverage taken into account.

    A zone found is a fact wherever it lies (an exclusion stands); zones known on part of the site
    only give an estimated value; no zone data at all gives a missing criterion and no verdict.
    """
    env = parts["environment"]
    verdict: str | None
    verdict, reasons, exclusions, crit = sc.environment_verdict(env.data["zones"], config.score)
    coverage = env.data.get("coverage", {}).get("status", "covered")
    if exclusions:
        pass
    elif env.partial and (env.data["zones"] or coverage == "partial"):
        crit = sc.Criterion(crit.value, SEP.join([*reasons, *env.messages]), "estimated")
    elif env.partial:
        crit = sc.Criterion(0.5, SEP.join(env.messages), "missing")
        verdict = None
    return Environment(verdict, reasons, exclusions, crit)


def _grid(x: ScoreInput) -> sc.Criterion:
    grid = x.parts["grid"]
    if grid.partial and x.chosen is None:
        return sc.Criterion(0.5, SEP.join(grid.messages), "missing")
    if x.no_poste:  # inside the postes' coverage and none within the radius: a fact
        return sc.Criterion(0.0, no_poste_message(x.config.grid_radius_m))
    return sc.grid_criterion(x.chosen, x.mwc, grid.partial)


def _surface(x: ScoreInput) -> sc.Criterion:
    return sc.surface_criterion(x.parts["surface"].data["usable_surface_m2"])


def _sun(x: ScoreInput) -> sc.Criterion:
    if x.sun is None:
        return sc.sun_criterion(None, None)
    return sc.sun_criterion(x.sun.specific_yield_kwh_kwc, x.sun.source)


def _environment(x: ScoreInput) -> sc.Criterion:
    return x.environment.criterion


def _urbanism(x: ScoreInput) -> sc.Criterion:
    urb = x.parts["urbanism"]
    coverage = urb.data.get("coverage", {}).get("plu", {}).get("status", "covered")
    if coverage == "absent":
        return sc.Criterion(0.5, absent_message("urban_zones"), "missing")
    known = not {OUTSIDE_FRANCE, PLU_LAYER_EMPTY} & set(urb.messages)
    crit = sc.urbanism_criterion(urb.data["plu_zones"], known)
    if coverage == "partial" and crit.data == "real":
        why = [m for m in urb.messages if m.startswith(LAYER_LABELS["urban_zones"])]
        return sc.Criterion(crit.value, SEP.join([crit.reason, *why]), "estimated")
    return crit


def _owners(x: ScoreInput) -> sc.Criterion:
    return sc.owners_criterion(x.facts.owner_count)


def _terrain(x: ScoreInput) -> sc.Criterion:
    terrain = x.parts.get("terrain")
    if terrain is None or terrain.partial or not terrain.data:
        why = SEP.join(terrain.messages) if terrain is not None and terrain.messages else ""
        return sc.Criterion(0.5, why or TERRAIN_ABSENT, "missing")
    return terrain_criterion(terrain.data["mean_slope_pct"], terrain.data["north_share_pct"])


def terrain_criterion(mean_slope_pct: float, north_share_pct: float) -> sc.Criterion:
    """Slope (DOMAIN.md: < 5 % ideal, 5–15 % acceptable, > 15 % poor: 1 → 0.5 at 15 % → 0 at
    25 %) and north-facing share (none: 1, half the site: 0.5, all: 0); the lower of the two."""
    if mean_slope_pct <= 15:
        slope = sc._lin(mean_slope_pct, 5, 15, 1.0, 0.5)
    else:
        slope = sc._lin(mean_slope_pct, 15, 25, 0.5, 0.0)
    north = sc._lin(north_share_pct, 0, 100, 1.0, 0.0)
    reason = (
        f"Pente moyenne {num(mean_slope_pct, 1)} %, "
        f"{num(north_share_pct)} % de la surface exposée au nord"
    )
    return sc.Criterion(min(slope, north), reason)


TERRAIN_ABSENT = "Relief (pente, exposition) : données absentes pour cette zone"


CRITERIA: dict[str, CriterionDef] = {
    c.key: c
    for c in (
        CriterionDef(
            key="grid",
            label="Réseau (distance et capacité)",
            weight=30.0,
            section="grid",
            unit="km",
            absent=absent_message("substations"),
            evaluate=_grid,
            description="Distance to the chosen poste source and its S3REnR capacity.",
        ),
        CriterionDef(
            key="surface",
            label="Surface",
            weight=20.0,
            section="surface",
            unit="ha",
            absent="",  # the site's own geometry: never missing
            evaluate=_surface,
            description="Usable surface (the site minus excluded zones).",
        ),
        CriterionDef(
            key="sun",
            label="Ensoleillement",
            weight=15.0,
            section="sun",
            unit="kWh/kWc/an",
            absent=sc.NO_SUN,
            evaluate=_sun,
            description="Specific yield (PVGIS, or the offline estimate).",
        ),
        CriterionDef(
            key="environment",
            label="Environnement",
            weight=20.0,
            section="environment",
            unit="%",
            absent=absent_message("env_zones"),
            evaluate=_environment,
            description="Protected and constrained zones over the site.",
        ),
        CriterionDef(
            key="urbanism",
            label="Urbanisme",
            weight=10.0,
            section="urbanism",
            unit="%",
            absent=absent_message("urban_zones"),
            evaluate=_urbanism,
            description="PLU zones over the site.",
        ),
        CriterionDef(
            key="owners",
            label="Foncier (propriétaires)",
            weight=5.0,
            section="foncier",
            unit="",
            absent=sc.NO_OWNERS,
            evaluate=_owners,
            description="Number of owners (fewer makes an agreement easier).",
        ),
    )
}


# Criteria a site of the site finder is scored with besides the leads' (a lead has no terrain
# model reading yet): its weight is ours, DOMAIN.md gives none (docs/site-finder.md).
SITE_ONLY: dict[str, CriterionDef] = {
    c.key: c
    for c in (
        CriterionDef(
            key="terrain",
            label="Relief (pente et exposition)",
            weight=10.0,
            section="terrain",
            unit="%",
            absent=TERRAIN_ABSENT,
            evaluate=_terrain,
            description="Mean slope and north-facing share of a site's buildable area "
            "(site finder only, from a loaded terrain model).",
        ),
    )
}


def site_criteria() -> dict[str, CriterionDef]:
    """What a site of the site finder is scored with: every criterion of the registry, then the
    site-only ones."""
    return {**CRITERIA, **SITE_ONLY}


def evaluate_site(x: ScoreInput) -> dict[str, sc.Criterion]:
    """Every criterion of :func:`site_criteria` for one site, in order."""
    return {key: c.evaluate(x) for key, c in site_criteria().items()}


def default_weights() -> dict[str, float]:
    """Every criterion's default weight, in the registry's order."""
    return {c.key: c.weight for c in CRITERIA.values()}


def label(key: str) -> str:
    """A criterion's French label; the key itself for one the registry no longer has."""
    c = CRITERIA.get(key)
    return c.label if c else key


def rank(key: str) -> int:
    """A criterion's place in the registry's order (display order; unknown keys after)."""
    keys = list(CRITERIA)
    return keys.index(key) if key in keys else len(keys)


def evaluate_all(x: ScoreInput) -> dict[str, sc.Criterion]:
    """Every criterion of the registry for one lead, in the registry's order."""
    return {key: c.evaluate(x) for key, c in CRITERIA.items()}


def describe(
    weights: dict[str, float], criteria: dict[str, CriterionDef] | None = None
) -> list[dict[str, Any]]:
    """The criteria as the API lists them (``weights``: the configured ones), in order; the
    registry's by default, or ``criteria`` (e.g. :func:`site_criteria`)."""
    return [
        {
            "key": c.key,
            "label": c.label,
            "weight": weights.get(c.key, c.weight),
            "section": c.section,
            "unit": c.unit,
            "absent": c.absent,
            "description": c.description,
        }
        for c in (CRITERIA if criteria is None else criteria).values()
    ]
