"""The lead list, detail and create in plain SQL on asyncpg, with the JSON built by PostgreSQL.

These are the API's hottest paths. Through the ORM a detail cost ~10 ms of Python CPU (a
session, seven statements, ORM objects, pydantic); here it is one prepared statement, which also
authenticates the token (AUTH_CTE), whose answer is already the response body. A list page is
one statement with its total (from ``lead_counts`` or a cached count), a creation two. The JSON
has the shape of :class:`~api.schemas.leads.LeadOut`/``LeadPage``/``LeadDetail`` (the tests
validate it with those models), timestamps as RFC 3339 UTC with ``Z``.

The filters and the visibility rule are the same as :func:`~api.services.leads_query.
filter_clauses` and :func:`~geo.visibility.lead_visibility`, written as SQL text with bound
parameters; ``tests/test_leads_sql.py`` checks both select the same leads for every role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from api.deps import AUTH_SQL, auth_args, checked_viewer
from api.security import TokenClaims
from api.services.analytics_cache import AnalyticsCache
from api.services.binds import Binds
from api.services.leads_counts import count_sql
from api.services.leads_query import LeadFilters, SortKey, search_expr
from geo.crypto import FieldCipher
from geo.db import FairPool
from geo.errors import Conflict, NotFound
from geo.models import (
    ActivityLog,
    Base,
    Document,
    LeadEconomic,
    LeadNetwork,
    LeadRegulatory,
    LeadSourcing,
    LeadStatus,
    LeadTechnical,
    Role,
)
from geo.pipeline import allowed_targets, may_change
from geo.visibility import (
    Viewer,
    activity_visibility,
    clause_sql,
    document_visibility,
    visibility_sql,
)

ACTIVITY_LIMIT = 100
COMMENT_LIMIT = 20

# Authentication in the same statement as the data (a round trip costs ~0.25 ms here, more than
# most of these queries): $1 the token's user id, $2 its jti, $3 its version (auth_args). The
# statement is built for the token's role; when the database says otherwise (the role changed
# since the token was issued) it runs again for the database's role (api.deps.checked_viewer).
AUTH_CTE = f"auth AS ({AUTH_SQL})"


def ts(column: str) -> str:
    """A timestamptz as RFC 3339 in UTC with ``Z``, as the pydantic models write it."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _object(pairs: list[tuple[str, str]]) -> str:
    return "json_build_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"


# The fields of LeadOut, in order, for a lead ``l`` joined to its assignee ``a``.
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
# The card's live form (tests compare every stored card with it).
LEAD_OUT_JSON = _object(LEAD_OUT_FIELDS)

# The list's ORDER BY per sort key, with the id as tie-breaker (stable pages). A descending
# nullable key puts NULLs last, matching the index ix_leads_quality_score_desc.
_SORT_SQL = {
    "created_at": "l.created_at",
    "updated_at": "l.updated_at",
    "quality_score": "l.quality_score",
    "area_m2": "l.area_m2",
    "status_changed_at": "l.status_changed_at",
    "internal_name": "l.internal_name",
}
_SEARCH_SQL = search_expr("l")


def order_sql(sort: SortKey, alias: str = "l") -> str:
    """ORDER BY text for a whitelisted sort key."""
    key = sort.lstrip("-")
    column = _SORT_SQL[key].replace("l.", f"{alias}.")
    if sort.startswith("-"):
        nulls = " NULLS LAST" if key == "quality_score" else ""
        return f"{column} DESC{nulls}, {alias}.id DESC"
    return f"{column} ASC, {alias}.id ASC"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where_sql(viewer: Viewer, f: LeadFilters, binds: Binds, *, statuses: bool = True) -> str:
    """The WHERE text of the list: visibility, then each filter given (values bound); without
    the status filter when ``statuses`` is False (:func:`ids_sql` puts it in each branch)."""
    clauses = [visibility_sql(viewer, "l", binds.add)]
    if statuses and f.status:
        clauses.append(f"l.status = ANY({binds.add([s.value for s in f.status])}::text[])")
    elif statuses:
        clauses.append(f"l.status <> '{LeadStatus.ARCHIVED.value}'")
    if f.assignee_id is not None:
        clauses.append(f"l.assignee_id = {binds.add(f.assignee_id)}")
    if f.score_min is not None:
        clauses.append(f"l.quality_score >= {binds.add(f.score_min)}")
    if f.score_max is not None:
        clauses.append(f"l.quality_score <= {binds.add(f.score_max)}")
    if f.department:
        clauses.append(f"l.department = {binds.add(f.department)}")
    if f.commune:
        clauses.append(f"l.commune_insee = {binds.add(f.commune)}")
    if f.bbox:
        corners = ", ".join(binds.add(float(v)) for v in f.bbox)
        clauses.append(f"ST_Intersects(l.geom, ST_MakeEnvelope({corners}, 4326))")
    if f.created_from:
        clauses.append(f"l.created_at >= {binds.add(f.created_from)}")
    if f.created_to:
        clauses.append(f"l.created_at < {binds.add(f.created_to)}")
    if f.q:
        like = binds.add(f"%{_escape_like(f.q)}%")
        clauses.append(f"{_SEARCH_SQL} ILIKE {like} ESCAPE '\\'")
    return " AND ".join(clauses)


