"""The executive summary: an OpenAI-compatible chat API when configured, a template otherwise.

The model only ever sees :func:`public_facts` — figures about the site, never owners' names,
addresses or contacts, nor free-text notes (which may quote them).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from reports.facts import DossierFacts, num
from reports.fmt import fr_num
from reports.theme import ZONE_LABELS

log = logging.getLogger(__name__)

LANGUAGES = {"fr": "français", "en": "English", "de": "Deutsch", "es": "español", "it": "italiano"}


@dataclass(frozen=True)
class SummaryConfig:
    """Chat API parameters (from api.settings.OpenAISettings)."""

    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout_s: float = 30.0
    language: str = "fr"


@dataclass(frozen=True)
class Summary:
    """The summary text and who wrote it."""

    text: str
    source: Literal["openai", "template"]
    note: str | None = None  # why the template was used, when a key was configured


def public_facts(f: DossierFacts) -> dict[str, Any]:
    """The lead's facts fit for a third-party model: no personal data, no free text."""
    t, r, n, e, fo = (
        f.technical or {},
        f.regulatory or {},
        f.network or {},
        f.economic or {},
        (f.foncier or {}),
    )
    zones = [
        {k: z.get(k) for k in ("zone_type", "type", "name", "overlap_pct", "distance_m") if k in z}
        for z in (r.get("zones") or []) + (r.get("nearby_zones") or [])
        if isinstance(z, dict)
    ][:12]
    return {
        "site": f.lead["name"],
        "commune": f.lead["commune_name"],
        "departement": f.lead["department"],
        "surface_ha": _ha(f.lead.get("area_m2")),
        "surface_utile_ha": _ha(t.get("usable_surface_m2")),
        "puissance_mwc": t.get("installable_mwc"),
        "production_mwh_an": t.get("annual_production_mwh"),
        "productible_kwh_kwc": t.get("specific_yield_kwh_kwc"),
        "source_production": t.get("source"),
        "score": f.lead.get("quality_score"),
        "completude": f.lead.get("completeness"),
        "criteres": [
            {"critere": c.label, "note": c.score, "poids": c.weight, "raison": c.reason}
            for c in f.criteria
        ],
        "exclusion": f.exclusion,
        "verdict_reglementaire": _s(r.get("verdict")),
        "zones": zones,
        "plu": {"type": r.get("plu_zone_type"), "libelle": r.get("plu_label")},
        "distance_poste_m": n.get("distance_m"),
        "capacite_disponible_mw": n.get("capacity_available_mw"),
        "cout_raccordement_eur": n.get("connection_cost_eur"),
        "capex_eur": e.get("capex_eur"),
        "revenu_annuel_eur": e.get("annual_revenue_eur"),
        "temps_retour_ans": e.get("simple_payback_years"),
        "lcoe_eur_mwh": e.get("lcoe_eur_mwh"),
        "tarif_eur_mwh": e.get("tariff_eur_mwh"),
        "nombre_proprietaires": fo.get("owner_count"),
        "statut_foncier": _s(fo.get("agreement_status")),
        "manquant": f.missing(),
    }


def _s(v: Any) -> Any:
    return getattr(v, "value", v)


def _ha(m2: Any) -> float | None:
    v = num(m2)
    return None if v is None else round(v / 10_000, 2)


def key_risks(f: DossierFacts) -> list[str]:
    """The main risks, in French, from the facts (shared by the template and the dossier)."""
    risks: list[str] = []
    if f.exclusion:
        risks.append(f"Exclusion : {f.exclusion}.")
    r, n, t = f.regulatory or {}, f.network or {}, f.technical or {}
    for z in r.get("zones") or []:
        if isinstance(z, dict):
            pct = num(z.get("overlap_pct"))
            ztype = str(z.get("zone_type") or z.get("type") or "zone")
            label = ZONE_LABELS.get(ztype, ztype)
            extra = f", {fr_num(pct, 1)} % du site" if pct is not None else ""
            risks.append(f"Zone protégée touchée : {z.get('name') or label} ({label}{extra}).")
    plu = r.get("plu_zone_type")
    if plu in ("A", "N"):
        risks.append(f"Zonage PLU {plu} ({r.get('plu_label') or plu}) : secteur dédié requis.")
    d = num(n.get("distance_m"))
    if d is not None and d > 5_000:
        risks.append(f"Poste source éloigné ({fr_num(d / 1000, 1)} km).")
    if n.get("capacity_ok") is False:
        risks.append("Capacité d'accueil S3REnR insuffisante au poste choisi.")
    y = num(t.get("specific_yield_kwh_kwc"))
    if y is not None and y < 1_100:
        risks.append(f"Productible modeste ({fr_num(y, 0)} kWh/kWc/an).")
    oc = (f.foncier or {}).get("owner_count")
    if isinstance(oc, int) and oc > 3:
        risks.append(f"Foncier morcelé : {oc} propriétaires.")
    if t.get("source") == "estimate":
        risks.append("Production estimée hors PVGIS : à confirmer.")
    return risks[:8]


