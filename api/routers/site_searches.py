"""The site finder: saved searches, their runs, the ranked sites and sites → leads."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep, StateDep, ViewerDep
from api.routers.enrichment import queue_of
from api.routers.leads import limits_of
from api.schemas.site_searches import (
    CriteriaIn,
    LeadsFromSitesIn,
    LeadsFromSitesOut,
    RunOut,
    SitePage,
    SiteSearchIn,
    SiteSearchOut,
    SiteSearchPage,
    SiteSearchUpdate,
)
from api.services import site_exports as exports
from api.services import site_searches as svc
from api.services.enrichment import enrichment_config
from api.services.leads_geometry import driver_connection
from enrichment.criteria import describe, site_criteria
from geo.errors import Conflict
from geo.models import EnvZoneType, UrbanZoneType

router = APIRouter(prefix="/site-searches", tags=["site finder"])

SearchId = Annotated[int, Path(ge=1, le=2**62, description="Site search id")]
RunId = Annotated[int, Path(ge=1, le=2**62, description="Run id")]


@router.post("", response_model=SiteSearchOut, status_code=status.HTTP_201_CREATED)
async def create_search(
    body: SiteSearchIn,
    session: SessionDep,
    viewer: ViewerDep,
    settings: SettingsDep,
    response: Response,
) -> SiteSearchOut:
    """Save a search (OPS, MANAGER, ADMIN); the caller owns it."""
    s = await svc.create_search(session, viewer, body, limits_of(settings))
    response.headers["Location"] = f"/api/site-searches/{s.id}"
    return svc.search_out(s)


class SearchDefaults(BaseModel):
    """What a new search starts from: the criteria's defaults and the values they can take."""

    criteria: dict[str, Any] = Field(description="CriteriaIn with every default (null = off)")
    zone_types: list[str] = Field(description="Protected-zone types excluded_zones may name")
    plu_types: list[str] = Field(description="PLU zone types plu_allowed_types may name")
    max_communes: int = Field(200, description="Most INSEE codes in a territory")
    max_departements: int = Field(3, description="Most départements in a territory")
    max_ranks: int = Field(50, description="Most sites turned into leads in one request")
    max_results: int = Field(description="Most sites a run keeps (LFS_SITE_FINDER__MAX_RESULTS)")
    score_criteria: list[dict[str, Any]] = Field(
        description="What a site's score is made of, in order: the leads' criteria registry "
        "(GET /api/reference/criteria) and the site-only ones (terrain), with their weights"
    )


@router.get("/defaults", response_model=SearchDefaults)
async def search_defaults(viewer: ViewerDep, settings: SettingsDep) -> SearchDefaults:
    """The criteria a search gets when it leaves them out, for a form to start from."""
    svc.check_prospector(viewer)
    return SearchDefaults(
        criteria=CriteriaIn().model_dump(mode="json"),
        zone_types=[t.value for t in EnvZoneType],
        plu_types=[t.value for t in UrbanZoneType],
        max_results=settings.site_finder.max_results,
        score_criteria=describe(
            {k: c.weight for k, c in site_criteria().items()}
            | enrichment_config(settings).score.weights,
            site_criteria(),
        ),
    )


@router.get("", response_model=SiteSearchPage)
async def list_searches(session: SessionDep, viewer: ViewerDep) -> SiteSearchPage:
    """The searches the caller may see (OPS their own; MANAGER and ADMIN all), newest first."""
    return SiteSearchPage(
        items=[svc.search_out(s) for s in await svc.list_searches(session, viewer)]
    )


@router.get("/{search_id}", response_model=SiteSearchOut)
async def get_search(search_id: SearchId, session: SessionDep, viewer: ViewerDep) -> SiteSearchOut:
    """One search."""
    return svc.search_out(await svc.get_search(session, viewer, search_id))


@router.patch("/{search_id}", response_model=SiteSearchOut)
async def update_search(
    search_id: SearchId,
    body: SiteSearchUpdate,
    session: SessionDep,
    viewer: ViewerDep,
    settings: SettingsDep,
) -> SiteSearchOut:
    """Rename a search or change its territory or criteria (past runs are kept as they ran)."""
    s = await svc.update_search(session, viewer, search_id, body, limits_of(settings))
    return svc.search_out(s)


