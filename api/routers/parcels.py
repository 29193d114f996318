"""A selection of parcels before it is a lead: ``/api/parcels/constraints`` and its export."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep, ViewerDep, get_current_user
from api.schemas.parcels import ParcelSelection, SelectionConstraints
from api.services import parcels_selection as svc
from api.services import site_exports

router = APIRouter(prefix="/parcels", tags=["reference"], dependencies=[Depends(get_current_user)])

_FILE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/geo+json": {}, site_exports.MEDIA_TYPES["kml"]: {}}},
    422: {"description": "Unknown parcel ids (listed in `missing`) or a malformed body"},
}


@router.post("/constraints", response_model=SelectionConstraints)
async def selection_constraints(
    body: ParcelSelection, session: SessionDep, viewer: ViewerDep, settings: SettingsDep
) -> SelectionConstraints:
    """Protected zones and PLU zones the selection touches, the nearest poste source, the active
    leads already holding its parcels and its total area; "données absentes" where a layer has no
    data for it. A 422 lists the parcel ids that do not exist."""
    radius = settings.enrichment.grid_radius_m
    return SelectionConstraints(**await svc.constraints(session, body.parcel_ids, viewer, radius))


@router.post("/export.geojson", responses=_FILE)
async def export_selection_geojson(body: ParcelSelection, session: SessionDep) -> Response:
    """The selected parcels as a GeoJSON FeatureCollection (for QGIS)."""
    rows = await svc.export_rows(session, body.parcel_ids)
    return Response(
        svc.to_geojson(rows),
        media_type="application/geo+json",
        headers={"Content-Disposition": 'attachment; filename="selection.geojson"'},
    )


@router.post("/export.kml", responses=_FILE)
async def export_selection_kml(body: ParcelSelection, session: SessionDep) -> Response:
    """The selected parcels as KML placemarks (for Google Earth), named by their reference."""
    rows = await svc.export_rows(session, body.parcel_ids)
    content = await asyncio.to_thread(svc.to_kml, rows)
    return Response(
        content,
        media_type=site_exports.MEDIA_TYPES["kml"],
        headers={"Content-Disposition": 'attachment; filename="selection.kml"'},
    )
