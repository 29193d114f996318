"""Lead exports (CSV, XLSX): one row per lead with the main enrichment figures, under RBAC."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import ColumnClause, Select, and_, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.services.leads_query import LeadFilters, SortKey, filter_clauses, order_by
from api.slots import Slots
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

# What a French reader sees: the workbook and the "fr" CSV (for French Excel) name the columns
# and the coded values in French and give times in Paris time. A column missing here keeps its
# machine name (tests/test_exports.py checks every column has one).
FRENCH_HEADERS: dict[str, str] = {
    "id": "N°",
    "internal_name": "Référence",
    "name": "Nom",
    "status": "Statut",
    "commune_insee": "Code INSEE",
    "commune_name": "Commune",
    "department": "Département",
    "assignee": "Responsable",
    "is_public": "Public",
    "created_at": "Créé le",
    "updated_at": "Modifié le",
    "status_changed_at": "Statut changé le",
    "area_ha": "Surface (ha)",
    "quality_score": "Score (/100)",
    "completeness": "Fiabilité (0–1)",
    "enrichment_stale": "Enrichissement à refaire",
    "usable_surface_ha": "Surface utile (ha)",
    "irradiation_kwh_m2": "Irradiation (kWh/m²/an)",
    "specific_yield_kwh_kwc": "Productible (kWh/kWc/an)",
    "installable_mwc": "Puissance installable (MWc)",
    "annual_production_mwh": "Production annuelle (MWh)",
    "production_source": "Source de la production",
    "verdict": "Verdict environnement",
    "plu_zone_type": "Zone PLU",
    "poste_distance_km": "Distance au poste (km)",
    "poste_capacity_available_mw": "Capacité disponible au poste (MW)",
    "connection_cost_eur": "Coût de raccordement (€)",
    "capex_eur": "CAPEX (€)",
    "annual_revenue_eur": "Revenu annuel (€)",
    "lcoe_eur_mwh": "LCOE (€/MWh)",
    "simple_payback_years": "Retour sur investissement (ans)",
    "agreement_status": "Accord foncier",
    "owner_count": "Propriétaires",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "missing_data": "Données absentes",
}
FRENCH_VALUES: dict[str, dict[str, str]] = {
    "status": {
        "NEW": "Nouveau",
        "ENRICHED": "Enrichi",
        "QUALIFIED": "Qualifié",
        "IN_REVIEW": "En revue",
        "CLIENT_READY": "Prêt client",
        "SOLD": "Vendu",
        "REJECTED": "Rejeté",
        "ARCHIVED": "Archivé",
    },
    "verdict": {"ok": "Favorable", "penalty": "Pénalisé", "exclusion": "Exclu"},
    "production_source": {"pvgis": "PVGIS", "estimate": "Estimation hors ligne"},
    "agreement_status": {
        "none": "Aucun",
        "contacted": "Contacté",
        "promise_signed": "Promesse signée",
        "lease_signed": "Bail signé",
    },
    "is_public": {"True": "oui", "False": "non"},
    "enrichment_stale": {"True": "oui", "False": "non"},
}
PARIS = ZoneInfo("Europe/Paris")
CsvDialect = Literal["standard", "fr"]


def french_header(name: str) -> str:
    """The French header of a column (its machine name when it has none)."""
    return FRENCH_HEADERS.get(name, name)


def _french_value(name: str, value: Any) -> Any:
    """A coded value in French; a date-time in Paris time, without its zone (Excel has none)."""
    labels = FRENCH_VALUES.get(name)
    if labels is not None and value is not None:
        return labels.get(str(getattr(value, "value", value)), value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(PARIS).replace(tzinfo=None)
    return value


def _csv_field_fr(name: str, value: Any) -> str:
    """A field of the French CSV: labels, Paris time as 31/12/2026 14:05, decimal commas."""
    value = _french_value(name, value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, float):
        return repr(round(value, 6)).replace(".", ",")
    return csv_field(value)


log = logging.getLogger(__name__)
# One batch of one export written at a time per API process: the writers hold the interpreter
# lock, and two or three large exports side by side left the event loop a third of it (every
# other request of the process waited). Batches of concurrent exports take turns, first come
# first served; the batch, not the whole export, holds the slot, so a slow download holds none.
WRITING = Slots(1)


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


RowCounter = Callable[[int], None]


async def _batches(
    sessions: async_sessionmaker[AsyncSession], stmt: Select[Any], counted: RowCounter | None
) -> AsyncGenerator[Sequence[Any], None]:
    """The rows, ``BATCH`` at a time, through a server-side cursor: the export never holds the
    whole answer. ``counted`` is told the size of each batch."""
    async with sessions() as session, session.begin():
        result = await session.stream(stmt.execution_options(yield_per=BATCH))
        async for partition in result.partitions(BATCH):
            if counted is not None:
                counted(len(partition))
            yield partition


def _take(buf: io.StringIO) -> bytes:
    data = buf.getvalue().encode()
    buf.seek(0)
    buf.truncate()
    return data


async def csv_chunks(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    dialect: CsvDialect = "standard",
    counted: RowCounter | None = None,
) -> AsyncGenerator[bytes, None]:
    """The CSV (UTF-8 with BOM for spreadsheets), a batch of rows at a time: the first chunk
    (header and first batch) once the query has answered, so that :func:`started` can turn an
    error of the query into an ordinary error response. ``standard``: commas, machine headers
    and values, ISO 8601 UTC; ``fr`` (what French Excel opens by a double click): semicolons,
    French headers and labels, Paris time, decimal commas."""
    buf = io.StringIO()
    buf.write("\ufeff")
    french = dialect == "fr"
    writer = csv.writer(buf, delimiter=";" if french else ",")
    writer.writerow([french_header(h) for h in HEADERS] if french else HEADERS)

    def write(rows: Sequence[Any]) -> bytes:
        for row in rows:
            if french:
                writer.writerow([_csv_field_fr(h, v) for h, v in zip(HEADERS, row, strict=True)])
            else:
                writer.writerow([csv_field(v) for v in row])
        return _take(buf)

    # Formatting is the export's main cost (~0.12 ms a row, twice the query's): each
    # batch is written in a worker thread, in order, so a large export shares the process with
    # the other requests instead of holding the event loop ~120 ms a batch (WRITING).
    sent = False
    async with aclosing(_batches(sessions, stmt, counted)) as batches:
        async for rows in batches:
            yield await WRITING.run(write, rows)
            sent = True
    if not sent:
        yield _take(buf)  # the header alone


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
# Excel shows them in the reader's locale: 1 234,50 and 31/12/2026 14:05 in a French Excel.
NUMBER_FORMATS = {"datetime": "dd/mm/yyyy hh:mm", "float": "#,##0.00"}


async def xlsx_bytes(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    counted: RowCounter | None = None,
) -> bytes:
    """The XLSX workbook: a bold row of French headers, coded values in French, typed number
    and date cells (times in Paris time)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Leads")
    ws.freeze_panes = "A2"
    header = []
    for name in HEADERS:
        cell = xlsx_cell(ws, french_header(name))
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    formats = [NUMBER_FORMATS.get(c[2]) for c in COLUMNS]

    def append(rows: Sequence[Any]) -> None:
        for row in rows:
            ws.append(
                [
                    xlsx_cell(ws, _french_value(h, v), f)
                    for h, v, f in zip(HEADERS, row, formats, strict=True)
                ]
            )

    def save() -> bytes:
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    # openpyxl is CPU-bound (~0.4 ms a row): each batch goes to a worker thread, in order, so a
    # large export does not stall the event loop serving everyone else (WRITING).
    async with aclosing(_batches(sessions, stmt, counted)) as batches:
        async for rows in batches:
            await WRITING.run(append, rows)
    return await WRITING.run(save)


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """Split bytes for a streaming response."""
    for i in range(0, len(data), size):
        yield data[i : i + size]
