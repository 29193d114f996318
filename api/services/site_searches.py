"""Site searches: CRUD, runs (synchronous, one transaction each) and sites → leads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import orjson
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.schemas.leads import LeadCreate
from api.schemas.site_searches import (
    CriteriaIn,
    LeadFromSite,
    LeadsFromSitesIn,
    RunOut,
    SiteOut,
    SitePage,
    SiteSearchIn,
    SiteSearchOut,
    SiteSearchUpdate,
    TerritoryIn,
)
from api.services.enrichment import enrichment_config
from api.services.leads import create_lead_on
from api.services.leads_geometry import (
    GeometryLimits,
    check_shape,
    check_validity,
    planar_shape,
)
from api.settings import Settings
from enrichment.site_finder import FinderBounds, Territory, find_sites, store_sites
from geo.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from geo.models import LeadSource, Role, SiteSearch, SiteSearchResult, SiteSearchRun
from geo.pipeline import OPEN_STATUSES
from geo.visibility import Viewer, search_visibility

CREATORS = (Role.ADMIN, Role.MANAGER, Role.OPS)


def check_prospector(viewer: Viewer) -> None:
    """COMMERCIAL users have no site searches (403)."""
    if viewer.role not in CREATORS:
        raise PermissionDenied("site searches are for OPS, MANAGER and ADMIN users")


def search_out(s: SiteSearch) -> SiteSearchOut:
    """The response model of a search."""
    return SiteSearchOut.model_validate(s, from_attributes=True)


def run_out(r: SiteSearchRun) -> RunOut:
    """The response model of a run."""
    return RunOut.model_validate(r, from_attributes=True)


def territory_of(body: TerritoryIn, limits: GeometryLimits) -> Territory:
    """The engine's territory; a polygon is bounded and checked like a lead's geometry (422)."""
    if body.polygon is not None:
        geojson = body.polygon.model_dump()
        check_shape(geojson, limits)
        check_validity(geojson, limits, repair=False)
        x0, y0, x1, y1 = planar_shape(geojson).bounds
        bx0, by0, bx1, by1 = limits.bbox
        if x0 < bx0 or y0 < by0 or x1 > bx1 or y1 > by1:
            raise InvalidInput("the territory is outside metropolitan France and Corsica")
        return Territory(polygon=orjson.dumps(geojson).decode())
    if body.communes is not None:
        return Territory(communes=tuple(sorted(set(body.communes))))
    assert body.departements is not None
    return Territory(departements=tuple(sorted(set(body.departements))))


async def get_search(
    session: AsyncSession, viewer: Viewer, search_id: int, *, for_update: bool = False
) -> SiteSearch:
    """A search the viewer may see (404 otherwise: an OPS can't tell others' searches exist)."""
    check_prospector(viewer)
    q = select(SiteSearch).where(SiteSearch.id == search_id, search_visibility(viewer))
    if for_update:
        q = q.with_for_update()
    found = (await session.execute(q)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"site search {search_id} not found")
    return found


async def create_search(
    session: AsyncSession, viewer: Viewer, body: SiteSearchIn, limits: GeometryLimits
) -> SiteSearch:
    """Save a new search owned by the caller."""
    check_prospector(viewer)
    territory_of(body.territory, limits)  # 422 now, not at the first run
    s = SiteSearch(
        name=body.name,
        owner_id=viewer.user_id,
        territory=body.territory.model_dump(mode="json", exclude_none=True),
        criteria=body.criteria.model_dump(mode="json"),
    )
    session.add(s)
    await session.commit()
    await session.refresh(s)
    return s


async def list_searches(session: AsyncSession, viewer: Viewer) -> list[SiteSearch]:
    """The searches the viewer may see, newest first (at most 500)."""
    check_prospector(viewer)
    q = select(SiteSearch).where(search_visibility(viewer))
    return list((await session.scalars(q.order_by(SiteSearch.id.desc()).limit(500))).all())


async def update_search(
    session: AsyncSession,
    viewer: Viewer,
    search_id: int,
    body: SiteSearchUpdate,
    limits: GeometryLimits,
) -> SiteSearch:
    """Change a search's name, territory or criteria (past runs keep what they ran with)."""
    s = await get_search(session, viewer, search_id, for_update=True)
    sent = body.model_fields_set
    if "name" in sent and body.name is not None:
        s.name = body.name
    if "territory" in sent and body.territory is not None:
        territory_of(body.territory, limits)
        s.territory = body.territory.model_dump(mode="json", exclude_none=True)
    if "criteria" in sent and body.criteria is not None:
        s.criteria = body.criteria.model_dump(mode="json")
    s.updated_at = func.now()
    await session.commit()
    await session.refresh(s)
    return s


async def delete_search(session: AsyncSession, viewer: Viewer, search_id: int) -> None:
    """Delete a search with its runs and sites (leads made from them stay)."""
    s = await get_search(session, viewer, search_id, for_update=True)
    await session.delete(s)
    await session.commit()


