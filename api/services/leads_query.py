"""Lead filters under RBAC as SQLAlchemy expressions, defined once for the list, exports,
analytics and batch enrichment; sort keys, LeadOut rows and the list's page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    Text,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import FromClause

from api.services.analytics_cache import AnalyticsCache
from geo.errors import NotFound
from geo.models import LayerVersion, Lead, LeadStatus, User
from geo.models.leads import SEARCH_EXPR
from geo.visibility import Viewer, lead_visibility

SortKey = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "quality_score",
    "-quality_score",
    "area_m2",
    "-area_m2",
    "status_changed_at",
    "-status_changed_at",
    "internal_name",
    "-internal_name",
]
_SORT_COLUMNS = {
    "created_at": Lead.created_at,
    "updated_at": Lead.updated_at,
    "quality_score": Lead.quality_score,
    "area_m2": Lead.area_m2,
    "status_changed_at": Lead.status_changed_at,
    "internal_name": Lead.internal_name,
}

_NULLABLE = frozenset({"quality_score"})


def search_expr(alias: str) -> str:
    """The expression of the trigram index ix_leads_search_trgm on ``alias``, verbatim so the
    planner uses the index."""
    columns = r"\b(name|internal_name|commune_name|notes)\b"
    return "(" + re.sub(columns, rf"{alias}.\1", SEARCH_EXPR) + ")"


SEARCH: ColumnElement[str] = literal_column(search_expr("leads"))


@dataclass(frozen=True)
class LeadFilters:
    """The list filters (every one optional); ARCHIVED leads only when asked by status."""

    status: tuple[LeadStatus, ...] = ()
    assignee_id: int | None = None
    score_min: float | None = None
    score_max: float | None = None
    department: str | None = None
    commune: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None

    def key(self) -> tuple[object, ...]:
        """A hashable cache-key fragment: equal for filters that select the same leads in any
        order of statuses (a tuple: ~10x cheaper than the JSON text it replaced, per list page)."""
        return (
            tuple(sorted(s.value for s in self.status)),
            self.assignee_id,
            self.score_min,
            self.score_max,
            self.department,
            self.commune,
            self.bbox,
            self.created_from,
            self.created_to,
            self.q,
        )

    def to_json(self) -> dict[str, Any]:
        """The filters as JSON (a lead export's row keeps them for its worker)."""
        return {
            "status": [s.value for s in self.status],
            "assignee_id": self.assignee_id,
            "score_min": self.score_min,
            "score_max": self.score_max,
            "department": self.department,
            "commune": self.commune,
            "bbox": list(self.bbox) if self.bbox else None,
            "created_from": self.created_from.isoformat() if self.created_from else None,
            "created_to": self.created_to.isoformat() if self.created_to else None,
            "q": self.q,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LeadFilters:
        """The filters :meth:`to_json` wrote."""
        bbox = data.get("bbox")
        return cls(
            status=tuple(LeadStatus(s) for s in data.get("status") or ()),
            assignee_id=data.get("assignee_id"),
            score_min=data.get("score_min"),
            score_max=data.get("score_max"),
            department=data.get("department"),
            commune=data.get("commune"),
            bbox=(bbox[0], bbox[1], bbox[2], bbox[3]) if bbox else None,
            created_from=_when(data.get("created_from")),
            created_to=_when(data.get("created_to")),
            q=data.get("q"),
        )


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_clauses(viewer: Viewer, f: LeadFilters) -> list[ColumnElement[bool]]:
    """WHERE clauses for the viewer's visibility and the filters (values bound, never formatted)."""
    clauses: list[ColumnElement[bool]] = [lead_visibility(viewer)]
    if f.status:
        clauses.append(Lead.status.in_([s.value for s in f.status]))
    else:
        clauses.append(Lead.status != LeadStatus.ARCHIVED.value)
    if f.assignee_id is not None:
        clauses.append(Lead.assignee_id == f.assignee_id)
    if f.score_min is not None:
        clauses.append(Lead.quality_score >= f.score_min)
    if f.score_max is not None:
        clauses.append(Lead.quality_score <= f.score_max)
    if f.department:
        clauses.append(Lead.department == f.department)
    if f.commune:
        clauses.append(Lead.commune_insee == f.commune)
    if f.bbox:
        envelope = func.ST_MakeEnvelope(*f.bbox, 4326)
        clauses.append(func.ST_Intersects(Lead.geom, envelope))
    if f.created_from:
        clauses.append(Lead.created_at >= f.created_from)
    if f.created_to:
        clauses.append(Lead.created_at < f.created_to)
    if f.q:
        like = f"%{_escape_like(f.q)}%"
        clauses.append(SEARCH.ilike(like, escape="\\"))
    return clauses


def order_by(sort: SortKey, leads: FromClause | type[Lead] = Lead) -> list[Any]:
    """ORDER BY for a whitelisted sort key, with the id as tie-breaker (stable pages);
    ``leads`` may be the ORM class or an aliased table."""
    cols = leads.c if isinstance(leads, FromClause) else Lead.__table__.c
    key = sort.lstrip("-")
    column = cols[_SORT_COLUMNS[key].key]
    if sort.startswith("-"):
        # Unscored leads last; the NULLS clause must match an index (ix_leads_quality_score_desc)
        # or PostgreSQL sorts the whole table for every page.
        first = column.desc().nulls_last() if key in _NULLABLE else column.desc()
        return [first, cols.id.desc()]
    return [column.asc(), cols.id.asc()]


def ts(column: str) -> str:
    """A timestamptz as RFC 3339 in UTC with ``Z``, as the pydantic models write it."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def json_object(pairs: list[tuple[str, str]]) -> str:
    """``json_build_object`` of (key, SQL expression) pairs."""
    return "json_build_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"


# The fields of LeadOut, in order, for a lead ``l`` joined to its assignee ``a``: the JSON the
# list and the detail answer (tests validate it with the models).
LEAD_OUT_FIELDS: list[tuple[str, str]] = [
    ("id", "l.id"),
    ("internal_name", "l.internal_name"),
    ("name", "l.name"),
    ("status", "l.status"),
    ("assignee_id", "l.assignee_id"),
    ("assignee_name", "a.full_name"),
    ("commune_insee", "l.commune_insee"),
    ("commune_name", "l.commune_name"),
    ("department", "l.department"),
    ("area_m2", "l.area_m2"),
    ("quality_score", "l.quality_score"),
    ("completeness", "l.completeness"),
    ("is_public", "l.is_public"),
    ("enrichment_stale", "l.enrichment_stale"),
    ("version", "l.version"),
    ("created_at", ts("l.created_at")),
    ("updated_at", ts("l.updated_at")),
    ("status_changed_at", ts("l.status_changed_at")),
    (
        "centroid",
        "CASE WHEN l.centroid IS NULL THEN NULL ELSE "
        "json_build_object('lat', ST_Y(l.centroid), 'lon', ST_X(l.centroid)) END",
    ),
    ("geometry", "ST_AsGeoJSON(l.geom, 6)::json"),
]
LEADS_L = Lead.__table__.alias("l")
USERS_A = User.__table__.alias("a")


def page_select(
    viewer: Viewer, filters: LeadFilters, sort: SortKey, offset: int, limit: int
) -> Select[Any]:
    """One row: the page's ``LeadOut`` items as a JSON array (text, built by PostgreSQL) and the
    leads-layer version, read in the same snapshot."""
    ids = (
        select(Lead.id)
        .where(*filter_clauses(viewer, filters))
        .order_by(*order_by(sort))
        .offset(offset)
        .limit(limit)
        .subquery("p")
    )
    leads, users = LEADS_L, USERS_A
    item: ColumnElement[Any] = literal_column(json_object(LEAD_OUT_FIELDS))
    items = (
        select(func.json_agg(aggregate_order_by(item, *order_by(sort, leads))))
        .select_from(
            ids.join(leads, leads.c.id == ids.c.id).outerjoin(
                users, users.c.id == leads.c.assignee_id
            )
        )
        .scalar_subquery()
    )
    return select(cast(items, Text).label("items"), leads_version().label("version"))


def leads_version() -> ScalarSelect[Any]:
    """The leads-layer version (bumped in the transaction of every lead write), to read in the
    same statement — the same snapshot — as what a cached total goes with."""
    return select(LayerVersion.version).where(LayerVersion.layer == "leads").scalar_subquery()


async def lead_json(session: AsyncSession, viewer: Viewer, lead_id: int) -> tuple[bytes, int]:
    """A visible lead's ``LeadOut`` as JSON bytes (the list's item) and its version (404
    otherwise): the answer of a creation and of each edit."""
    leads, users = LEADS_L, USERS_A
    stmt = (
        select(literal_column(f"{json_object(LEAD_OUT_FIELDS)}::text", Text), leads.c.version)
        .select_from(leads.outerjoin(users, users.c.id == leads.c.assignee_id))
        .where(leads.c.id == lead_id, lead_visibility(viewer, leads))
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(f"lead {lead_id} not found")
    return row[0].encode(), int(row[1])


async def list_page(
    session: AsyncSession,
    cache: AnalyticsCache,
    viewer: Viewer,
    filters: LeadFilters,
    *,
    sort: SortKey,
    page: int,
    page_size: int,
) -> bytes:
    """A ``LeadPage`` as JSON bytes: the leads ``viewer`` may see under ``filters``, with their
    total.

    The items' JSON is built by PostgreSQL in the page's statement (through pydantic and
    FastAPI's response validation a 50-lead page cost several times more CPU than the page's
    SQL). Counting up to 100k leads costs more than the page itself, so the total is cached per
    (filters, viewer scope) with the leads-layer version it was counted at (bumped by every
    lead write, in the writing transaction; read in the page's statement), and counted again
    only when a write moved it.
    """
    row = (
        await session.execute(page_select(viewer, filters, sort, (page - 1) * page_size, page_size))
    ).one()

    async def count() -> int:
        # Counted after the page: a write in between leaves the page's (older) version on a
        # newer count, which the next page counts again (never a stale total kept as current).
        where = filter_clauses(viewer, filters)
        return int(await session.scalar(select(func.count()).select_from(Lead).where(*where)) or 0)

    key = ("count", filters.key(), viewer.scope)
    total = int(await cache.get(key, int(row.version or 0), count))
    tail = f',"total":{total},"page":{page},"page_size":{page_size}}}'
    return ('{"items":' + (row.items or "[]") + tail).encode()
