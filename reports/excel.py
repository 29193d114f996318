"""Every table of one lead as an Excel workbook, one sheet per table (openpyxl, write-only)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from reports.cells import xlsx_cell
from reports.facts import DossierFacts, monthly_mwh

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="0B3C5D")


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(title[:31])
    cells = []
    for h in header:
        c = xlsx_cell(ws, h)
        c.font, c.fill = HEADER_FONT, HEADER_FILL
        cells.append(c)
    ws.append(cells)
    for r in rows:
        ws.append([xlsx_cell(ws, v) for v in r])


def _kv(wb: Workbook, title: str, row: dict[str, Any] | None) -> None:
    items = list((row or {}).items())
    _sheet(wb, title, ["champ", "valeur"], [[k, v] for k, v in items] or [["(vide)", None]])


def _records(wb: Workbook, title: str, records: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys]
    _sheet(wb, title, keys or ["(vide)"], [[r.get(k) for k in keys] for r in records])


def lead_workbook(
    f: DossierFacts,
    *,
    documents: list[dict[str, Any]],
    comments: list[dict[str, Any]],
    activity: list[dict[str, Any]],
    history: list[dict[str, Any]],
) -> bytes:
    """The workbook: lead, sourcing, technical (+ monthly), regulatory (+ zones), network
    (+ postes), parcels, owners (internal only), economic (+ assumptions), documents, comments,
    activity and status history."""
    wb = Workbook(write_only=True)
    lead = {k: v for k, v in f.lead.items() if k != "centroid"}
    lead["latitude"], lead["longitude"] = f.lead["centroid"]
    _kv(wb, "Lead", lead)
    _kv(wb, "Sourcing", f.sourcing)
    _kv(wb, "Technique", {k: v for k, v in (f.technical or {}).items() if k != "monthly"})
    months = monthly_mwh(f.technical)
    raw = (f.technical or {}).get("monthly") or []
    _sheet(
        wb,
        "Production mensuelle",
        ["mois", "production_mwh", "pvgis"],
        [
            [i + 1, months[i] if months else None, raw[i] if i < len(raw) else None]
            for i in range(12)
        ]
        if raw
        else [],
    )
    reg = f.regulatory or {}
    _kv(wb, "Réglementaire", {k: v for k, v in reg.items() if k not in ("zones", "nearby_zones")})
    _records(
        wb,
        "Zones protégées",
        [{"position": "dans le site", **z} for z in reg.get("zones") or []]
        + [{"position": "à proximité", **z} for z in reg.get("nearby_zones") or []],
    )
    net = f.network or {}
    _kv(wb, "Réseau", {k: v for k, v in net.items() if k != "nearest"})
    _records(wb, "Postes sources", [n for n in net.get("nearest") or [] if isinstance(n, dict)])
    _kv(wb, "Foncier", {k: v for k, v in (f.foncier or {}).items() if k != "parcels"})
    _records(wb, "Parcelles", f.parcels)
    if f.owners_included:
        _records(wb, "Propriétaires", f.owners or [])
    eco = f.economic or {}
    _kv(wb, "Économie", {k: v for k, v in eco.items() if k != "assumptions"})
    _kv(wb, "Hypothèses", eco.get("assumptions"))
    _sheet(
        wb,
        "Score",
        ["critère", "libellé", "poids", "note", "points", "raison", "donnée"],
        [[c.key, c.label, c.weight, c.score, c.points, c.reason, c.data] for c in f.criteria],
    )
    _records(wb, "Documents", documents)
    _records(wb, "Commentaires", comments)
    _records(wb, "Activité", activity)
    _records(wb, "Historique statut", history)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
