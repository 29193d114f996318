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
from enrichment.wording import SEP, num, plural, zone_label

# PLU sectors dedicated to renewables inside A/N zones (Npv, Nenr, Aenr, Ne, Apv, …).
DEDICATED_SECTOR = re.compile(r"^[AN].*(pv|enr)|^[AN]e\b|^[AN]e[0-9]?$", re.IGNORECASE)
BUILDABLE = {"U", "AU", "AUc", "AUs"}
# What a criterion says when its data is missing (also listed by enrichment.criteria).
NO_SUN = "Pas de données d'ensoleillement"
NO_OWNERS = "Propriétaires pas encore renseignés"


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
        return Criterion(0.0, "Aucun poste source connu à proximité du site", "missing")
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
    name = str(chosen.get("name") or chosen.get("code") or "sans nom")
    poste = name if name.lower().startswith("poste") else f"Poste {name}"
    reason = f"{poste} à {num(km, 1)} km"
    avail = chosen.get("capacity_available_mw")
    if avail is None:
        v *= 0.8
        reason += ", capacité S3REnR inconnue"
    else:
        free = f"{num(avail, 2, trim=True)} MW {plural(avail, 'disponible')} pour {num(mwc, 1)} MWc"
        if avail < mwc:
            v *= 0.5
            reason += f", seulement {free}"
        else:
            reason += f", {free}"
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
    usable = f"{num(ha, 2)} ha {plural(ha, 'utile')}"
    return Criterion(v, f"{usable} (objectif 5 ha et plus, minimum 1 ha)")


def sun_criterion(specific_yield: float | None, source: str | None) -> Criterion:
    """Specific yield: 950 kWh/kWc → 0, 1,100 → 0.5 (the target floor), ≥ 1,400 → 1."""
    if specific_yield is None:
        return Criterion(0.0, NO_SUN, "missing")
    if specific_yield <= 1100:
        v = _lin(specific_yield, 950, 1100, 0.0, 0.5)
    else:
        v = _lin(specific_yield, 1100, 1400, 0.5, 1.0)
    label = "PVGIS" if source == "pvgis" else "estimation hors ligne"
    data = "real" if source == "pvgis" else "estimated"
    return Criterion(v, f"Productible {num(specific_yield)} kWh/kWc/an ({label})", data)


def penalty_level(strength: float) -> str:
    """How strong a penalty reads: forte (≥ 0.6), modérée (≥ 0.3) or légère."""
    return "forte" if strength >= 0.6 else "modérée" if strength >= 0.3 else "légère"


def zone_overlap(z: dict[str, Any]) -> str:
    """« ZNIEFF de type I « Vallon … » (820030001) recouvre 20 % du site »."""
    text = zone_label(z["type"])
    if z.get("name"):
        text += f" « {z['name']} »"
    if z.get("code"):
        text += f" ({z['code']})"
    pct = z["overlap_pct"]
    return f"{text} recouvre {num(pct, 1 if pct >= 1 else 2, trim=True)} % du site"


def environment_verdict(
    zones: list[dict[str, Any]], cfg: ScoreConfig
) -> tuple[str, list[str], list[str], Criterion]:
    """Verdict (ok/penalty/exclusion), reasons, the exclusion reasons, the environment criterion."""
    reasons: list[str] = []
    exclusions: list[str] = []
    worst = 0.0
    bonus = 0.0
    for z in zones:
        kind, strength = cfg.zone_rules.get(z["type"], ("penalty", 0.0))
        where = zone_overlap(z)
        if kind == "exclusion":
            exclusions.append(f"Exclusion : {where}")
            reasons.append(exclusions[-1])
        elif kind == "bonus":
            bonus = max(bonus, strength)
            reasons.append(f"Bonus : {where}")
        elif strength > 0:
            worst = max(worst, strength)
            level = penalty_level(strength)
            reasons.append(f"Pénalité {level} ({num(strength, 2, trim=True)}) : {where}")
    if exclusions:
        return "exclusion", reasons, exclusions, Criterion(0.0, SEP.join(reasons))
    value = min(1.0, 1.0 - worst + bonus)
    verdict = "penalty" if worst > 0 else "ok"
    why = SEP.join(reasons) or "Aucune zone protégée ne recoupe le site"
    return verdict, reasons, exclusions, Criterion(value, why)


def urbanism_criterion(plu: list[dict[str, Any]], layer_known: bool) -> Criterion:
    """PLU: U/AU may allow it; A/N forbid it unless a dedicated sector (Npv, Nenr, Aenr, Ne…)."""
    if not layer_known:
        return Criterion(0.5, "PLU inconnu", "missing")
    if not plu:
        return Criterion(
            0.5,
            "Aucune zone PLU : carte communale ou règlement national d'urbanisme (RNU)",
            "missing",
        )
    total = sum(z["share_pct"] for z in plu) or 1.0
    value = 0.0
    parts = []
    for z in plu:
        if z["type"] in BUILDABLE:
            v, why = 1.0, "peut autoriser le photovoltaïque au sol"
        elif DEDICATED_SECTOR.search(z["label"] or ""):
            v, why = 0.9, "secteur dédié aux énergies renouvelables"
        else:
            v, why = 0.0, "photovoltaïque au sol interdit sans secteur dédié"
        value += v * z["share_pct"] / total
        share = f"{z['type']}, {num(z['share_pct'])} % du site"
        parts.append(f"Zone {z['label'] or z['type']} ({share}) : {why}")
    return Criterion(value, SEP.join(parts))


def owners_criterion(owner_count: int | None) -> Criterion:
    """Few owners make an agreement easier."""
    if not owner_count:
        return Criterion(0.5, NO_OWNERS, "missing")
    v = 1.0 if owner_count == 1 else 0.7 if owner_count <= 3 else 0.4 if owner_count <= 5 else 0.2
    return Criterion(v, f"{owner_count} {plural(owner_count, 'propriétaire')}")


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
