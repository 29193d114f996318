"""Reference-layer models: imports, search hits, parcel features, layer summaries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ImportOut(BaseModel):
    """One run of an importer: file, checksum, counts and the first rejections."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    layer: str
    file_name: str
    checksum: str
    status: str
    read_count: int
    inserted_count: int
    updated_count: int
    unchanged_count: int
    repaired_count: int
    rejected_count: int
    rejections: list[dict[str, Any]] | None = None
    data_date: date | None = None
    started_at: datetime
    finished_at: datetime | None = None


class ImportPage(BaseModel):
    """A page of imports, newest first."""

    items: list[ImportOut]
    total: int
    page: int
    page_size: int


class SearchHit(BaseModel):
    """A commune, a parcel or an address matching the search, with where to zoom."""

    kind: Literal["commune", "parcel", "address"]
    id: str
    label: str
    bbox: list[float] = Field(description="[minlon, minlat, maxlon, maxlat]")
    center: list[float] = Field(description="[lon, lat], a point inside the feature")
    source: str
    # An address (the geocoder's answer, BAN protocol): its kind and where it is.
    score: float | None = Field(None, description="Address: the geocoder's score (0–1)")
    type: str | None = Field(
        None, description="Address: housenumber, street, locality or municipality"
    )
    city: str | None = None
    postcode: str | None = None
    citycode: str | None = Field(None, description="Address: INSEE code of its commune")
    context: str | None = Field(None, description="Address: département, région")


class SearchWarning(BaseModel):
    """A part of the search that could not answer (the other hits are still given)."""

    code: Literal["geocoder.unavailable", "geocoder.timeout"]
    message: str = Field(description="In French, for the user")


class SearchResult(BaseModel):
    """Search hits: communes first, then parcels, then addresses (when a geocoder is set)."""

    items: list[SearchHit]
    warnings: list[SearchWarning] = Field(default_factory=list)


class Basemap(BaseModel):
    """A basemap under the data layers: raster tiles from an XYZ/WMTS URL template, or a
    MapLibre style (vector tiles) whose sources and layers go under ours."""

    key: str
    label: str = Field(description="French name in the switcher (Plan, Photo…)")
    kind: Literal["plan", "photo"]
    type: Literal["raster", "style"]
    url: str = Field(description="Tile URL template with {z}, {x}, {y}, or a style JSON's URL")
    origins: list[str] = Field(description="Other origins it loads from (in the CSP)")
    tile_size: int
    max_zoom: int
    attribution: str


class BasemapList(BaseModel):
    """The basemaps offered (empty: none configured) and the one shown at opening."""

    items: list[Basemap]
    default: str | None


class ParcelLead(BaseModel):
    """An active lead that holds a parcel (more than 1 m² of it)."""

    id: int
    internal_name: str
    name: str | None = None
    status: str


class ParcelProperties(BaseModel):
    """Facts of a cadastral parcel."""

    id: str
    commune: str
    commune_name: str | None = None
    prefixe: str
    section: str
    numero: str
    contenance_m2: int | None = Field(None, description="Declared area (cadastre), m²")
    area_m2: float | None = Field(None, description="Measured area on the ellipsoid, m²")
    source: str
    source_updated: date | None = None
    import_id: int | None = None
    leads: list[ParcelLead] = Field(
        [], description="The active leads holding this parcel that the caller may see"
    )
    hidden_leads: int = Field(
        0, description="How many other active leads hold it (not visible to the caller)"
    )


class ParcelFeature(BaseModel):
    """A parcel as a GeoJSON Feature (geometry in EPSG:4326)."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    bbox: list[float]
    properties: ParcelProperties


class LayerSummary(BaseModel):
    """Rows of a reference layer by source, its data version and its last import."""

    layer: str
    count: int
    sources: dict[str, int]
    version: int
    last_import_at: datetime | None = None


class LayerList(BaseModel):
    """Every reference layer."""

    items: list[LayerSummary]


class CoverageProperties(BaseModel):
    """Where one import made its layer complete."""

    import_id: int
    layer: str
    file_name: str
    method: Literal["file", "declared"] = Field(
        description="file: derived from the file itself; declared: --coverage at import"
    )
    kind: str = Field(description="communes, departements, regions or file")
    codes: list[str] = Field(description="INSEE codes, département codes or region names")
    area_km2: float
    created_at: datetime


class CoverageFeature(BaseModel):
    """A coverage as a GeoJSON Feature (geometry simplified to ~100 m, EPSG:4326)."""

    type: Literal["Feature"] = "Feature"
    id: int
    geometry: dict[str, Any]
    properties: CoverageProperties


class CoverageCollection(BaseModel):
    """The coverages of the reference layers, newest import first, and per layer its total."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[CoverageFeature]
    layers: dict[str, float] = Field(
        description="per layer: covered km² (imports' coverages merged); a layer absent here "
        "has no coverage: its data counts as absent everywhere"
    )


class CoverageMask(BaseModel):
    """Where a layer's data is absent: a GeoJSON Feature (null geometry when covered everywhere
    or loaded without the importer), for the map's hatched "données absentes" mask."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] | None
    properties: dict[str, str]


class MapLayerStyle(BaseModel):
    """How the web map draws a layer it has no dedicated paint for."""

    kind: str = Field(description="MapLibre layer type: fill, line or circle.")
    color: str
    z: int = Field(description="Drawing order, bottom (low) to top.")


class MapLayer(BaseModel):
    """One layer of the map (tiles/layers.py): what the web switcher and style read."""

    name: str = Field(description="Tile and OGC collection name.")
    label: str = Field(description="French label.")
    geometry_type: str
    minzoom: int = Field(description="Tiles are served from this zoom.")
    maxzoom: int = Field(description="Clients overzoom beyond it.")
    reference: bool = Field(description="Open reference data (false: the leads).")
    factor: bool = Field(description="Read by the enrichment: has a coverage mask.")
    style: MapLayerStyle
    visible: bool = Field(description="Shown when the map opens.")
    description: str


class MapLayerList(BaseModel):
    """Every map layer, in the registry's order."""

    items: list[MapLayer]
