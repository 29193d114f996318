"""Leads: create, list, read, edit, assign, move in the pipeline, archive, land owners."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import numpy as np
import orjson
import shapely.geometry
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import (
    CurrentUser,
    SessionDep,
    SettingsDep,
    StateDep,
    ViewerDep,
    require_role,
)
from api.schemas.leads import (
    AssignIn,
    FoncierIn,
    FoncierOut,
    LeadCreate,
    LeadDetail,
    LeadOut,
    LeadPage,
    LeadUpdate,
    TransitionIn,
)
from api.schemas.strict import BBOX_PATTERN, DateTime, UserId
from api.schemas.text import SINGLE_LINE
from api.services import leads as svc
from api.services import site_exports as exports
from api.services.leads_detail import lead_detail_json
from api.services.leads_geometry import GeometryLimits
from api.services.leads_query import LeadFilters, SortKey, lead_json, list_page
from api.settings import Settings
from geo.errors import InvalidInput
from geo.models import LeadStatus, Role
from geo.visibility import Viewer

router = APIRouter(prefix="/leads", tags=["leads"])

LeadId = Annotated[int, Path(ge=1, le=2**62, description="Lead id")]
IfMatch = Annotated[
    str | None,
    Header(
        pattern=r'^(\*|(W/)?"[0-9]+"|[0-9]+)$',
        description='The lead\'s ETag (e.g. "3"): 412 when someone changed it meanwhile',
    ),
]
GEOJSON = "application/geo+json"
MAX_PAGE_SIZE = 200


class LeadFilterQuery(BaseModel):
    """The list filters as query parameters: one validation for all of them (FastAPI's query
    model)."""

    status: list[LeadStatus] | None = Field(
        None, description="Statuses (repeatable); ARCHIVED only when listed"
    )
    assignee_id: UserId | None = Field(None, description="Assigned user id")
    score_min: float | None = Field(
        None, ge=0, le=100, description="Lowest score (not above score_max: 422)"
    )
    score_max: float | None = Field(None, ge=0, le=100, description="Highest score")
    department: str | None = Field(
        None, pattern=r"^(\d{2}|2A|2B|97\d)$", description="Department code"
    )
    commune: str | None = Field(
        None, pattern=r"^[0-9][0-9AB][0-9]{3}$", description="Commune INSEE code"
    )
    bbox: str | None = Field(
        None,
        pattern=BBOX_PATTERN,
        description="minlon,minlat,maxlon,maxlat (WGS84; two opposite corners)",
        examples=["4.60,45.95,4.70,46.00"],
    )
    created_from: DateTime | None = Field(None, description="Created at or after (RFC 3339)")
    created_to: DateTime | None = Field(None, description="Created before (RFC 3339)")
    q: Annotated[str, StringConstraints(min_length=1, max_length=100), SINGLE_LINE] | None = Field(
        None, description="Text in name/commune/notes (one line, no control characters)"
    )


class LeadListQuery(LeadFilterQuery):
    """The list's query parameters: the filters, the sort and the page."""

    sort: SortKey = Field("-created_at", description="Sort key; '-' for descending")
    page: int = Field(1, ge=1, le=100_000, description="Page number, from 1")
    page_size: int = Field(
        50, ge=1, le=MAX_PAGE_SIZE, description=f"Leads per page (≤ {MAX_PAGE_SIZE})"
    )


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` → a checked tuple (422 when malformed)."""
    if value is None:
        return None
    try:
        parts = tuple(float(p) for p in value.split(","))
    except ValueError as exc:
        raise InvalidInput("bbox must be minlon,minlat,maxlon,maxlat (numbers)") from exc
    if len(parts) != 4:
        raise InvalidInput("bbox must have 4 numbers: minlon,minlat,maxlon,maxlat")
    lon1, lat1, lon2, lat2 = parts
    if max(abs(lon1), abs(lon2)) > 180 or max(abs(lat1), abs(lat2)) > 90:
        raise InvalidInput("bbox must be within WGS84 bounds")
    # Two opposite corners in any order: the OpenAPI pattern says what a bbox is and can't
    # order them, and either order means the same box.
    return min(lon1, lon2), min(lat1, lat2), max(lon1, lon2), max(lat1, lat2)


def _known_params(request: Request, model: type[BaseModel]) -> frozenset[str]:
    """The query parameters the matched route takes: ``model``'s fields and what the route and
    its dependencies declare besides (cached per route)."""
    route = request.scope.get("route")
    known = _KNOWN.get((id(route), model))
    if known is None:
        names = set(model.model_fields)
        stack = [getattr(route, "dependant", None)]
        while stack:
            dep = stack.pop()
            if dep is not None:
                # A query model (``model`` itself) is one declared parameter: not a name.
                declared = dep.query_params
                names.update(p.alias for p in declared if p.field_info.annotation is not model)
                stack.extend(dep.dependencies)
        known = _KNOWN[(id(route), model)] = frozenset(names)
    return known


def _reject_unknown(names: Iterable[str], request: Request, model: type[BaseModel]) -> None:
    """422 naming the query parameters the route does not take, rather than ignoring them."""
    unknown = sorted(set(names) - _known_params(request, model))
    if unknown:
        raise InvalidInput(f"unknown query parameters: {', '.join(unknown)}", unknown=unknown)


_KNOWN: dict[tuple[int, type[BaseModel]], frozenset[str]] = {}


def filters_from(p: LeadFilterQuery) -> LeadFilters:
    """The filters of validated query parameters (422 on a reversed score range or bad bbox)."""
    if p.score_min is not None and p.score_max is not None and p.score_min > p.score_max:
        raise InvalidInput("score_min is above score_max")
    return LeadFilters(
        status=tuple(dict.fromkeys(p.status or ())),
        assignee_id=p.assignee_id,
        score_min=p.score_min,
        score_max=p.score_max,
        department=p.department,
        commune=p.commune,
        bbox=parse_bbox(p.bbox),
        created_from=p.created_from,
        created_to=p.created_to,
        q=p.q,
    )


async def lead_filters(
    request: Request, params: Annotated[LeadFilterQuery, Query()]
) -> LeadFilters:
    """The list filters of the analytics and exports routes (FastAPI validates and documents
    them); an unknown query parameter is a 422 rather than silently ignored."""
    _reject_unknown(request.query_params, request, LeadFilterQuery)
    return filters_from(params)


FiltersDep = Annotated[LeadFilters, Depends(lead_filters)]


def limits_of(settings: Settings) -> GeometryLimits:
    """The geometry limits configured for leads."""
    s = settings.leads
    return GeometryLimits(
        s.min_area_m2,
        s.max_area_m2,
        s.france_bbox,
        s.max_parcels,
        s.max_polygons,
        s.max_rings,
        s.max_vertices,
        s.max_repair_crossings,
    )


def _etag(version: int) -> str:
    return f'"{version}"'


async def _respond(
    session: SessionDep,
    viewer: ViewerDep,
    lead_id: int,
    status_code: int = status.HTTP_200_OK,
    headers: dict[str, str] | None = None,
) -> Response:
    """The lead's ``LeadOut`` JSON (built by PostgreSQL, as the list's items) with its ETag."""
    content, version = await lead_json(session, viewer, lead_id)
    return Response(
        content=content,
        status_code=status_code,
        media_type="application/json",
        headers={**(headers or {}), "ETag": _etag(version)},
    )


@router.post("", response_model=LeadOut, status_code=status.HTTP_201_CREATED)
async def create_lead(
    session: SessionDep,
    viewer: ViewerDep,
    settings: SettingsDep,
    body: LeadCreate,
) -> Response:
    """Create a lead from a polygon, parcel ids or a point (ADMIN, MANAGER, OPS; one
    transaction)."""
    # The caller is a dependency: a missing or bad token is a 401 before the body's 422.
    lead = await svc.create_lead(session, viewer, body, limits_of(settings))
    await session.commit()
    location = {"Location": f"/api/leads/{lead.id}"}
    return await _respond(session, viewer, lead.id, status.HTTP_201_CREATED, location)


@router.get("", response_model=LeadPage)
async def list_leads(
    request: Request,
    state: StateDep,
    session: SessionDep,
    viewer: ViewerDep,
    params: Annotated[LeadListQuery, Query()],
) -> Response:
    """List the leads the caller may see, filtered, sorted and paged."""
    _reject_unknown(request.query_params, request, LeadListQuery)
    content = await list_page(
        session,
        state.analytics,
        viewer,
        filters_from(params),
        sort=params.sort,
        page=params.page,
        page_size=params.page_size,
    )
    return Response(content=content, media_type="application/json")


# ``:int`` on the lead's own path: /leads/export.csv is another resource (a PATCH of it is a
# 405, not an id that fails validation), and /leads/abc is no lead (404).
@router.get(
    "/{lead_id:int}",
    response_model=LeadDetail,
    responses={
        200: {
            "content": {GEOJSON: {"schema": {"type": "object"}}},
            "description": "The lead; a GeoJSON Feature with Accept: application/geo+json",
        }
    },
)
async def get_lead(
    lead_id: LeadId, request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep
) -> Response:
    """One lead with every related table, documents, comments and activity."""
    detail = await lead_detail_json(session, viewer, lead_id, state.cipher)
    headers = {"ETag": _etag(detail.version)}
    if GEOJSON in request.headers.get("accept", ""):
        props = orjson.loads(detail.body)
        geometry = props.pop("geometry")
        feature = {"type": "Feature", "id": lead_id, "geometry": geometry, "properties": props}
        return Response(content=orjson.dumps(feature), media_type=GEOJSON, headers=headers)
    return Response(content=detail.body, media_type="application/json", headers=headers)


@router.patch("/{lead_id:int}", response_model=LeadOut)
async def update_lead(
    lead_id: LeadId,
    body: LeadUpdate,
    session: SessionDep,
    user: CurrentUser,
    viewer: ViewerDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> Response:
    """Edit a lead's fields or geometry (If-Match: its ETag; 412 when stale)."""
    expected = svc.parse_if_match(if_match)
    await svc.update_lead(session, user, lead_id, body, expected, limits_of(settings))
    await session.commit()
    return await _respond(session, viewer, lead_id)


@router.delete(
    "/{lead_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=[Depends(require_role(Role.ADMIN))],
)
async def delete_lead(lead_id: LeadId, session: SessionDep, user: CurrentUser) -> Response:
    """Archive a lead (soft delete, ADMIN): it leaves the lists but keeps its history."""
    await svc.archive_lead(session, user, lead_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{lead_id}/assign",
    response_model=LeadOut,
    dependencies=[Depends(require_role(Role.ADMIN, Role.MANAGER))],
)
async def assign_lead(
    lead_id: LeadId,
    body: AssignIn,
    session: SessionDep,
    user: CurrentUser,
    viewer: ViewerDep,
) -> Response:
    """Assign the lead to a user, or unassign it (MANAGER/ADMIN)."""
    await svc.assign_lead(session, user, lead_id, body)
    await session.commit()
    return await _respond(session, viewer, lead_id)


@router.post("/{lead_id}/transition", response_model=LeadOut)
async def transition_lead(
    lead_id: LeadId,
    body: TransitionIn,
    session: SessionDep,
    user: CurrentUser,
    viewer: ViewerDep,
    if_match: IfMatch = None,
) -> Response:
    """Move the lead to another status (409 wrong state, 403 wrong role; says what is allowed)."""
    await svc.transition_lead(session, user, lead_id, body, svc.parse_if_match(if_match))
    await session.commit()
    return await _respond(session, viewer, lead_id)


@router.put(
    "/{lead_id}/foncier",
    response_model=FoncierOut,
    dependencies=[Depends(require_role(Role.ADMIN, Role.MANAGER, Role.OPS))],
)
async def put_foncier(
    lead_id: LeadId,
    body: FoncierIn,
    session: SessionDep,
    user: CurrentUser,
    viewer: ViewerDep,
    state: StateDep,
) -> FoncierOut:
    """Replace the owners (encrypted at rest) and the agreement status of a lead's land."""
    row = await svc.put_foncier(session, user, lead_id, body, state.cipher)
    await session.commit()
    return svc.foncier_out(row, viewer, state.cipher)


# A lead's main properties in its GeoJSON / KML export (the outline is the geometry).
_EXPORT_FIELDS = (
    "id",
    "internal_name",
    "name",
    "status",
    "assignee_name",
    "commune_insee",
    "commune_name",
    "department",
    "area_ha",
    "quality_score",
    "completeness",
    "updated_at",
)


def _export_properties(lead: dict[str, Any]) -> dict[str, Any]:
    area = lead.get("area_m2")
    values = {**lead, "area_ha": round(float(area) / 10_000, 2) if area is not None else None}
    return {k: values.get(k) for k in _EXPORT_FIELDS}


_LEAD_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {GEOJSON: {}, exports.MEDIA_TYPES["kml"]: {}},
        "description": "The lead's outline and main properties as a file",
    }
}


# Two fixed paths, not ``export.{fmt}``: a path parameter there would also take
# /leads/{id}/export.xlsx (the lead's workbook, api/routers/lead_reports.py) and answer 422.
@router.get("/{lead_id:int}/export.geojson", responses=_LEAD_FILE)
async def export_lead_geojson(lead_id: LeadId, session: SessionDep, viewer: ViewerDep) -> Response:
    """One lead as a GeoJSON Feature (404 for a lead one may not see)."""
    return await _export_lead(session, viewer, lead_id, "geojson")


@router.get("/{lead_id:int}/export.kml", responses=_LEAD_FILE)
async def export_lead_kml(lead_id: LeadId, session: SessionDep, viewer: ViewerDep) -> Response:
    """One lead as a KML placemark (404 for a lead one may not see)."""
    return await _export_lead(session, viewer, lead_id, "kml")


async def _export_lead(
    session: AsyncSession, viewer: Viewer, lead_id: int, fmt: Literal["geojson", "kml"]
) -> Response:
    content, _version = await lead_json(session, viewer, lead_id)
    lead = orjson.loads(content)
    props = _export_properties(lead)
    if fmt == "geojson":
        feature = {
            "type": "Feature",
            "id": lead_id,
            "geometry": lead["geometry"],
            "properties": props,
        }
        body = orjson.dumps({"type": "FeatureCollection", "features": [feature]})
    else:
        wkb = shapely.geometry.shape(lead["geometry"]).wkb
        title = lead.get("name") or lead["internal_name"]
        # GDAL's KML driver takes "name"/"description" (any case) as the placemark's own.
        extended = [k for k in _EXPORT_FIELDS if k != "name"]
        fields = ["Name", "Description", *extended]
        data = [
            np.array([f"Lead {lead_id} — {title}"], dtype=object),
            np.array(
                [f"{props['status']}, {props['commune_name'] or props['commune_insee'] or ''}"],
                dtype=object,
            ),
            *(
                np.array(["" if props[k] is None else str(props[k])], dtype=object)
                for k in extended
            ),
        ]
        body = await asyncio.to_thread(exports.write_gdal, "KML", "lead", [wkb], fields, data)
    return Response(
        body,
        media_type=GEOJSON if fmt == "geojson" else exports.MEDIA_TYPES["kml"],
        headers={"Content-Disposition": f'attachment; filename="lead-{lead_id}.{fmt}"'},
    )
