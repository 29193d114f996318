"""The dossier's sections as reportlab flowables, from the facts (missing data said, never 0)."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Image, KeepTogether, Paragraph, Spacer, Table

from reports import charts, maps
from reports.facts import DossierFacts, monthly_mwh, num
from reports.fmt import MISSING, fr_num, fr_unit
from reports.styles import (
    BODY,
    BULLET,
    CAPTION,
    CELL,
    CELL_B,
    H1,
    H2,
    NOTE,
    SMALL,
    TableCommand,
    data_table,
    kv_table,
)
from reports.summary import Summary, key_risks
from reports.theme import ZONE_LABELS

WIDTH = 17 * cm  # A4 minus 2 × 2 cm margins
AGREEMENT_FR = {
    "none": "aucun contact",
    "contacted": "propriétaires contactés",
    "promise_signed": "promesse signée",
    "lease_signed": "bail signé",
}
VERDICT_FR = {"ok": "favorable", "penalty": "pénalisé", "exclusion": "exclu"}
OWNER_TYPE_FR = {"private": "particulier", "public": "personne publique", "company": "société"}


def esc(v: Any) -> str:
    """Text safe for a reportlab Paragraph."""
    return escape("" if v is None else str(v))


def _img(png: bytes, width: float) -> Image:
    from PIL import Image as PILImage

    w, h = PILImage.open(io.BytesIO(png)).size
    return Image(io.BytesIO(png), width=width, height=width * h / w)


def _v(x: Any) -> Any:
    return getattr(x, "value", x)


DATA_FR = {"real": "donnée réelle", "estimated": "estimation", "missing": "donnée manquante"}


def _data_tag(data: str | None) -> str:
    return f" <i>({esc(DATA_FR.get(data, data))})</i>" if data else ""


def synthesis(f: DossierFacts, summary: Summary, model: str | None) -> list[Flowable]:
    """Summary paragraph, score with its breakdown and reasons, key risks, what is missing."""
    out: list[Flowable] = [Paragraph("1. Synthèse", H1)]
    out.append(Paragraph("Résumé exécutif", H2))
    for para in [p for p in summary.text.split("\n") if p.strip()]:
        out.append(Paragraph(esc(para), BODY))
    if summary.source == "openai":
        who = f"Résumé rédigé par un modèle de langage ({esc(model)}) à partir des seules données "
        who += "du site (aucune donnée personnelle transmise)."
    else:
        who = "Résumé généré automatiquement par le modèle de texte (sans IA)"
        who += f" — {esc(summary.note)}." if summary.note else "."
    out.append(Paragraph(who, CAPTION))

    out.append(Paragraph("Score de qualité", H2))
    score, comp = num(f.lead.get("quality_score")), num(f.lead.get("completeness"))
    if score is None:
        out.append(Paragraph("Score non calculé : le site n'a pas encore été enrichi.", NOTE))
    else:
        line = f"<b>{fr_num(score, 0)} / 100</b>"
        if comp is not None:
            line += f" — complétude des données {fr_num(comp * 100, 0)} %"
        out.append(Paragraph(line, BODY))
        if f.exclusion:
            out.append(Paragraph(f"<b>Exclusion :</b> {esc(f.exclusion)}", NOTE))
        if f.criteria:
            out.append(_img(charts.score_chart(f.criteria), WIDTH * 0.85))
            rows: list[list[object]] = [["Critère", "Poids", "Note", "Points", "Raison"]]
            for c in f.criteria:
                rows.append(
                    [
                        Paragraph(esc(c.label), CELL_B),
                        fr_num(c.weight),
                        MISSING if c.score is None else f"{fr_num(c.score * 100, 0)} %",
                        fr_num(c.points, 1),
                        Paragraph(esc(c.reason) + _data_tag(c.data), CELL),
                    ]
                )
            out.append(data_table(rows, [3.6 * cm, 1.2 * cm, 1.3 * cm, 1.3 * cm, 9.6 * cm]))
    out.append(Paragraph("Risques principaux", H2))
    risks = key_risks(f)
    if risks:
        out += [Paragraph(esc(r), BULLET, bulletText="•") for r in risks]
    elif f.enriched:
        out.append(Paragraph("Aucun risque majeur identifié dans les données disponibles.", BODY))
    missing = f.missing()
    if missing:
        out.append(
            Paragraph(
                "<b>Données manquantes.</b> Ce dossier ne présente pas de valeur pour : "
                + esc("; ".join(missing))
                + ". Lancez l'enrichissement du site pour les obtenir.",
                NOTE,
            )
        )
    return out


MAP_W_CM, MAP_H_CM = 17.0, 9.0


def map_section(
    f: DossierFacts,
    basemaps: dict[str, bytes | None],
    basemap_note: str | None,
    site_png: bytes | None = None,
) -> list[Flowable]:
    """The site with its parcels, then the site in its context."""
    out: list[Flowable] = [Paragraph("2. Cartographie", H1)]
    layers = f.layers
    if layers.site is None:
        return out + [Paragraph("Géométrie du site indisponible.", NOTE)]
    out.append(Paragraph("Le site et ses parcelles", H2))
    out.append(
        _img(site_png or maps.site_map(layers, MAP_W_CM, MAP_H_CM, basemaps.get("site")), WIDTH)
    )
    src = "fond de plan Mapbox" if basemaps.get("site") else "sans fond de plan"
    out.append(
        Paragraph(
            f"Emprise du site (orange) et parcelles cadastrales (section et numéro). Sources : "
            f"cadastre Etalab (PCI vecteur), couches LFS ; {src}.",
            CAPTION,
        )
    )
    png, legend = maps.context_map(layers, MAP_W_CM, MAP_H_CM, basemaps.get("context"))
    block: list[Flowable] = [Paragraph("Le site dans son contexte", H2), _img(png, WIDTH)]
    block.append(
        Paragraph(
            "Zones protégées dans un rayon de 5 km, postes sources (triangles) et ligne de "
            "raccordement au poste retenu (tirets rouges, distance à vol d'oiseau).",
            CAPTION,
        )
    )
    block.append(
        legend_table(legend)
        if legend
        else Paragraph("Aucune zone protégée dans le rayon étudié.", SMALL)
    )
    out.append(KeepTogether(block))
    if basemap_note:
        out.append(Paragraph(esc(basemap_note), CAPTION))
    return out


def legend_table(legend: list[tuple[str, str]]) -> Table:
    """Colour swatches and zone-type labels, three per row."""
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    cells: list[object] = []
    cmds: list[TableCommand] = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
    ]
    for i, (col, lbl) in enumerate(legend):
        r, c = divmod(i, 3)
        cells += ["", lbl]
        cmds.append(("BACKGROUND", (2 * c, r), (2 * c, r), colors.HexColor(col)))
    while len(cells) % 6:
        cells.append("")
    rows = [cells[i : i + 6] for i in range(0, len(cells), 6)]
    t = Table(rows, colWidths=[0.4 * cm, 5.2 * cm] * 3, hAlign="LEFT")
    t.setStyle(TableStyle(cmds))
    return t


def cash_flow(
    f: DossierFacts,
) -> tuple[list[tuple[str, float]], list[float], dict[str, Any]] | None:
    """CAPEX split and cumulative (undiscounted) cash flow, or None without economics."""
    e = f.economic or {}
    capex = num(e.get("capex_eur"))
    revenue = num(e.get("annual_revenue_eur"))
    if capex is None or revenue is None:
        return None
    a = e.get("assumptions") or {}
    conn = num(e.get("connection_cost_eur")) or num((f.network or {}).get("connection_cost_eur"))
    opex = num(e.get("opex_eur_yr")) or 0.0
    rent = num(e.get("land_rent_eur_yr")) or 0.0
    deg = (num(a.get("degradation_pct_yr")) or 0.4) / 100
    years = int(num(a.get("lifetime_years")) or 30)
    invest = capex + (conn or 0.0)
    cum, total = [-invest], -invest
    for t in range(1, years + 1):
        total += revenue * (1 - deg) ** (t - 1) - opex - rent
        cum.append(total)
    c: dict[str, Any] = a["connection"] if isinstance(a.get("connection"), dict) else {}
    cable, qp = num(c.get("cable_eur")), num(c.get("quote_part_eur"))
    if conn and cable is not None and qp is not None and abs(cable + qp - conn) < 1:
        split = [("Centrale", capex), ("Câble de raccordement", cable), ("Quote-part S3REnR", qp)]
    else:
        split = [("Centrale", capex)] + ([("Raccordement", conn)] if conn else [])
    return split, cum, {"degradation": deg, "years": years}


def charts_section(f: DossierFacts) -> list[Flowable]:
    """Monthly production and the economics."""
    out: list[Flowable] = [Paragraph("3. Production et économie", H1)]
    t = f.technical or {}
    months = monthly_mwh(t)
    out.append(Paragraph("Production mensuelle", H2))
    if months:
        src = "PVGIS (JRC)" if t.get("source") == "pvgis" else "estimation hors PVGIS"
        out.append(_img(charts.monthly_chart(months), WIDTH * 0.9))
        db = f", base {esc(t.get('radiation_database'))}" if t.get("radiation_database") else ""
        out.append(
            Paragraph(
                f"Production mensuelle estimée de la centrale ({fr_num(sum(months), 0)} MWh/an), "
                f"source : {src}{db}.",
                CAPTION,
            )
        )
    else:
        out.append(Paragraph("Production mensuelle non disponible (PVGIS non interrogé).", NOTE))
    out.append(Paragraph("Investissement et trésorerie", H2))
    cf = cash_flow(f)
    if cf is None:
        out.append(Paragraph("Analyse économique non réalisée.", NOTE))
    else:
        split, cum, info = cf
        out.append(_img(charts.economics_chart(split, cum), WIDTH))
        out.append(
            Paragraph(
                f"Trésorerie cumulée non actualisée sur {info['years']} ans : investissement "
                f"(centrale et raccordement) puis recettes nettes annuelles "
                f"(revenus - OPEX - loyer), "
                f"dégradation {fr_num(info['degradation'] * 100, 1)} %/an.",
                CAPTION,
            )
        )
    return out


def _parcels_table(f: DossierFacts) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Parcelles", H2)]
    if not f.parcels:
        return out + [Paragraph("Parcelles cadastrales non identifiées.", NOTE)]
    rows: list[list[object]] = [
        ["Identifiant", "Section", "Numéro", "Contenance (m²)", "Surface mesurée (m²)"]
    ]
    total = 0.0
    for p in f.parcels:
        a = num(p.get("area_m2"))
        total += a or 0
        rows.append(
            [
                p["id"],
                p.get("section") or MISSING,
                p.get("numero") or MISSING,
                fr_num(p.get("contenance")),
                fr_num(a),
            ]
        )
    rows.append(["Total", "", "", "", fr_num(total)])
    t = data_table(rows, [4.2 * cm, 2 * cm, 2 * cm, 4 * cm, 4.8 * cm])
    return out + [t]


def _owners_table(f: DossierFacts) -> list[Flowable]:
    fo = f.foncier or {}
    status = AGREEMENT_FR.get(str(_v(fo.get("agreement_status")) or "none"), MISSING)
    out: list[Flowable] = [Paragraph("Propriétaires", H2)]
    head = f"{fr_num(fo.get('owner_count'))} propriétaire(s) ; statut foncier : {status}."
    if not f.owners_included:
        return out + [
            Paragraph(
                head + " Les données personnelles des propriétaires sont omises "
                "dans cette version commerciale.",
                BODY,
            )
        ]
    if not f.owners:
        return out + [Paragraph(head + " Aucun propriétaire saisi.", BODY)]
    rows: list[list[object]] = [["Nom", "Type", "Adresse", "Contact"]]
    for o in f.owners:
        rows.append(
            [
                Paragraph(esc(o.get("name")), CELL),
                OWNER_TYPE_FR.get(str(o.get("type")), esc(o.get("type"))),
                Paragraph(esc(o.get("address") or ""), CELL),
                Paragraph(esc(o.get("contact") or ""), CELL),
            ]
        )
    return out + [Paragraph(head, BODY), data_table(rows, [4.2 * cm, 2.6 * cm, 6 * cm, 4.2 * cm])]


def _zone_label(z: dict[str, Any]) -> str:
    zt = str(z.get("zone_type") or z.get("type") or "")
    return ZONE_LABELS.get(zt, zt or MISSING)


def _constraints_table(f: DossierFacts) -> list[Flowable]:
    r = f.regulatory
    out: list[Flowable] = [Paragraph("Contraintes réglementaires", H2)]
    if r is None:
        return out + [Paragraph("Analyse réglementaire non réalisée.", NOTE)]
    verdict = VERDICT_FR.get(str(_v(r.get("verdict"))), MISSING)
    plu = r.get("plu_zone_type")
    plu_txt = f"{plu} ({r.get('plu_label') or plu})" if plu else "non couvert par un PLU numérisé"
    pairs = [("Verdict", verdict), ("Zonage PLU", plu_txt)]
    out.append(kv_table(pairs, (4 * cm, 13 * cm)))
    rows: list[list[object]] = [["Zone", "Code", "Nom", "Recouvrement", "Distance"]]
    for z in (r.get("zones") or []) + (r.get("nearby_zones") or []):
        if not isinstance(z, dict):
            continue
        pct, m2, d = num(z.get("overlap_pct")), num(z.get("overlap_m2")), num(z.get("distance_m"))
        over = f"{fr_num(pct, 1)} % ({fr_num(m2)} m²)" if pct is not None else "—"
        rows.append(
            [
                _zone_label(z),
                esc(z.get("code") or ""),
                Paragraph(esc(z.get("name")), CELL),
                over,
                "dans le site" if pct else (fr_unit(d, "km", 1, 1e-3) if d else "—"),
            ]
        )
    others = [
        c if isinstance(c, str) else (c.get("label") or c.get("name") or str(c))
        for c in (r.get("constraints") or [])
    ]
    if len(rows) > 1:
        out += [Spacer(1, 4), data_table(rows, [3.4 * cm, 2.4 * cm, 6 * cm, 3 * cm, 2.2 * cm])]
    elif not any(_ZONES_UNKNOWN in c or "hors de France" in c for c in others):
        out.append(Paragraph("Aucune zone protégée dans le site ni à moins de 5 km.", BODY))
    else:  # no zone in our data, which does not cover the site: no conclusion
        out.append(Paragraph(f"Zones protégées : {ABSENT}, aucune conclusion possible.", BODY))
    reasons = [str(x) for x in (r.get("reasons") or [])]
    for line in others + reasons:
        out.append(Paragraph(esc(line), BULLET, bulletText="•"))
    return out


# The enrichment's wording (enrichment/spatial.py) for data a layer does not have here.
ABSENT = "données absentes pour cette zone"
_ZONES_UNKNOWN = "Zones protégées : données absentes"
NA = "non calculables"


def _or_na(value: Any, unit: str, digits: int, scale: float = 1.0) -> str:
    """A figure, or "non calculable" when it depends on data the site lacks (never n.d.)."""
    return "non calculable" if num(value) is None else fr_unit(value, unit, digits, scale)


def _grid_table(f: DossierFacts) -> list[Flowable]:
    n = f.network
    out: list[Flowable] = [Paragraph("Raccordement au réseau", H2)]
    if n is None:
        return out + [Paragraph("Analyse réseau non réalisée.", NOTE)]
    rows: list[list[object]] = [
        ["Poste source", "Tension", "Distance", "Capacité dispo.", "Quote-part", "Région S3REnR"]
    ]
    for s in n.get("nearest") or []:
        if isinstance(s, dict):
            rows.append(
                [
                    Paragraph(esc(s.get("name")), CELL),
                    esc(s.get("voltage_kv") or s.get("voltage") or MISSING),
                    fr_unit(s.get("distance_m"), "km", 1, 1e-3),
                    fr_unit(s.get("capacity_available_mw"), "MW", 1),
                    fr_unit(s.get("quote_part_eur_kw"), "€/kW", 2),
                    Paragraph(esc(s.get("s3renr_region") or MISSING), CELL),
                ]
            )
    if len(rows) > 1:
        out.append(data_table(rows, [4.4 * cm, 1.8 * cm, 2 * cm, 2.6 * cm, 2.4 * cm, 3.8 * cm]))
    else:
        # Why there is no poste: the grid criterion's reason ("Postes sources : données absentes
        # pour cette zone", "Aucun poste dans un rayon de 30 km dans les données chargées").
        why = next((c.reason for c in f.criteria if c.key == "grid"), "") or "aucun poste connu"
        out.append(
            Paragraph(f"{esc(why)} : coût de raccordement, LCOE et temps de retour {NA}.", BODY)
        )
    ok = n.get("capacity_ok")
    pairs = [
        ("Distance au poste retenu", fr_unit(n.get("distance_m"), "km", 2, 1e-3)),
        (
            "Capacité disponible",
            fr_unit(n.get("capacity_available_mw"), "MW", 1)
            + ("" if ok is None else (" (suffisante)" if ok else " (insuffisante)")),
        ),
        ("Tension de raccordement", esc(n.get("connection_voltage") or MISSING)),
        ("Quote-part S3REnR", fr_unit(n.get("quote_part_eur_kw"), "€/kW", 2)),
        ("Coût de raccordement estimé", _or_na(n.get("connection_cost_eur"), "k€", 0, 1e-3)),
    ]
    return out + [Spacer(1, 4), kv_table(pairs, (6 * cm, 11 * cm))]


ASSUMPTION_LABELS = {
    "ha_per_mwc": ("Emprise", "ha/MWc", 2),
    "capex_eur_per_mwc": ("CAPEX", "€/MWc", 0),
    "opex_eur_per_mwc_yr": ("OPEX", "€/MWc/an", 0),
    "ifer_eur_per_mwh": ("IFER", "€/MWh", 2),
    "land_rent_eur_per_ha_yr": ("Loyer foncier", "€/ha/an", 0),
    "tariff_eur_per_mwh": ("Tarif (complément de rémunération)", "€/MWh", 2),
    "degradation_pct_yr": ("Dégradation", "%/an", 2),
    "discount_rate_pct": ("Taux d'actualisation", "%", 1),
    "lifetime_years": ("Durée d'exploitation", "ans", 0),
    "hta_cable_eur_per_km": ("Câble HTA", "€/km", 0),
    "htb_cable_eur_per_km": ("Liaison HTB", "€/km", 0),
    "hta_max_mw": ("Seuil HTA", "MW", 1),
    "default_quote_part_eur_kw": ("Quote-part par défaut", "€/kW", 2),
    "quote_part_min_kva": ("Quote-part due dès", "kVA", 0),
    "specific_yield_kwh_kwc": ("Productible retenu", "kWh/kWc/an", 0),
    "rent_basis": ("Base du loyer", "", 0),
    "opex_includes": ("OPEX comprend", "", 0),
    "connection.voltage": ("Raccordement : tension", "", 0),
    "connection.cable_eur": ("Raccordement : câble", "€", 0),
    "connection.quote_part_eur": ("Raccordement : quote-part S3REnR", "€", 0),
    "connection.quote_part_eur_kw": ("Raccordement : quote-part unitaire", "€/kW", 2),
    "connection.distance_m": ("Raccordement : distance au poste", "m", 0),
}


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested assumption groups as dotted keys (``connection.cable_eur``)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def _economics_table(f: DossierFacts) -> list[Flowable]:
    e = f.economic
    out: list[Flowable] = [Paragraph("Économie du projet", H2)]
    if e is None:
        return out + [Paragraph("Analyse économique non réalisée.", NOTE)]
    pairs = [
        ("CAPEX", fr_unit(e.get("capex_eur"), "k€", 0, 1e-3)),
        ("Coût de raccordement", _or_na(e.get("connection_cost_eur"), "k€", 0, 1e-3)),
        ("OPEX annuel", fr_unit(e.get("opex_eur_yr"), "k€/an", 0, 1e-3)),
        ("Loyer foncier", fr_unit(e.get("land_rent_eur_yr"), "k€/an", 1, 1e-3)),
        ("Revenu annuel", fr_unit(e.get("annual_revenue_eur"), "k€/an", 0, 1e-3)),
        ("Tarif retenu", fr_unit(e.get("tariff_eur_mwh"), "€/MWh", 2)),
        ("Temps de retour simple", _or_na(e.get("simple_payback_years"), "ans", 1)),
        ("LCOE", _or_na(e.get("lcoe_eur_mwh"), "€/MWh", 1)),
    ]
    out.append(kv_table(pairs, (6 * cm, 11 * cm)))
    a = flatten(e.get("assumptions") or {})
    if a:
        rows: list[list[object]] = [["Hypothèse", "Valeur"]]
        for k, v in a.items():
            if v is None:
                continue
            label, unit, digits = ASSUMPTION_LABELS.get(k, (k, "", 2))
            value = fr_unit(v, unit, digits) if num(v) is not None else esc(v)
            rows.append([Paragraph(esc(label), CELL), Paragraph(value, CELL)])
        out += [Paragraph("Hypothèses utilisées", H2), data_table(rows, [9 * cm, 8 * cm])]
    return out


def tables_section(f: DossierFacts) -> list[Flowable]:
    """Parcels, owners (internal version only), constraints, grid, economics."""
    return (
        [Paragraph("4. Données détaillées", H1)]
        + _parcels_table(f)
        + _owners_table(f)
        + _constraints_table(f)
        + _grid_table(f)
        + _economics_table(f)
    )


def technical_pairs(f: DossierFacts) -> Table:
    """The technical figures as a key/value table."""
    t = f.technical or {}
    pairs = [
        ("Surface mesurée", fr_unit(t.get("surface_m2") or f.lead.get("area_m2"), "ha", 2, 1e-4)),
        ("Surface utile", fr_unit(t.get("usable_surface_m2"), "ha", 2, 1e-4)),
        ("Pente", fr_unit(t.get("slope_pct"), "%", 1)),
        ("Irradiation", fr_unit(t.get("irradiation_kwh_m2"), "kWh/m²/an", 0)),
        ("Productible", fr_unit(t.get("specific_yield_kwh_kwc"), "kWh/kWc/an", 0)),
        ("Puissance installable", fr_unit(t.get("installable_mwc"), "MWc", 2)),
        ("Production annuelle", fr_unit(t.get("annual_production_mwh"), "MWh/an", 0)),
        ("Inclinaison optimale", fr_unit(t.get("optimal_tilt_deg"), "°", 0)),
    ]
    return kv_table(pairs, (6 * cm, 11 * cm))


def annex_list(entries: list[tuple[str, str]], notes: list[str]) -> list[Flowable]:
    """The annexes' table of contents and the notes about skipped files."""
    out: list[Flowable] = [Paragraph("5. Annexes", H1)]
    if not entries and not notes:
        return out + [Paragraph("Aucun document joint.", BODY)]
    for title, what in entries:
        out.append(Paragraph(f"<b>{esc(title)}</b> — {esc(what)}", BULLET, bulletText="•"))
    for n in notes:
        out.append(Paragraph(esc(n), NOTE))
    out.append(Paragraph("Les documents PDF joints suivent ce dossier, dans cet ordre.", SMALL))
    return out
