"""The explainable quality score: 0–100, each criterion 0–1 with a reason (DOMAIN.md).

Each criterion says where its value came from: ``real`` (our data), ``estimated`` (e.g. the
offline sun estimate) or ``missing``. Completeness is the share of the weight backed by real data.
A hard exclusion sets the score to 0 and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from enrichment.config import ScoreConfig

# PLU sectors dedicated to renewables inside A/N zones (Npv, Nenr, Aenr, Ne, Apv, …).
DEDICATED_SECTOR = re.compile(r"^[AN].*(pv|enr)|^[AN]e\b|^[AN]e[0-9]?$", re.IGNORECASE)
BUILDABLE = {"U", "AU", "AUc", "AUs"}


@dataclass
class Criterion:
    """One criterion's value (0–1), reason and data provenance."""

    value: float
    reason: str
    data: str = "real"  # real | estimated | missing


def _lin(x: float, x0: float, x1: float, y0: float, y1: float) -> float:
    if x <= x0:
        return y0
    if x >= x1:
        return y1
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def grid_criterion(chosen: dict[str, Any] | None, mwc: float, partial: bool) -> Criterion:
    """Distance to the chosen poste (< 5 km good, 5–10 acceptable, > 15 rarely viable), capacity."""
    if chosen is None:
        return Criterion(0.0, "no poste source known near the site", "missing")
    km = chosen["distance_m"] / 1000.0
    if km <= 2:
        v = 1.0
    elif km <= 5:
        v = _lin(km, 2, 5, 1.0, 0.8)
    elif km <= 10:
        v = _lin(km, 5, 10, 0.8, 0.4)
    elif km <= 15:
        v = _lin(km, 10, 15, 0.4, 0.1)
    else:
        v = 0.0
    reason = f"{chosen['name']} at {km:.1f} km"
    avail = chosen.get("capacity_available_mw")
    if avail is None:
        v *= 0.8
        reason += ", S3REnR capacity unknown"
    elif avail < mwc:
        v *= 0.5
        reason += f", only {avail:g} MW available for {mwc:.1f} MWc"
    else:
        reason += f", {avail:g} MW available for {mwc:.1f} MWc"
    return Criterion(v, reason, "missing" if partial else "real")


def surface_criterion(usable_m2: float) -> Criterion:
    """Usable surface: under 1 ha is not a site, 2–3 ha the floor, ≥ 5 ha the target."""
    ha = usable_m2 / 10_000.0
    if ha < 1:
        v = 0.0
    elif ha < 2:
        v = _lin(ha, 1, 2, 0.1, 0.3)
    else:
        v = _lin(ha, 2, 5, 0.3, 1.0)
    return Criterion(v, f"{ha:.2f} ha usable (target ≥ 5 ha, under 1 ha is not a site)")


def sun_criterion(specific_yield: float | None, source: str | None) -> Criterion:
    """Specific yield: 950 kWh/kWc → 0, 1,100 → 0.5 (the target floor), ≥ 1,400 → 1."""
    if specific_yield is None:
        return Criterion(0.0, "no sun data", "missing")
    if specific_yield <= 1100:
        v = _lin(specific_yield, 950, 1100, 0.0, 0.5)
    else:
        v = _lin(specific_yield, 1100, 1400, 0.5, 1.0)
    label = "PVGIS" if source == "pvgis" else "offline estimate"
    data = "real" if source == "pvgis" else "estimated"
    return Criterion(v, f"{specific_yield:.0f} kWh/kWc/yr ({label})", data)


def environment_verdict(
    zones: list[dict[str, Any]], cfg: ScoreConfig
) -> tuple[str, list[str], Criterion]:
    """Verdict (ok/penalty/exclusion), reasons, and the environment criterion."""
    reasons: list[str] = []
    excluded = False
    worst = 0.0
    bonus = 0.0
    for z in zones:
        kind, strength = cfg.zone_rules.get(z["type"], ("penalty", 0.0))
        where = f"{z['type']} {z['code']} «{z['name']}» ({z['overlap_pct']:.1f} % of the lead)"
        if kind == "exclusion":
            excluded = True
            reasons.append(f"hard exclusion: {where}")
        elif kind == "bonus":
            bonus = max(bonus, strength)
            reasons.append(f"bonus: {where}")
        elif strength > 0:
            worst = max(worst, strength)
            reasons.append(f"penalty {strength:g}: {where}")
    if excluded:
        return "exclusion", reasons, Criterion(0.0, "; ".join(reasons))
    value = min(1.0, 1.0 - worst + bonus)
    verdict = "penalty" if worst > 0 else "ok"
    return verdict, reasons, Criterion(value, "; ".join(reasons) or "no protected zone overlaps")


def urbanism_criterion(plu: list[dict[str, Any]], layer_known: bool) -> Criterion:
    """PLU: U/AU may allow it; A/N forbid it unless a dedicated sector (Npv, Nenr, Aenr, Ne…)."""
    if not layer_known:
        return Criterion(0.5, "PLU unknown", "missing")
    if not plu:
        return Criterion(0.5, "no PLU zone: carte communale or national rules (RNU)", "missing")
    total = sum(z["share_pct"] for z in plu) or 1.0
    value = 0.0
    parts = []
    for z in plu:
        if z["type"] in BUILDABLE:
            v, why = 1.0, "may allow ground PV"
        elif DEDICATED_SECTOR.search(z["label"] or ""):
            v, why = 0.9, "dedicated renewables sector"
        else:
            v, why = 0.0, "forbids ground PV without a dedicated sector"
        value += v * z["share_pct"] / total
        parts.append(f"{z['label']} ({z['type']}, {z['share_pct']:.0f} %): {why}")
    return Criterion(value, "; ".join(parts))


def owners_criterion(owner_count: int | None) -> Criterion:
    """Few owners make an agreement easier."""
    if not owner_count:
        return Criterion(0.5, "owners not entered yet", "missing")
    v = 1.0 if owner_count == 1 else 0.7 if owner_count <= 3 else 0.4 if owner_count <= 5 else 0.2
    return Criterion(v, f"{owner_count} owner(s)")


def score(
    criteria: dict[str, Criterion], exclusion_reasons: list[str], cfg: ScoreConfig
) -> dict[str, Any]:
    """Weighted score 0–100, completeness 0–1 and the stored breakdown."""
    total_w = sum(cfg.weights.get(k, 0.0) for k in criteria) or 1.0
    points = 0.0
    backed = 0.0
    breakdown = {}
    for name, c in criteria.items():
        w = cfg.weights.get(name, 0.0)
        pts = c.value * w * 100.0 / total_w
        points += pts
        if c.data == "real":
            backed += w
        breakdown[name] = {
            "value": round(c.value, 4),
            "weight": w,
            "points": round(pts, 2),
            "reason": c.reason,
            "data": c.data,
        }
    excluded = bool(exclusion_reasons)
    return {
        "score": 0.0 if excluded else round(points, 1),
        "completeness": round(backed / total_w, 4),
        "excluded": excluded,
        "exclusion_reasons": exclusion_reasons,
        "criteria": breakdown,
        "weights": dict(cfg.weights),
    }