async def as_current_role(
    claims: TokenClaims, fetch: Callable[[Viewer], Awaitable[Any]]
) -> tuple[Viewer, Any]:
    """Run a statement with the AUTH_CTE for the token's role, and again for the database's role
    when it changed since the token was issued; 401 when revoked or disabled."""
    viewer = Viewer(claims.user_id, claims.role)
    for _ in range(3):
        row = await fetch(viewer)
        actual = checked_viewer(claims, row["auth_role"], row["auth_revoked"])
        if actual.role is viewer.role:
            return viewer, row
        viewer = actual
    raise Conflict("the user's role changed during the request; retry")


# The sorts with a (status, sort key, id) index (migration 0015), in the direction it is read.
_STATUS_SORTS = frozenset(
    ["created_at", "-created_at", "updated_at", "-updated_at", "area_m2", "-area_m2"]
    + ["-quality_score"]
)


# Filters whose best plan never depends on their values: the sort index walked in order,
# filtering on its included columns (a rare commune, a small bbox, a selective search, one OPS
# user's leads or a date range may each want another index, chosen per value).
_PLAN_STABLE_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.COMMERCIAL})
# What a plan-stable page reads, rounded up to one of these: PostgreSQL then sees a constant
# LIMIT and keeps one generic plan for the statement instead of planning every page (~0.13 ms
# of the ~0.65 ms a page costs it), and the common pages (50 a page) read no extra row.
_CUTS = (50, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 4000)


def _plan_stable(viewer: Viewer, f: LeadFilters) -> bool:
    return viewer.role in _PLAN_STABLE_ROLES and not (
        f.assignee_id is not None or f.commune or f.bbox or f.created_from or f.created_to or f.q
    )


def ids_sql(
    viewer: Viewer, f: LeadFilters, sort: SortKey, binds: Binds, offset: int, limit: int
) -> str:
    """The page's lead ids, in order, as a ``bigint[]`` expression.

    Without a status filter, the sort index read in order, filtering on its included columns
    (an index-only scan); for plan-stable filters with a constant LIMIT (one of ``_CUTS``) and
    the page sliced out of the array, so that PostgreSQL plans the statement once. With
    statuses, one ordered range of the (status, sort key) index per status, each cut at
    offset + limit, merged (a Merge Append): a walk of the global order would read past every
    lead of the other statuses (5-30 ms for a status with few leads at the top of that order,
    or a filter that keeps few). PostgreSQL already keeps a generic plan for those.
    """
    order = order_sql(sort)
    o, n = binds.add(offset), binds.add(limit)
    if not f.status or sort not in _STATUS_SORTS:
        where = where_sql(viewer, f, binds)
        cut = next((c for c in _CUTS if c >= offset + limit), None)
        select = f"SELECT l.id FROM leads l WHERE {where} ORDER BY {order}"
        if cut is None or not _plan_stable(viewer, f):
            return f"ARRAY({select} OFFSET {o} LIMIT {n})"
        return f"(ARRAY({select} LIMIT {cut}))[{o}::int + 1 : {o}::int + {n}::int]"
    rest = where_sql(viewer, f, binds, statuses=False)
    column = _SORT_SQL[sort.lstrip("-")]
    cut = f"{o}::bigint + {n}::bigint"
    branches = " UNION ALL ".join(
        f"(SELECT l.id, {column} FROM leads l WHERE l.status = {binds.add(s.value)}::text "
        f"AND {rest}{_gate(viewer, f, s, binds)} ORDER BY {order} LIMIT {cut})"
        for s in dict.fromkeys(f.status)  # a status given twice is one range
    )
    merged = order_sql(sort, "u")
    return f"ARRAY(SELECT u.id FROM ({branches}) u ORDER BY {merged} OFFSET {o} LIMIT {n})"