def bounds_of(settings: Settings) -> FinderBounds:
    """The run bounds from the settings."""
    sf = settings.site_finder
    return FinderBounds(
        max_site_parcels=sf.max_site_parcels,
        max_site_ha=sf.max_site_ha,
        max_results=sf.max_results,
        max_territory_parcels=sf.max_territory_parcels,
        min_part_m2=sf.min_part_m2,
        min_width_m=sf.min_width_m,
        poste_candidates=sf.poste_candidates,
        ha_per_mwc=settings.economics.ha_per_mwc,
    )


async def run_search(
    sessions: async_sessionmaker[AsyncSession],
    viewer: Viewer,
    search_id: int,
    settings: Settings,
    limits: GeometryLimits,
) -> SiteSearchRun:
    """Run a search now: the run row and its sites in one transaction (all or nothing); a run
    over the time limit is recorded as failed and answered 422 (the territory is too large for
    a synchronous run)."""
    async with sessions() as session:
        search = await get_search(session, viewer, search_id)
        territory_in = TerritoryIn.model_validate(search.territory)
        territory = territory_of(territory_in, limits)
        criteria = CriteriaIn.model_validate(search.criteria).to_criteria()
        snapshot = {"territory": search.territory, "criteria": criteria.as_dict()}
    timeout_ms = settings.site_finder.statement_timeout_ms
    try:
        async with sessions() as session, session.begin():
            conn = await session.connection()
            await conn.execute(
                text("SELECT set_config('statement_timeout', :v, true)"), {"v": str(timeout_ms)}
            )
            found = await find_sites(
                conn, territory, criteria, bounds_of(settings), enrichment_config(settings).score
            )
            run = SiteSearchRun(
                search_id=search_id,
                created_by_id=viewer.user_id,
                status="succeeded",
                counts=found.counts,
                coverage=found.coverage,
                messages=found.messages,
                finished_at=func.clock_timestamp(),
                **snapshot,
            )
            session.add(run)
            await session.flush()
            await store_sites(conn, run.id, found.sites)
        async with sessions() as session:
            return await session.get_one(SiteSearchRun, run.id)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "57014":
            raise
    # The time limit: nothing of the run was written; record that it failed, and why.
    detail = (
        f"the search took more than {timeout_ms / 1000:g} s: the territory is too large for a "
        "synchronous run; choose fewer communes or a smaller polygon"
    )
    async with sessions() as session, session.begin():
        failed = SiteSearchRun(
            search_id=search_id,
            created_by_id=viewer.user_id,
            status="failed",
            error=detail,
            finished_at=func.clock_timestamp(),
            **snapshot,
        )
        session.add(failed)
        await session.flush()
        run_id = failed.id
    raise InvalidInput(detail, run_id=run_id, limit="statement_timeout_ms")


async def get_run(session: AsyncSession, viewer: Viewer, search_id: int, run_id: int) -> RunOut:
    """A run of a visible search."""
    await get_search(session, viewer, search_id)
    run = await session.get(SiteSearchRun, run_id)
    if run is None or run.search_id != search_id:
        raise NotFound(f"run {run_id} of site search {search_id} not found")
    return run_out(run)


async def list_runs(session: AsyncSession, viewer: Viewer, search_id: int) -> list[RunOut]:
    """The runs of a visible search, newest first."""
    await get_search(session, viewer, search_id)
    q = select(SiteSearchRun).where(SiteSearchRun.search_id == search_id)
    return [run_out(r) for r in await session.scalars(q.order_by(SiteSearchRun.id.desc()))]


SiteSort = Literal["rank", "-buildable_m2", "-area_m2", "poste_distance"]
# The sort keys of a run's sites (whitelisted columns; ties by rank). A site without a chosen
# poste ("données absentes") sorts last by distance.
SITE_ORDER: dict[str, tuple[Any, ...]] = {
    "rank": (),
    "-buildable_m2": (SiteSearchResult.buildable_m2.desc(),),
    "-area_m2": (SiteSearchResult.area_m2.desc(),),
    "poste_distance": (
        SiteSearchResult.facts["chosen_poste"]["distance_m"].as_float().asc().nulls_last(),
    ),
}


