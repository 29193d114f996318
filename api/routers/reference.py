"""Reference geodata: imports, search (communes, parcels), parcel facts, layer summaries."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.deps import SessionDep, SettingsDep, StateDep, ViewerDep, get_current_user
from api.schemas.enrichment import CriterionInfo, CriterionList
from api.schemas.reference import (
    BasemapList,
    CoverageCollection,
    CoverageMask,
    ImportOut,
    ImportPage,
    LayerList,
    LayerSummary,
    MapLayer,
    MapLayerList,
    ParcelFeature,
    SearchHit,
    SearchResult,
    SearchWarning,
)
from api.schemas.strict import Page
from api.services import reference as svc
from api.services.basemaps import basemaps
from api.services.enrichment import enrichment_config
from api.services.geocoder import GeocoderError, geocode
from enrichment.criteria import describe
from tiles.layers import LAYERS, factor_layers, imported_layers
from tiles.layers import describe as describe_layer

router = APIRouter(
    prefix="/reference",
    tags=["reference"],
    dependencies=[Depends(get_current_user)],
)

# Layer names are checked against the registry (tiles.layers) by the service: a 422 lists them.
LayerName = Annotated[
    str | None,
    Query(
        max_length=64,
        description="Only this imported reference layer ("
        + ", ".join(la.name for la in imported_layers())
        + ")",
    ),
]


@router.get("/imports", response_model=ImportPage)
async def list_imports(
    session: SessionDep,
    layer: LayerName = None,
    page: Annotated[Page, Query(description="Page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=200, description="Imports per page")] = 50,
) -> ImportPage:
    """List the imports of reference files, newest first."""
    rows, total = await svc.list_imports(session, page, page_size, layer)
    return ImportPage(
        items=[ImportOut.model_validate(r) for r in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.get("/search", response_model=SearchResult)
async def search(
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[
        str,
        Query(
            min_length=2,
            max_length=100,
            description=(
                "Commune name prefix, INSEE code, parcel id prefix, cadastral reference"
                " (AN 63, 0A0285, 69114 AN 63) or an address (with a geocoder configured)"
            ),
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=50, description="Maximum communes and parcels")] = 10,
) -> SearchResult:
    """Find communes (by name or INSEE code) and parcels (by id prefix or reference), then
    addresses from the geocoder when one is configured (``LFS_GEOCODER__BASE_URL``, at most
    ``LFS_GEOCODER__LIMIT`` more hits). A geocoder that fails or times out adds a warning
    instead of the addresses: the search still answers."""
    config = settings.geocoder
    task = None
    if config.base_url and len(q.strip()) >= 3:  # the BAN protocol wants 3 characters or more
        task = asyncio.create_task(geocode(config, q.strip()))
    try:
        hits = await svc.search(session, q, limit)
    except BaseException:
        if task is not None:
            task.cancel()
        raise
    warnings: list[SearchWarning] = []
    if task is not None:
        try:
            hits += await task
        except GeocoderError as exc:
            warnings.append(SearchWarning(code=exc.code, message=exc.message))
    return SearchResult(items=[SearchHit(**h) for h in hits], warnings=warnings)


@router.get("/parcels/{parcel_id}", response_model=ParcelFeature)
async def get_parcel(
    session: SessionDep,
    viewer: ViewerDep,
    parcel_id: Annotated[
        str, Path(min_length=14, max_length=14, description="14-character cadastral id")
    ],
) -> ParcelFeature:
    """Facts of one parcel as a GeoJSON Feature, with the active leads that hold it."""
    return ParcelFeature(**await svc.parcel_feature(session, parcel_id, viewer))


@router.get("/layers", response_model=LayerList)
async def list_layers(session: SessionDep) -> LayerList:
    """Row counts by source, data version and last import of every reference layer."""
    return LayerList(items=[LayerSummary(**s) for s in await svc.layer_summaries(session)])


@router.get("/coverage", response_model=CoverageCollection)
async def list_coverage(session: SessionDep, layer: LayerName = None) -> CoverageCollection:
    """Where each import made its layer complete (GeoJSON); outside, the data is absent."""
    return CoverageCollection(**await svc.coverage(session, layer))


@router.get("/coverage/mask", response_model=CoverageMask)
async def coverage_mask(
    session: SessionDep,
    layer: Annotated[
        str,
        Query(
            max_length=64,
            description="The factor's layer whose missing data to draw ("
            + ", ".join(la.name for la in factor_layers())
            + ")",
        ),
    ],
) -> CoverageMask:
    """Where a layer has no data in metropolitan France: the map's "données absentes" mask."""
    return CoverageMask(**await svc.coverage_mask(session, layer))


@router.get("/criteria", response_model=CriterionList)
async def list_criteria(state: StateDep) -> CriterionList:
    """The quality score's criteria: key, French label, configured weight, unit, in order."""
    weights = enrichment_config(state.settings).score.weights
    return CriterionList(items=[CriterionInfo(**c) for c in describe(weights)])


@router.get("/basemaps", response_model=BasemapList)
async def list_basemaps(settings: SettingsDep) -> BasemapList:
    """The basemaps the map offers under the data layers (raster XYZ/WMTS templates: the IGN
    Géoplateforme's Plan IGN and orthophotos by default, Mapbox's with a public token) and the
    one shown at opening; an empty list when none is configured."""
    return BasemapList(**basemaps(settings))


@router.get("/map-layers", response_model=MapLayerList)
async def list_map_layers() -> MapLayerList:
    """The map's layers: French label, zoom range, geometry and style hints (tiles registry)."""
    return MapLayerList(items=[MapLayer(**describe_layer(la)) for la in LAYERS.values()])