def template_summary(f: DossierFacts) -> str:
    """A deterministic French summary from the same facts (no API needed)."""
    lead, t, n, e = f.lead, f.technical or {}, f.network or {}, f.economic or {}
    where = lead.get("commune_name") or "commune inconnue"
    if lead.get("department"):
        where += f" ({lead['department']})"
    parts = [f"Le site « {lead['name']} » est situé à {where}"]
    area = num(lead.get("area_m2"))
    parts[0] += f" et couvre {fr_num(area / 10_000, 1)} ha" if area else ""
    parts[0] += f" sur {len(f.parcels)} parcelle(s) cadastrale(s)." if f.parcels else "."
    mwc, mwh = num(t.get("installable_mwc")), num(t.get("annual_production_mwh"))
    if mwc is not None and mwh is not None:
        src = "PVGIS" if t.get("source") == "pvgis" else "une estimation"
        parts.append(
            f"Il peut accueillir environ {fr_num(mwc, 1)} MWc pour une production de "
            f"{fr_num(mwh, 0)} MWh/an ({fr_num(num(t.get('specific_yield_kwh_kwc')), 0)} "
            f"kWh/kWc, selon {src})."
        )
    d = num(n.get("distance_m"))
    if d is not None:
        cap = num(n.get("capacity_available_mw"))
        cap_txt = f", {fr_num(cap, 1)} MW disponibles" if cap is not None else ""
        poste = _poste_name(f)
        parts.append(
            f"Le poste source le plus favorable{poste} est à {fr_num(d / 1000, 1)} km{cap_txt}."
        )
    score = num(lead.get("quality_score"))
    completeness = num(lead.get("completeness"))
    if score is not None:
        parts.append(
            f"Score de qualité : {fr_num(score, 0)}/100"
            + (
                f" (complétude {fr_num(100 * completeness, 0)} %)."
                if completeness is not None
                else "."
            )
        )
    capex, payback = num(e.get("capex_eur")), num(e.get("simple_payback_years"))
    if capex is not None and payback is not None:
        parts.append(
            f"Investissement estimé {fr_num(capex / 1e6, 1)} M€, retour simple en "
            f"{fr_num(payback, 1)} ans."
        )
    risks = key_risks(f)
    if risks:
        parts.append("Points d'attention : " + " ".join(risks))
    missing = f.missing()
    if missing:
        parts.append("Données manquantes : " + "; ".join(missing) + ".")
    return " ".join(parts)


def _poste_name(f: DossierFacts) -> str:
    for name, _, chosen in f.layers.substations:
        if chosen:
            return f" ({name})"
    return ""


def _prompt(f: DossierFacts, language: str) -> list[Any]:
    lang = LANGUAGES.get(language, language)
    system = (
        "Tu es analyste en développement de centrales photovoltaïques au sol en France. "
        f"Rédige en {lang} un résumé exécutif de 120 à 180 mots pour un acheteur de projets : "
        "le site, son potentiel, le score et ses raisons, les risques principaux. N'utilise que "
        "les faits fournis, n'invente aucun chiffre, signale les données manquantes."
    )
    user = "Faits du site (JSON) :\n" + json.dumps(public_facts(f), ensure_ascii=False, default=str)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


async def write_summary(f: DossierFacts, cfg: SummaryConfig) -> Summary:
    """The chat API's summary when a key is configured, else (or on any failure) the template."""
    if not cfg.api_key:
        return Summary(template_summary(f), "template")
    try:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(
            api_key=cfg.api_key, base_url=cfg.base_url, timeout=cfg.timeout_s, max_retries=1
        )
        async with client:
            resp = await client.chat.completions.create(
                model=cfg.model,
                messages=_prompt(f, cfg.language),
                temperature=0.2,
                max_tokens=600,
            )
        text = (resp.choices[0].message.content or "").strip() if resp.choices else ""
        if not text:
            raise ValueError("empty completion")
        return Summary(text, "openai")
    except Exception as exc:  # any failure of a third party falls back to the template
        log.warning("summary API failed, using the template: %s", exc)
        return Summary(
            template_summary(f),
            "template",
            note=f"API de résumé indisponible ({type(exc).__name__})",
        )