def _gate(viewer: Viewer, f: LeadFilters, status: LeadStatus, binds: Binds) -> str:
    """`` AND <status has leads under the filters>`` for a branch of :func:`ids_sql` when a
    department or score bound may leave none (NEW leads have no score yet): a condition on no
    row, which PostgreSQL checks once before the range (~0.03 ms from ``lead_counts``) instead
    of reading all of it for nothing (25k NEW entries, ~6 ms). Empty when the counts can't
    answer (they answer exactly, so no lead is ever skipped)."""
    if not (f.department or f.score_min is not None or f.score_max is not None):
        return ""
    total = count_sql(viewer, f, binds, statuses=(status,))
    return "" if total is None else f" AND {total} > 0"


def _page_sql(ids: str, total: str) -> str:
    # The page's ids (ids_sql), then their stored cards joined in order by lead_page (migration
    # 0016: prepared once per connection; the cards hold the assignee's name since then).
    return f"""
WITH {AUTH_CTE}
SELECT auth.role AS auth_role, auth.revoked AS auth_revoked,
       (SELECT version FROM layer_versions WHERE layer = 'leads') AS version,
       {total} AS total, lead_page({ids}) AS cards
FROM auth
"""


@dataclass(frozen=True)
class _PageQuery:
    claims: TokenClaims
    filters: LeadFilters
    sort: SortKey
    page: int
    page_size: int

    async def run(self, pool: FairPool, viewer: Viewer, count: bool | None) -> Any:
        """The page; with the total from ``lead_counts`` when the filters allow (always: it
        costs ~0.1 ms), else counted over the leads if ``count``, else none."""
        binds = Binds(auth_args(self.claims))
        offset = (self.page - 1) * self.page_size
        ids = ids_sql(viewer, self.filters, self.sort, binds, offset, self.page_size)
        total = count_sql(viewer, self.filters, binds)
        if total is None and count:
            where = where_sql(viewer, self.filters, binds)
            total = f"(SELECT count(*) FROM leads l WHERE {where})"
        sql = _page_sql(ids, total or "NULL::bigint")
        return await pool.fetchrow(sql, *binds.values)


async def list_page(
    pool: FairPool,
    cache: AnalyticsCache,
    claims: TokenClaims,
    filters: LeadFilters,
    *,
    sort: SortKey,
    page: int,
    page_size: int,
) -> bytes:
    """A ``LeadPage`` as JSON bytes, for the holder of ``claims`` (authenticated here).

    The total comes from ``lead_counts`` (api.services.leads_counts) when the filters allow,
    in the page's statement. Otherwise counting up to 100k rows costs more than the page
    itself, so that total is cached per (filters, viewer scope) with the leads-layer version it
    was counted at; the page statement returns the current version, and the total is counted
    again (in the same statement as a new page) only when a write has moved it.
    """
    query = _PageQuery(claims, filters, sort, page, page_size)
    known: tuple[int, Any] | None = None
    filters_key = filters.key()

    async def fetch(viewer: Viewer) -> Any:
        nonlocal known
        known = cache.peek(("count", filters_key, viewer.scope))
        return await query.run(pool, viewer, count=known is None)

    viewer, row = await as_current_role(claims, fetch)
    key = ("count", filters_key, viewer.scope)
    version = int(row["version"] or 0)
    if row["total"] is not None:
        total = int(row["total"])
        if known is None or known[0] != version:
            cache.put(key, version, total)
    elif known is not None and known[0] == version:
        total = known[1]
    else:  # counted before the last write: page and total again
        row = await query.run(pool, viewer, count=True)
        total = int(row["total"])
        cache.put(key, int(row["version"] or 0), total)
    tail = f'],"total":{total},"page":{page},"page_size":{page_size}}}'
    return ('{"items":[' + (row["cards"] or "") + tail).encode()  # one copy of ~40 KB


def _json_list(select_sql: str, fields: list[tuple[str, str]], order: str, alias: str) -> str:
    """``json_agg`` of the rows of a (limited) sub-select, in order; ``[]`` when none."""
    return (
        f"(SELECT coalesce(json_agg({_object(fields)} ORDER BY {order}), '[]'::json) "
        f"FROM ({select_sql}) {alias})"
    )


def _one_to_one(model: type[Base]) -> str:
    """A lead's row of a one-to-one table as a JSON object of its columns but ``lead_id``
    (``row_to_json`` of the listed columns: ~0.1 ms less per detail than jsonb minus a key)."""
    table = model.__table__
    columns = ", ".join(f"t.{c.name}" for c in table.columns if c.name != "lead_id")
    return (
        f"(SELECT row_to_json(x) FROM (SELECT {columns} FROM {table.name} t "
        "WHERE t.lead_id = l.id) x)"
    )


