"""Lead exports (CSV, XLSX): one row per lead with the main enrichment figures, under RBAC."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import Select, and_, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.services.leads_query import LeadFilters, SortKey, filter_clauses, order_by
from geo.models import (
    Lead,
    LeadEconomic,
    LeadFoncier,
    LeadNetwork,
    LeadRegulatory,
    LeadTechnical,
    User,
)
from geo.visibility import Viewer

# What the lead's score could not rest on, in the enrichment's French: the reasons of its
# criteria counted missing ("Zones protégées : données absentes pour cette zone", …), so an empty
# connection cost or LCOE cell says why. Static SQL on the leads table of the export's FROM.
MISSING_DATA = literal_column(
    "(SELECT string_agg(c.value ->> 'reason', ' ; ' ORDER BY c.key)"
    " FROM jsonb_each(leads.score_breakdown -> 'criteria') AS c"
    " WHERE c.value ->> 'data' = 'missing')"
)

# (header, SQL expression, kind): kind drives the XLSX cell type and format.
COLUMNS: list[tuple[str, Any, str]] = [
    ("id", Lead.id, "int"),
    ("internal_name", Lead.internal_name, "str"),
    ("name", Lead.name, "str"),
    ("status", Lead.status, "str"),
    ("commune_insee", Lead.commune_insee, "str"),
    ("commune_name", Lead.commune_name, "str"),
    ("department", Lead.department, "str"),
    ("assignee", User.full_name, "str"),
    ("is_public", Lead.is_public, "bool"),
    ("created_at", Lead.created_at, "datetime"),
    ("updated_at", Lead.updated_at, "datetime"),
    ("status_changed_at", Lead.status_changed_at, "datetime"),
    ("area_ha", Lead.area_m2 / 10_000.0, "float"),
    ("quality_score", Lead.quality_score, "float"),
    ("completeness", Lead.completeness, "float"),
    ("enrichment_stale", Lead.enrichment_stale, "bool"),
    ("usable_surface_ha", LeadTechnical.usable_surface_m2 / 10_000.0, "float"),
    ("irradiation_kwh_m2", LeadTechnical.irradiation_kwh_m2, "float"),
    ("specific_yield_kwh_kwc", LeadTechnical.specific_yield_kwh_kwc, "float"),
    ("installable_mwc", LeadTechnical.installable_mwc, "float"),
    ("annual_production_mwh", LeadTechnical.annual_production_mwh, "float"),
    ("production_source", LeadTechnical.source, "str"),
    ("verdict", LeadRegulatory.verdict, "str"),
    ("plu_zone_type", LeadRegulatory.plu_zone_type, "str"),
    ("poste_distance_km", LeadNetwork.distance_m / 1000.0, "float"),
    ("poste_capacity_available_mw", LeadNetwork.capacity_available_mw, "float"),
    ("connection_cost_eur", LeadNetwork.connection_cost_eur, "float"),
    ("capex_eur", LeadEconomic.capex_eur, "float"),
    ("annual_revenue_eur", LeadEconomic.annual_revenue_eur, "float"),
    ("lcoe_eur_mwh", LeadEconomic.lcoe_eur_mwh, "float"),
    ("simple_payback_years", LeadEconomic.simple_payback_years, "float"),
    ("agreement_status", LeadFoncier.agreement_status, "str"),
    ("owner_count", LeadFoncier.owner_count, "int"),
    ("latitude", func.ST_Y(Lead.centroid), "float"),
    ("longitude", func.ST_X(Lead.centroid), "float"),
    ("missing_data", MISSING_DATA, "str"),
]
HEADERS = [c[0] for c in COLUMNS]
BATCH = 1000


def export_select(viewer: Viewer, f: LeadFilters, sort: SortKey) -> Select[Any]:
    """The export query: the list's filters and visibility, the related tables joined."""
    return (
        select(*(expr.label(name) for name, expr, _ in COLUMNS))
        .select_from(Lead)
        .outerjoin(User, User.id == Lead.assignee_id)
        .outerjoin(LeadTechnical, LeadTechnical.lead_id == Lead.id)
        .outerjoin(LeadRegulatory, LeadRegulatory.lead_id == Lead.id)
        .outerjoin(LeadNetwork, LeadNetwork.lead_id == Lead.id)
        .outerjoin(LeadEconomic, LeadEconomic.lead_id == Lead.id)
        .outerjoin(LeadFoncier, LeadFoncier.lead_id == Lead.id)
        .where(and_(*filter_clauses(viewer, f)))
        .order_by(*order_by(sort))
    )


def _plain(value: Any) -> Any:
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _csv_text(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float):
        return repr(round(value, 6))
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        # CSV injection: a spreadsheet would run a cell starting with '=' as a formula.
        return "'" + value
    return str(value)


async def _rows(
    sessions: async_sessionmaker[AsyncSession], stmt: Select[Any]
) -> AsyncIterator[list[Any]]:
    async with sessions() as session, session.begin():
        result = await session.stream(stmt.execution_options(yield_per=BATCH))
        async for partition in result.partitions(BATCH):
            for row in partition:
                yield list(row)


async def csv_chunks(
    sessions: async_sessionmaker[AsyncSession], stmt: Select[Any]
) -> AsyncIterator[bytes]:
    """The CSV (UTF-8 with BOM for spreadsheets), streamed a batch of rows at a time."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    yield ("\ufeff" + buf.getvalue()).encode()
    buf.seek(0)
    buf.truncate()
    n = 0
    async for row in _rows(sessions, stmt):
        writer.writerow([_csv_text(v) for v in row])
        n += 1
        if n % BATCH == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    if buf.getvalue():
        yield buf.getvalue().encode()


def _xlsx_cell(ws: Any, value: Any, kind: str) -> Any:
    value = _plain(value)
    if value is None:
        return None
    if kind == "datetime":
        cell = WriteOnlyCell(ws, value=value.astimezone(UTC).replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell
    if kind == "float":
        cell = WriteOnlyCell(ws, value=float(value))
        cell.number_format = "#,##0.00"
        return cell
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    cell = WriteOnlyCell(ws, value=str(value))
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


async def xlsx_bytes(sessions: async_sessionmaker[AsyncSession], stmt: Select[Any]) -> bytes:
    """The XLSX workbook: a bold header row, typed number and date cells (times in UTC)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("leads")
    ws.freeze_panes = "A2"
    header = []
    for name in HEADERS:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    kinds = [c[2] for c in COLUMNS]

    def append(rows: list[list[Any]]) -> None:
        for row in rows:
            ws.append([_xlsx_cell(ws, v, k) for v, k in zip(row, kinds, strict=True)])

    def save() -> bytes:
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    # openpyxl is CPU-bound: each batch goes to a worker thread (one at a time, in order) so a
    # large export does not stall the event loop serving everyone else.
    batch: list[list[Any]] = []
    async for row in _rows(sessions, stmt):
        batch.append(row)
        if len(batch) >= BATCH:
            await asyncio.to_thread(append, batch)
            batch = []
    await asyncio.to_thread(append, batch)
    return await asyncio.to_thread(save)


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """Split bytes for a streaming response."""
    for i in range(0, len(data), size):
        yield data[i : i + size]