@router.delete("/{search_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_search(search_id: SearchId, session: SessionDep, viewer: ViewerDep) -> Response:
    """Delete a search, its runs and their sites (leads made from them stay)."""
    await svc.delete_search(session, viewer, search_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{search_id}/runs", response_model=RunOut, status_code=status.HTTP_202_ACCEPTED)
async def run_search(
    search_id: SearchId, state: StateDep, viewer: ViewerDep, response: Response
) -> RunOut:
    """Queue a run (a background job in chunks of communes that workers share); poll the run
    at Location for its status and progress."""
    limits = limits_of(state.settings)
    run = await svc.start_run(
        state.sessions, await queue_of(state), viewer, search_id, state.settings, limits
    )
    response.headers["Location"] = f"/api/site-searches/{search_id}/runs/{run.id}"
    return svc.run_out(run)


@router.post("/{search_id}/runs/{run_id}/cancel", response_model=RunOut)
async def cancel_run(
    search_id: SearchId, run_id: RunId, session: SessionDep, viewer: ViewerDep
) -> RunOut:
    """Cancel a queued or running run: it ends ``cancelled`` with no results (409 if it has
    already ended)."""
    return await svc.cancel_run(session, viewer, search_id, run_id)


@router.get("/{search_id}/runs", response_model=list[RunOut])
async def list_runs(search_id: SearchId, session: SessionDep, viewer: ViewerDep) -> list[RunOut]:
    """The search's runs, newest first."""
    return await svc.list_runs(session, viewer, search_id)


@router.get("/{search_id}/runs/{run_id}", response_model=RunOut)
async def get_run(
    search_id: SearchId, run_id: RunId, session: SessionDep, viewer: ViewerDep
) -> RunOut:
    """A run: the criteria it ran with, its counts by reason and the layers' coverage."""
    return await svc.get_run(session, viewer, search_id, run_id)


@router.get("/{search_id}/runs/{run_id}/sites", response_model=SitePage)
async def list_sites(
    search_id: SearchId,
    run_id: RunId,
    session: SessionDep,
    viewer: ViewerDep,
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=200, description="Sites per page")] = 50,
    geometry: Annotated[bool, Query(description="Include each site's GeoJSON geometry")] = False,
    sort: Annotated[
        svc.SiteSort,
        Query(description="rank (score), largest buildable or total area, nearest poste"),
    ] = "rank",
) -> SitePage:
    """The run's sites by rank, each with its parcels, surfaces, poste and verdicts."""
    return await svc.list_sites(session, viewer, search_id, run_id, page, page_size, geometry, sort)


@router.get(
    "/{search_id}/runs/{run_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The run's sites as a file",
            "content": {t: {} for t in exports.MEDIA_TYPES.values()},
        }
    },
)
async def export_sites(
    search_id: SearchId,
    run_id: RunId,
    session: SessionDep,
    viewer: ViewerDep,
    format: Annotated[
        exports.ExportFormat,
        Query(description="gpkg (QGIS), geojson, kml (Google Earth), csv (;-separated, Excel)"),
    ] = "geojson",
) -> Response:
    """A finished run's sites, by rank, with their outline, score, surfaces, poste and verdicts
    (CSV: a point of each site instead of its outline); 409 while the run has not succeeded."""
    run = await svc.get_run(session, viewer, search_id, run_id)
    if run.status != "succeeded":
        raise Conflict(f"run {run_id} is {run.status}: no sites to export", run_status=run.status)
    search = await svc.get_search(session, viewer, search_id)
    rows = await exports.run_rows(session, run_id)
    if format == "geojson":
        meta = {
            "search": {"id": search_id, "name": search.name},
            "run": run.model_dump(mode="json", include={"id", "criteria", "counts", "coverage"}),
            "messages": run.messages or [],
        }
        body = exports.to_geojson(rows, meta)
    elif format == "csv":
        body = exports.to_csv(rows)
    else:
        driver: Literal["GPKG", "KML"] = "GPKG" if format == "gpkg" else "KML"
        body = await asyncio.to_thread(exports.to_gdal, rows, driver, "candidates")
    name = f"recherche-{search_id}-execution-{run_id}.{format}"
    return Response(
        body,
        media_type=exports.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/{search_id}/runs/{run_id}/leads",
    response_model=LeadsFromSitesOut,
    status_code=status.HTTP_201_CREATED,
)
async def leads_from_sites(
    search_id: SearchId,
    run_id: RunId,
    body: LeadsFromSitesIn,
    session: SessionDep,
    viewer: ViewerDep,
    state: StateDep,
    response: Response,
) -> LeadsFromSitesOut:
    """Turn sites into leads (source site_finder), one transaction each, then queue their
    enrichment; sites already leads or with parcels now in an open lead are skipped and
    reported (201 when a lead was made, 200 when every site was skipped)."""
    run = await svc.get_run(session, viewer, search_id, run_id)
    name = (await svc.get_search(session, viewer, search_id)).name
    await session.rollback()  # nothing held: each lead is made in its own transaction
    conn = await driver_connection(session)
    created, skipped = await svc.leads_from_sites(
        conn, viewer, search_id, name, run_id, run.criteria, body, limits_of(state.settings)
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    job_id = None
    if body.enrich and created:
        # After the leads' commit, on the queue's own connection (procrastinate, psycopg): a
        # failure here leaves leads to enrich by hand, never a lead half made.
        from api.queue import create_batch

        ids = [c.lead_id for c in created]
        chunk = state.settings.enrichment.task_chunk
        job_id = await create_batch(await queue_of(state), ids, viewer.user_id, chunk)
    return LeadsFromSitesOut(created=created, skipped=skipped, enrichment_job_id=job_id)