async def list_sites(
    session: AsyncSession,
    viewer: Viewer,
    search_id: int,
    run_id: int,
    page: int,
    page_size: int,
    geometry: bool,
    sort: SiteSort = "rank",
) -> SitePage:
    """A page of a run's sites (by rank, or ``sort``), with their GeoJSON geometry when asked."""
    await get_run(session, viewer, search_id, run_id)
    geom = func.ST_AsGeoJSON(SiteSearchResult.geom, 6) if geometry else None
    cols: list[Any] = [SiteSearchResult]
    if geom is not None:
        cols.append(geom)
    q = (
        select(*cols)
        .where(SiteSearchResult.run_id == run_id)
        .order_by(*SITE_ORDER[sort], SiteSearchResult.rank)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    total = await session.scalar(
        select(func.count()).select_from(SiteSearchResult).where(SiteSearchResult.run_id == run_id)
    )
    items = []
    for row in (await session.execute(q)).all():
        site: SiteSearchResult = row[0]
        out = SiteOut.model_validate(site, from_attributes=True)
        if geom is not None:
            out.geometry = orjson.loads(row[1])
        items.append(out)
    return SitePage(items=items, total=total or 0, page=page, page_size=page_size)


@dataclass(frozen=True)
class _Site:
    rank: int
    id: int
    parcel_ids: list[str]
    buildable_m2: float
    lead_id: int | None


_SITES = """
SELECT r.id, r.rank, r.parcel_ids, r.buildable_m2, r.lead_id
FROM site_search_results AS r
WHERE r.run_id = $1 AND r.rank = ANY($2::int[])
ORDER BY r.rank
FOR UPDATE
"""
# One lock per parcel, in a fixed order (no deadlock between two conversions sharing parcels):
# two users turning the same site into leads at once queue here, and the second one sees the
# first one's lead.
_LOCK_PARCELS = """
SELECT count(pg_advisory_xact_lock(k))
FROM (SELECT DISTINCT hashtextextended('parcel:' || p, 0) AS k FROM unnest($1::text[]) AS p
      ORDER BY 1) AS keys
"""
_BUSY = """
SELECT p.id AS parcel_id
FROM parcels AS p
JOIN leads AS l ON l.geom && p.geom AND l.status = ANY($2::text[])
               AND ST_Intersects(l.geom, p.geom)
               AND ST_Area(ST_Intersection(l.geom, p.geom)::geography) > 1.0
WHERE p.id = ANY($1::text[])
GROUP BY p.id
ORDER BY p.id
"""


def _json(v: Any) -> Any:
    """A jsonb value, decoded or not by the connection's codecs."""
    return orjson.loads(v) if isinstance(v, str | bytes) else v


async def leads_from_sites(
    conn: asyncpg.Connection,
    viewer: Viewer,
    search_id: int,
    search_name: str,
    run_id: int,
    body: LeadsFromSitesIn,
    limits: GeometryLimits,
) -> list[LeadFromSite]:
    """Turn sites of a run into leads (source ``site_finder``) in one transaction, through the
    leads' own creation; 409 naming the parcels when any is now in an open lead (or the site
    was already turned into a lead), and nothing is created."""
    ranks = sorted(set(body.ranks))
    created: list[LeadFromSite] = []
    async with conn.transaction():
        rows = await conn.fetch(_SITES, run_id, ranks)
        sites = [
            _Site(r["rank"], r["id"], _json(r["parcel_ids"]), r["buildable_m2"], r["lead_id"])
            for r in rows
        ]
        missing = sorted(set(ranks) - {s.rank for s in sites})
        if missing:
            raise NotFound(f"run {run_id} has no site of rank {', '.join(map(str, missing))}")
        done = [s.rank for s in sites if s.lead_id is not None]
        if done:
            raise Conflict(
                f"sites already turned into leads: ranks {', '.join(map(str, done))}",
                ranks=done,
            )
        parcels = sorted({p for s in sites for p in s.parcel_ids})
        await conn.fetchval(_LOCK_PARCELS, parcels)
        open_statuses = sorted(st.value for st in OPEN_STATUSES)
        busy = {r["parcel_id"] for r in await conn.fetch(_BUSY, parcels, open_statuses)}
        if busy:
            conflicts = [
                {"rank": s.rank, "parcel_ids": sorted(busy & set(s.parcel_ids))}
                for s in sites
                if busy & set(s.parcel_ids)
            ]
            raise Conflict(
                f"{len(busy)} parcels of these sites are now in an open lead: "
                f"{', '.join(sorted(busy)[:20])}; nothing was created",
                conflicts=conflicts,
            )
        for s in sites:
            ha = f"{s.buildable_m2 / 10_000:.2f}".replace(".", ",")
            lead = await create_lead_on(
                conn,
                viewer,
                LeadCreate(
                    parcel_ids=s.parcel_ids,
                    name=f"{search_name} — site {s.rank}"[:200],
                    source=LeadSource.SITE_FINDER,
                    notes=f"Recherche de sites « {search_name} » (#{search_id}), exécution "
                    f"#{run_id}, site n° {s.rank} : {ha} ha constructibles",
                    is_public=body.is_public,
                    assignee_id=body.assignee_id,
                ),
                limits,
            )
            await conn.execute(
                "UPDATE site_search_results SET lead_id = $1 WHERE id = $2", lead.id, s.id
            )
            created.append(
                LeadFromSite(rank=s.rank, lead_id=lead.id, internal_name=lead.internal_name)
            )
    return created