def _documents_sql(sees_owners: bool) -> str:
    visible = clause_sql(document_visibility(sees_owners, Document.__table__.alias("d")))
    return _json_list(
        f"SELECT * FROM documents d WHERE d.lead_id = l.id AND {visible}",
        [
            ("id", "d.id"),
            ("filename", "d.filename"),
            ("content_type", "d.content_type"),
            ("size_bytes", "d.size_bytes"),
            ("category", "d.category"),
            ("created_at", ts("d.created_at")),
        ],
        "d.created_at DESC",
        "d",
    )


_COMMENTS_SQL = _json_list(
    "SELECT c.*, u.full_name AS author_name FROM comments c "
    "LEFT JOIN users u ON u.id = c.author_id WHERE c.lead_id = l.id "
    f"ORDER BY c.created_at DESC, c.id DESC LIMIT {COMMENT_LIMIT}",
    [
        ("id", "c.id"),
        ("lead_id", "c.lead_id"),
        ("author_id", "c.author_id"),
        ("author_name", "c.author_name"),
        ("body", "c.body"),
        ("created_at", ts("c.created_at")),
        ("updated_at", ts("c.updated_at")),
    ],
    "c.created_at DESC, c.id DESC",
    "c",
)


def _activity_sql(sees_owners: bool) -> str:
    visible = clause_sql(activity_visibility(sees_owners, ActivityLog.__table__.alias("e")))
    return _json_list(
        "SELECT e.*, u.full_name AS user_name FROM activity_log e "
        f"LEFT JOIN users u ON u.id = e.user_id WHERE e.lead_id = l.id AND {visible} "
        f"ORDER BY e.created_at DESC, e.id DESC LIMIT {ACTIVITY_LIMIT}",
        [
            ("id", "e.id"),
            ("lead_id", "e.lead_id"),
            ("user_id", "e.user_id"),
            ("user_name", "e.user_name"),
            ("action", "e.action"),
            ("entity", "e.entity"),
            ("entity_id", "e.entity_id"),
            ("before", "e.before"),
            ("after", "e.after"),
            ("created_at", ts("e.created_at")),
        ],
        "e.created_at DESC, e.id DESC",
        "e",
    )


_HISTORY_SQL = _json_list(
    "SELECT * FROM lead_status_history h WHERE h.lead_id = l.id",
    [
        ("status", "h.status"),
        ("entered_at", ts("h.entered_at")),
        ("left_at", ts("h.left_at")),
        ("seconds", "extract(epoch FROM coalesce(h.left_at, now()) - h.entered_at)::float8"),
        ("reason", "h.reason"),
    ],
    "h.entered_at, h.id",
    "h",
)


@cache
def detail_sql(role: Role) -> str:
    """The detail statement for a role (``$1``-``$3`` the token, auth_args; ``$4`` the lead id).

    One row, always: the authentication, then the lead (NULLs when unknown or not visible) as a
    JSON object with every related table but the land (``body``), and the land's columns, whose
    owners only Python can decrypt.
    """
    kind = Viewer(0, role)
    visible = visibility_sql(kind, "l", lambda _v: "$1")  # OPS: the token's user
    body = _object(
        [
            *LEAD_OUT_FIELDS,
            ("created_by_id", "l.created_by_id"),
            ("notes", "l.notes"),
            ("rejection_reason", "l.rejection_reason"),
            ("score_breakdown", "l.score_breakdown"),
            ("enriched_at", ts("l.enriched_at")),
            ("sourcing", _one_to_one(LeadSourcing)),
            ("technical", _one_to_one(LeadTechnical)),
            ("regulatory", _one_to_one(LeadRegulatory)),
            ("network", _one_to_one(LeadNetwork)),
            ("economic", _one_to_one(LeadEconomic)),
            ("documents", _documents_sql(kind.sees_owners)),
            ("comments", _COMMENTS_SQL),
            ("activity", _activity_sql(kind.sees_owners)),
            ("status_history", _HISTORY_SQL),
        ]
    )
    return f"""
WITH {AUTH_CTE}
SELECT auth.role AS auth_role, auth.revoked AS auth_revoked, d.*
FROM auth LEFT JOIN LATERAL (
    SELECT l.status, l.assignee_id, l.version, {body}::text AS body,
           f.lead_id IS NOT NULL AS has_foncier, f.parcels::text AS parcels, f.owners_encrypted,
           f.owner_count, f.agreement_status, {ts("f.updated_at")} AS foncier_updated_at
    FROM leads l
    LEFT JOIN users a ON a.id = l.assignee_id
    LEFT JOIN lead_foncier f ON f.lead_id = l.id
    WHERE l.id = $4 AND {visible}
) d ON true
"""


