"""Lead exports (CSV, XLSX): one row per lead with the main enrichment figures, under RBAC."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import ColumnClause, Select, and_, func, literal_column, select
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
from reports.cells import csv_field, xlsx_cell

# What the lead's score could not rest on, in the enrichment's French: the reasons of its
# criteria counted missing ("Zones protégées : données absentes pour cette zone", …), so an empty
# connection cost or LCOE cell says why. Static SQL on the leads table of the export's FROM.
MISSING_DATA: ColumnClause[str] = literal_column(
    "(SELECT string_agg(c.value ->> 'reason', ' ; ' ORDER BY c.key)"
    " FROM jsonb_each(leads.score_breakdown -> 'criteria') AS c"
    " WHERE c.value ->> 'data' = 'missing')"
)

# (header, SQL expression, kind): the kind picks the XLSX number format (NUMBER_FORMATS).
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

log = logging.getLogger(__name__)


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


async def _rows(
    sessions: async_sessionmaker[AsyncSession], stmt: Select[Any]
) -> AsyncGenerator[list[Any], None]:
    async with sessions() as session, session.begin():
        result = await session.stream(stmt.execution_options(yield_per=BATCH))
        async for partition in result.partitions(BATCH):
            for row in partition:
                yield list(row)


def _take(buf: io.StringIO) -> bytes:
    data = buf.getvalue().encode()
    buf.seek(0)
    buf.truncate()
    return data


async def csv_chunks(
    sessions: async_sessionmaker[AsyncSession], stmt: Select[Any]
) -> AsyncGenerator[bytes, None]:
    """The CSV (UTF-8 with BOM for spreadsheets), a batch of rows at a time: the first chunk
    (header and first batch) once the query has answered, so that :func:`started` can turn an
    error of the query into an ordinary error response."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    n = 0
    async with aclosing(_rows(sessions, stmt)) as rows:
        async for row in rows:
            writer.writerow([csv_field(v) for v in row])
            n += 1
            if n % BATCH == 0:
                yield _take(buf)
    yield _take(buf)


class StreamAborted(RuntimeError):
    """A response body that failed after its first bytes were sent. Raised rather than ended:
    the server then drops the connection without the end of the chunked body, so the client sees
    a broken transfer — never a complete-looking file cut short."""


async def started(chunks: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    """``chunks`` run now up to their first chunk — an error there (a value PostgreSQL refuses,
    a statement timeout) is an ordinary problem+json response, before any byte is sent — and
    the rest as the body to stream, in which an error can only abort the transfer."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""

    async def body() -> AsyncIterator[bytes]:
        sent = len(first)
        try:
            yield first
            async for chunk in chunks:
                yield chunk
                sent += len(chunk)
        except Exception as exc:
            # No user value in the log line: the class says what failed (api.errors' rule).
            log.warning("stream aborted after %d bytes: %s", sent, type(exc).__name__)
            raise StreamAborted(f"stream aborted after {sent} bytes") from exc
        finally:
            await chunks.aclose()  # e.g. the client went away: end the query's transaction

    return body()


# Number formats of the typed columns (the kind of COLUMNS); text goes through the cell writer.
NUMBER_FORMATS = {"datetime": "yyyy-mm-dd hh:mm", "float": "#,##0.00"}


async def xlsx_bytes(sessions: async_sessionmaker[AsyncSession], stmt: Select[Any]) -> bytes:
    """The XLSX workbook: a bold header row, typed number and date cells (times in UTC)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("leads")
    ws.freeze_panes = "A2"
    header = []
    for name in HEADERS:
        cell = xlsx_cell(ws, name)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    formats = [NUMBER_FORMATS.get(c[2]) for c in COLUMNS]

    def append(rows: list[list[Any]]) -> None:
        for row in rows:
            ws.append([xlsx_cell(ws, v, f) for v, f in zip(row, formats, strict=True)])

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
