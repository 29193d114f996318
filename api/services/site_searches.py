"""Site searches: CRUD, runs as background jobs in chunks (api.queue) and sites → leads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import orjson
import shapely
from psycopg.types.json import Jsonb
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
    SkippedSite,
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
from enrichment.site_finder import (
    BUMP_CANDIDATES,
    FinderBounds,
    Territory,
    assemble_sites,
    chunk_communes,
    discard_staged,
    judge_parcels,
    load_edges,
    no_parcels_message,
    plan_territory,
    publish_sites,
    set_aside_edges,
    stage_sites,
    territory_coverage,
)
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
        x0, y0, x1, y1 = shapely.bounds(planar_shape(geojson)).tolist()
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
    await session.execute(text(BUMP_CANDIDATES))  # its sites leave the map
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
        terrain_dir=settings.data_dir / "terrain",  # leadfactory import dem (enrichment.terrain)
    )


SITE_QUEUE = "site_finder"
SITE_TASK = "site_run_chunk"
ACTIVE = ("queued", "running")


def run_territory(territory: dict[str, Any]) -> Territory:
    """The engine's territory from a search's or run's snapshot (checked when it was saved)."""
    body = TerritoryIn.model_validate(territory)
    if body.polygon is not None:
        return Territory(polygon=orjson.dumps(body.polygon.model_dump()).decode())
    if body.communes is not None:
        return Territory(communes=tuple(sorted(set(body.communes))))
    return Territory(departements=tuple(sorted(set(body.departements or ()))))