@dataclass(frozen=True)
class DetailJson:
    """A lead's detail as JSON bytes, with its version (the ETag)."""

    body: bytes
    version: int


async def lead_detail_json(
    pool: FairPool, claims: TokenClaims, lead_id: int, cipher: FieldCipher
) -> DetailJson:
    """A ``LeadDetail`` as JSON bytes for the holder of ``claims`` (authenticated here); 404 when
    the lead is unknown or not visible to them."""

    async def fetch(viewer: Viewer) -> Any:
        return await pool.fetchrow(detail_sql(viewer.role), *auth_args(claims), lead_id)

    viewer, row = await as_current_role(claims, fetch)
    if row["status"] is None:
        raise NotFound(f"lead {lead_id} not found")
    status = LeadStatus(row["status"])
    allowed: list[LeadStatus] = []  # OPS see public leads but move only their own
    if may_change(viewer.role, viewer.user_id, row["assignee_id"]):
        allowed = allowed_targets(status, viewer.role)
    foncier: dict[str, Any] | None = None
    if row["has_foncier"]:
        owners = None
        if viewer.sees_owners:
            enc = row["owners_encrypted"]
            owners = cipher.decrypt_json(enc) if enc else []
        foncier = {
            "parcels": orjson.Fragment(row["parcels"]) if row["parcels"] else None,
            "owners": owners,
            "owner_count": row["owner_count"],
            "agreement_status": row["agreement_status"],
            "updated_at": row["foncier_updated_at"],
        }
    tail = orjson.dumps({"foncier": foncier, "allowed_transitions": allowed})
    body: str = row["body"]
    # Both are JSON objects: the lead's keys, then the land and the allowed moves.
    return DetailJson(body[:-1].encode() + b"," + tail[1:], int(row["version"]))


# A new lead in one statement, hence one transaction: the commune's name counter, the lead, its
# sourcing, land (parcels given), first status period, activity entry and the leads-layer version
# bump (last: concurrent creations queue on that row only until commit). Returns the lead's
# card: its LeadOut.
# $1 name prefix, $2 name, $3 assignee, $4 author, $5 public, $6 INSEE, $7 commune name,
# $8 department, $9 notes, $10 EWKB, $11 source, $12 parcel ids, $13 parcels, $14 activity.
CREATE_SQL = f"""
WITH counter AS (
    INSERT INTO lead_name_counters AS c (prefix, last_seq) VALUES ($1, 1)
    ON CONFLICT (prefix) DO UPDATE SET last_seq = c.last_seq + 1
    RETURNING last_seq
), l AS (
    INSERT INTO leads (internal_name, name, status, status_changed_at, assignee_id,
                       created_by_id, is_public, commune_insee, commune_name, department, notes,
                       geom, enrichment_stale)
    SELECT $1 || '-' || lpad(last_seq::text, greatest(4, length(last_seq::text)), '0'), $2,
           '{LeadStatus.NEW.value}', now(), $3, $4, $5, $6, $7, $8, $9, ST_GeomFromEWKB($10), true
    FROM counter
    RETURNING *
), sourcing AS (
    INSERT INTO lead_sourcing (lead_id, source, found_by_id, found_at, source_notes, parcel_ids)
    SELECT id, $11, $4, now(), $9, $12::jsonb FROM l
), land AS (
    INSERT INTO lead_foncier (lead_id, parcels) SELECT id, $13::jsonb FROM l WHERE $13 IS NOT NULL
), history AS (
    INSERT INTO lead_status_history (lead_id, status, entered_at, changed_by_id)
    SELECT id, status, status_changed_at, $4 FROM l
), activity AS (
    INSERT INTO activity_log (lead_id, user_id, action, entity, entity_id, after)
    SELECT id, $4, 'create', 'lead', id,
           $14::jsonb || jsonb_build_object('internal_name', internal_name) FROM l
), bump AS (
    INSERT INTO layer_versions AS v (layer, version) VALUES ('leads', 1)
    ON CONFLICT (layer) DO UPDATE SET version = v.version + 1, updated_at = now()
)
SELECT l.id, l.version, l.card FROM l
"""