async def start_run(
    sessions: async_sessionmaker[AsyncSession],
    queue: Any,
    viewer: Viewer,
    search_id: int,
    settings: Settings,
    limits: GeometryLimits,
) -> SiteSearchRun:
    """Queue a run: the territory's parcels counted per commune (422 over the bound), whole
    communes packed into chunks of about ``chunk_parcels``, then the run row, its chunks and
    one task per chunk written in ONE transaction on the queue's connection (a crash in
    between leaves no run without its tasks)."""
    async with sessions() as session:
        search = await get_search(session, viewer, search_id)
        territory_of(TerritoryIn.model_validate(search.territory), limits)  # as saved: 422
        territory = run_territory(search.territory)
        criteria = CriteriaIn.model_validate(search.criteria).to_criteria()
        snapshot = {"territory": search.territory, "criteria": criteria.as_dict()}
        conn = await session.connection()
        await _timeout(conn, settings)
        try:
            counts = await plan_territory(conn, territory)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "57014":
                raise
            raise InvalidInput(
                "counting the territory's parcels took more than "
                f"{settings.site_finder.statement_timeout_ms / 1000:g} s; try again later",
                limit="statement_timeout_ms",
            ) from exc
        await session.rollback()
    total = sum(c.parcels for c in counts)
    bound = settings.site_finder.max_territory_parcels
    if total > bound:
        raise InvalidInput(
            f"the territory holds {total:,} parcels, more than {bound:,}: choose fewer "
            "communes or départements, or a smaller polygon",
            limit="max_territory_parcels",
            max=bound,
        )
    chunks = chunk_communes(counts, settings.site_finder.chunk_parcels) or [([], 0)]
    progress = {
        "chunks_total": len(chunks),
        "chunks_done": 0,
        "parcels_total": total,
        "parcels_scanned": 0,
        "sites_found": 0,
        "percent": 0.0,
    }
    connector = queue.connector
    async with connector.pool.connection() as pconn, pconn.transaction():
        cur = await pconn.execute(
            "INSERT INTO site_search_runs (search_id, created_by_id, status, territory, "
            "criteria, progress) VALUES (%s, %s, 'queued', %s, %s, %s) RETURNING id",
            (
                search_id,
                viewer.user_id,
                Jsonb(snapshot["territory"]),
                Jsonb(snapshot["criteria"]),
                Jsonb(progress),
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        run_id = int(row[0])
        async with pconn.cursor() as c:
            await c.executemany(
                "INSERT INTO site_search_chunks (run_id, idx, communes, parcels, status) "
                "VALUES (%s, %s, %s, %s, 'pending')",
                [(run_id, i, Jsonb(codes), n) for i, (codes, n) in enumerate(chunks)],
            )
        deferrer = queue.tasks[SITE_TASK].configure(connection=pconn)
        await deferrer.batch_defer_async(
            *[{"run_id": run_id, "idx": i} for i in range(len(chunks))]
        )
    async with sessions() as session:
        return await session.get_one(SiteSearchRun, run_id)


async def _timeout(conn: Any, settings: Settings) -> None:
    await conn.execute(
        text("SELECT set_config('statement_timeout', :v, true)"),
        {"v": str(settings.site_finder.statement_timeout_ms)},
    )


def _timed_out(exc: BaseException) -> bool:
    """Whether a statement ran over its ``statement_timeout`` (no use retrying it)."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == "57014"


class ChunkBusy(Exception):
    """Another worker still holds the chunk: the task is retried later (procrastinate)."""


class _Abandoned(Exception):
    """The run was cancelled (or failed) while a chunk ran: the chunk's work is rolled back."""


_CHUNK_DONE = """
UPDATE site_search_runs SET progress = progress || jsonb_build_object(
    'chunks_done', (progress ->> 'chunks_done')::int + 1,
    'parcels_scanned', (progress ->> 'parcels_scanned')::int + :scanned,
    'sites_found', (progress ->> 'sites_found')::int + :found,
    'percent', least(99.0, round(100.0 * ((progress ->> 'parcels_scanned')::int + :scanned)
                                 / greatest((progress ->> 'parcels_total')::int, 1), 1)))
WHERE id = :run_id
"""


async def run_chunk(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    run_id: int,
    idx: int,
    *,
    last_attempt: bool = True,
) -> str:
    """A worker's part of a run: one chunk (whole communes) in one transaction — its parcels
    judged, the clusters reaching another chunk set aside, its sites assembled, scored and
    staged — committed only if the run is still going (checked under the run's row lock, so a
    cancellation never leaves a chunk's sites behind). The worker that finishes the last chunk
    merges the run. What happened: done | skipped | failed."""
    async with sessions() as session, session.begin():
        status = await session.scalar(
            text(
                "UPDATE site_search_runs SET status = 'running' "
                "WHERE id = :r AND status IN ('queued', 'running') RETURNING status"
            ),
            {"r": run_id},
        )
    if status is None:
        return "skipped"  # cancelled, failed, finished or deleted
    bounds = bounds_of(settings)
    outcome = "done"
    try:
        async with sessions() as session, session.begin():
            conn = await session.connection()
            await _timeout(conn, settings)
            # Another worker holding this chunk (a task re-queued while its first worker was
            # still alive, or killed with its transaction not yet rolled back): wait for it, up
            # to half the statement limit, then find the chunk done (it committed: only the
            # merge may be left) or pending (it rolled back: do it). Skipping a locked chunk
            # lost it when the holder was a killed worker's backend.
            await conn.execute(
                text("SELECT set_config('lock_timeout', :v, true)"),
                {"v": str(max(settings.site_finder.statement_timeout_ms // 2, 100))},
            )
            try:
                chunk = (
                    await conn.execute(
                        text(
                            "SELECT communes, status FROM site_search_chunks "
                            "WHERE run_id = :r AND idx = :i FOR UPDATE"
                        ),
                        {"r": run_id, "i": idx},
                    )
                ).one_or_none()
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != "55P03":
                    raise
                raise ChunkBusy(f"chunk {idx} of run {run_id} is still held") from exc
            await conn.execute(text("SELECT set_config('lock_timeout', '0', true)"))
            if chunk is None:
                return "skipped"  # the run was deleted
            if chunk.status != "pending":
                raise _Abandoned  # done by an earlier attempt: only the merge may be left
            run = (
                await conn.execute(
                    text("SELECT territory, criteria FROM site_search_runs WHERE id = :r"),
                    {"r": run_id},
                )
            ).one()
            criteria = CriteriaIn.model_validate(run.criteria).to_criteria()
            whole = run_territory(run.territory)
            codes = tuple(chunk.communes)
            part = (
                Territory(polygon=whole.polygon, chunk=codes)
                if whole.polygon is not None
                else Territory(communes=codes)
            )
            others = [
                c
                for (cs,) in (
                    await conn.execute(
                        text(
                            "SELECT communes FROM site_search_chunks "
                            "WHERE run_id = :r AND idx <> :i"
                        ),
                        {"r": run_id, "i": idx},
                    )
                ).all()
                for c in cs
            ]
            await conn.execute(text("SELECT set_config('lfs.chunk_started', now()::text, true)"))
            scanned = await judge_parcels(conn, part, criteria, bounds)
            edge = await set_aside_edges(conn, criteria, others, whole.polygon)
            counts, sites = await assemble_sites(
                conn, criteria, bounds, enrichment_config(settings)
            )
            counts["parcels_at_chunk_edges"] = edge
            counts.pop("sites_returned", None)
            await stage_sites(conn, run_id, idx, sites)
            # The end of the chunk, under the run's lock: a run cancelled meanwhile gets nothing.
            current = await conn.scalar(
                text("SELECT status FROM site_search_runs WHERE id = :r FOR NO KEY UPDATE"),
                {"r": run_id},
            )
            if current != "running":
                raise _Abandoned
            await conn.execute(
                text(
                    "UPDATE site_search_chunks SET status = 'done', counts = CAST(:c AS jsonb), "
                    "started_at = CAST(current_setting('lfs.chunk_started') AS timestamptz), "
                    "finished_at = clock_timestamp() WHERE run_id = :r AND idx = :i"
                ),
                {"c": orjson.dumps(counts).decode(), "r": run_id, "i": idx},
            )
            await conn.execute(
                text(_CHUNK_DONE),
                {"scanned": scanned, "found": counts["sites_found"], "run_id": run_id},
            )
    except _Abandoned:
        outcome = "skipped"
    except ChunkBusy:
        if not last_attempt:
            raise
        await fail_run(sessions, run_id, f"chunk {idx} held by another worker for too long")
        return "failed"
    except (DBAPIError, InvalidInput) as exc:
        timeout = isinstance(exc, DBAPIError) and (getattr(exc.orig, "sqlstate", None) == "57014")
        if isinstance(exc, DBAPIError) and not timeout and not last_attempt:
            raise  # procrastinate retries the chunk (its transaction left nothing)
        detail = (
            f"a statement of the run took more than "
            f"{settings.site_finder.statement_timeout_ms / 1000:g} s (chunk {idx}); choose a "
            "smaller territory or raise LFS_SITE_FINDER__STATEMENT_TIMEOUT_MS"
            if timeout
            else getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
        )
        await fail_run(sessions, run_id, detail)
        return "failed"
    except Exception as exc:
        if not last_attempt:
            raise
        await fail_run(sessions, run_id, f"{type(exc).__name__}: {exc}")
        return "failed"
    try:
        await merge_run(sessions, settings, run_id)
    except Exception as exc:
        if _timed_out(exc):
            await fail_run(
                sessions,
                run_id,
                "assembling the sites across chunk edges took more than "
                f"{settings.site_finder.statement_timeout_ms / 1000:g} s; choose a smaller "
                "territory or raise LFS_SITE_FINDER__STATEMENT_TIMEOUT_MS",
            )
            return "failed"
        if not last_attempt:
            raise  # the retried task finds its chunk done and merges again
        await fail_run(sessions, run_id, f"merge: {type(exc).__name__}: {exc}")
        return "failed"
    return outcome


_COUNT_KEYS = (
    "parcels_scanned",
    "parcels_in_active_leads",
    "parcels_plu_not_allowed",
    "parcels_at_chunk_edges",
    "sites_found",
    "removed_min_buildable_area",
    "removed_poste_distance",
    "removed_poste_capacity",
    "removed_yield",
    "removed_slope",
    "removed_north_share",
    "sites_kept",
)
_SITE_KEYS = (
    "sites_found",
    "removed_min_buildable_area",
    "removed_poste_distance",
    "removed_poste_capacity",
    "removed_yield",
    "removed_slope",
    "removed_north_share",
    "sites_kept",
)


async def merge_run(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, run_id: int
) -> bool:
    """Once every chunk is done: the clusters set aside at chunk edges assembled together (a
    site across two communes is one site), the staged sites ranked into the run's results, the
    counts summed and the coverage of the whole territory — in one transaction under the run's
    lock; only the first caller to find every chunk done does it. Whether it did."""
    async with sessions() as session, session.begin():
        conn = await session.connection()
        await _timeout(conn, settings)
        run = (
            await conn.execute(
                text(
                    "SELECT status, territory, criteria FROM site_search_runs "
                    "WHERE id = :r FOR NO KEY UPDATE"
                ),
                {"r": run_id},
            )
        ).one_or_none()
        if run is None or run.status != "running":
            return False
        chunks = (
            await conn.execute(
                text("SELECT status, counts FROM site_search_chunks WHERE run_id = :r"),
                {"r": run_id},
            )
        ).all()
        if any(c.status != "done" for c in chunks):
            return False
        criteria = CriteriaIn.model_validate(run.criteria).to_criteria()
        totals = dict.fromkeys(_COUNT_KEYS, 0)
        for c in chunks:
            for k in _COUNT_KEYS:
                totals[k] += int((c.counts or {}).get(k, 0))
        if await load_edges(conn, run_id):
            merged, sites = await assemble_sites(
                conn, criteria, bounds_of(settings), enrichment_config(settings)
            )
            for k in _SITE_KEYS:
                totals[k] += merged[k]
            await stage_sites(conn, run_id, -1, sites)
        territory = run_territory(run.territory)
        coverage, messages = await territory_coverage(conn, territory)
        if not totals["parcels_scanned"]:
            messages.append(no_parcels_message())
        totals["chunks"] = len(chunks)
        totals["sites_returned"] = await publish_sites(
            conn, run_id, settings.site_finder.max_results
        )
        await conn.execute(
            text(
                "UPDATE site_search_runs SET status = 'succeeded', counts = CAST(:c AS jsonb), "
                "coverage = CAST(:cov AS jsonb), messages = CAST(:m AS jsonb), "
                "progress = progress || jsonb_build_object('percent', 100.0, "
                "'sites_found', CAST(:found AS integer)), finished_at = clock_timestamp() "
                "WHERE id = :r"
            ),
            {
                "c": orjson.dumps(totals).decode(),
                "cov": orjson.dumps(coverage).decode(),
                "m": orjson.dumps(messages).decode(),
                "found": totals["sites_found"],
                "r": run_id,
            },
        )
    return True


async def fail_run(sessions: async_sessionmaker[AsyncSession], run_id: int, detail: str) -> None:
    """End a run as failed with its reason; what its chunks staged is dropped."""
    async with sessions() as session, session.begin():
        conn = await session.connection()
        done = await conn.scalar(
            text(
                "UPDATE site_search_runs SET status = 'failed', error = :e, "
                "finished_at = clock_timestamp() "
                "WHERE id = :r AND status IN ('queued', 'running') RETURNING id"
            ),
            {"e": detail, "r": run_id},
        )
        if done is not None:
            await discard_staged(conn, run_id)


async def cancel_run(session: AsyncSession, viewer: Viewer, search_id: int, run_id: int) -> RunOut:
    """Cancel a queued or running run: the run's row lock orders this with each chunk's end, so
    a chunk either committed before (its staged sites are dropped here) or sees the
    cancellation and rolls back; no result is ever written. 409 when it already ended."""
    run = await get_run(session, viewer, search_id, run_id)
    await session.rollback()
    async with session.begin():
        conn = await session.connection()
        done = await conn.scalar(
            text(
                "UPDATE site_search_runs SET status = 'cancelled', "
                "error = 'annulée par l''utilisateur', finished_at = clock_timestamp() "
                "WHERE id = :r AND status IN ('queued', 'running') RETURNING id"
            ),
            {"r": run_id},
        )
        if done is None:
            raise Conflict(f"run {run_id} has already ended ({run.status})", run_status=run.status)
        await discard_staged(conn, run_id)
    session.expunge_all()
    return await get_run(session, viewer, search_id, run_id)


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
"""
_SITE_FOR_UPDATE = "SELECT lead_id FROM site_search_results WHERE id = $1 FOR UPDATE"
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


def criteria_summary(criteria: dict[str, Any]) -> str:
    """The run's main criteria in one French line, for the notes of a lead made from a site."""

    def num(v: Any, unit: str) -> str:
        return "aucun" if v is None else f"{v:g} {unit}".replace(".", ",")

    cap = criteria.get("min_capacity_mw")
    cap_txt = "selon le site" if cap == "site" else num(cap, "MW")
    zones = criteria.get("excluded_zones") or {}
    plu = criteria.get("plu_allowed_types")
    plu = None if plu is None else [*plu, *(criteria.get("plu_allowed_labels") or [])]
    return (
        f"surface constructible min. {num(criteria.get('min_buildable_ha'), 'ha')}, "
        f"poste à {num(criteria.get('max_poste_distance_m'), 'm')} max. "
        f"(capacité {cap_txt}), écart {num(criteria.get('gap_m'), 'm')}, "
        f"{len(zones)} types de zones exclus, "
        f"PLU {'non vérifié' if plu is None else ', '.join(plu)}"
    )


def _json(v: Any) -> Any:
    """A jsonb value, decoded or not by the connection's codecs."""
    return orjson.loads(v) if isinstance(v, str | bytes) else v


class _Skip(Exception):
    """A site not turned into a lead, and why (its transaction is rolled back)."""

    def __init__(self, site: SkippedSite) -> None:
        super().__init__(site.detail)
        self.site = site


async def _lead_from_site(
    conn: Any,
    viewer: Viewer,
    s: _Site,
    body: LeadsFromSitesIn,
    limits: GeometryLimits,
    open_statuses: list[str],
    origin: str,
    name: str,
    snapshot: str,
) -> LeadFromSite:
    """One site → one lead, in the caller's transaction; :class:`_Skip` when it can't be."""
    lead_id = await conn.fetchval(_SITE_FOR_UPDATE, s.id)
    if lead_id is not None:
        raise _Skip(
            SkippedSite(
                rank=s.rank,
                reason="already_lead",
                detail=f"site déjà transformé en lead (#{lead_id})",
                lead_id=lead_id,
            )
        )
    await conn.fetchval(_LOCK_PARCELS, s.parcel_ids)
    busy = [r["parcel_id"] for r in await conn.fetch(_BUSY, s.parcel_ids, open_statuses)]
    if busy:
        raise _Skip(
            SkippedSite(
                rank=s.rank,
                reason="parcels_in_active_lead",
                detail=f"{len(busy)} parcelle(s) déjà dans un lead actif : {', '.join(busy[:20])}",
                parcel_ids=busy,
            )
        )
    ha = f"{s.buildable_m2 / 10_000:.2f}".replace(".", ",")
    try:
        lead = await create_lead_on(
            conn,
            viewer,
            LeadCreate(
                parcel_ids=s.parcel_ids,
                name=name,
                source=LeadSource.SITE_FINDER,
                notes=f"{origin} : {ha} ha constructibles. Critères : {snapshot}.",
                is_public=body.is_public,
                assignee_id=body.assignee_id,
            ),
            limits,
        )
    except (InvalidInput, Conflict) as exc:
        # The leads' own rules refuse this site (its geometry, a race on its parcels): reported,
        # the other sites go on.
        raise _Skip(SkippedSite(rank=s.rank, reason="refused", detail=exc.detail)) from exc
    await conn.execute("UPDATE site_search_results SET lead_id = $1 WHERE id = $2", lead.id, s.id)
    await conn.execute(BUMP_CANDIDATES)  # the map's candidates carry lead_id
    return LeadFromSite(rank=s.rank, lead_id=lead.id, internal_name=lead.internal_name)


async def leads_from_sites(
    conn: asyncpg.Connection,
    viewer: Viewer,
    search_id: int,
    search_name: str,
    run_id: int,
    criteria: dict[str, Any],
    body: LeadsFromSitesIn,
    limits: GeometryLimits,
) -> tuple[list[LeadFromSite], list[SkippedSite]]:
    """Turn sites of a run into leads (source ``site_finder``) through the leads' own creation,
    each in its own transaction, and say which were skipped and why: a site already turned into
    a lead (``already_lead``), a site with parcels now in an open lead
    (``parcels_in_active_lead``, naming them, checked under one advisory lock per parcel), or a
    site the leads' creation refuses (``refused``, its reason). An unknown rank is a 404 and a
    refused permission (``assignee_id``) a 403, before anything is made."""
    ranks = sorted(set(body.ranks))
    created: list[LeadFromSite] = []
    skipped: list[SkippedSite] = []
    open_statuses = sorted(st.value for st in OPEN_STATUSES)
    snapshot = criteria_summary(criteria)
    rows = await conn.fetch(_SITES, run_id, ranks)
    sites = [
        _Site(r["rank"], r["id"], _json(r["parcel_ids"]), r["buildable_m2"], r["lead_id"])
        for r in rows
    ]
    missing = sorted(set(ranks) - {s.rank for s in sites})
    if missing:
        raise NotFound(f"run {run_id} has no site of rank {', '.join(map(str, missing))}")
    for s in sites:
        try:
            async with conn.transaction():  # rolled back when the site is skipped
                created.append(
                    await _lead_from_site(
                        conn,
                        viewer,
                        s,
                        body,
                        limits,
                        open_statuses,
                        f"Recherche de sites « {search_name} » (#{search_id}), exécution "
                        f"#{run_id}, site n° {s.rank}",
                        f"{search_name} — site {s.rank}"[:200],
                        snapshot,
                    )
                )
        except _Skip as skip:
            skipped.append(skip.site)
    return created, skipped
