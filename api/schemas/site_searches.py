"""Site finder request and response models (docs/site-finder.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas.leads import Geometry, Insee, Name
from api.schemas.patch import omittable
from api.schemas.strict import RowId
from enrichment.site_finder import (
    DEFAULT_EXCLUDED_ZONES,
    DEFAULT_MAX_NORTH_SHARE,
    DEFAULT_MAX_SLOPE_PCT,
    DEFAULT_MIN_YIELD,
    DEFAULT_PLU_LABELS,
    DEFAULT_PLU_TYPES,
    SiteCriteria,
)
from geo.models import EnvZoneType, UrbanZoneType

Departement = Annotated[str, StringConstraints(pattern=r"^(\d{2}|2A|2B)$")]
PluLabel = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,15}$")]
Buffer = Annotated[float, Field(ge=0, le=1000)]


class TerritoryIn(BaseModel):
    """Where to search: communes, départements, or a drawn polygon — exactly one."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"communes": ["69114"]}]}
    )

    communes: Annotated[list[Insee], Field(min_length=1, max_length=200)] | None = Field(
        None, description="INSEE codes (the parcels' cadastral commune)"
    )
    departements: Annotated[list[Departement], Field(min_length=1, max_length=3)] | None = Field(
        None, description="Département codes (metropolitan France)"
    )
    polygon: Geometry | None = Field(
        None, description="GeoJSON (Multi)Polygon, EPSG:4326, bounded like a lead's geometry"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> TerritoryIn:
        given = [x for x in (self.communes, self.departements, self.polygon) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of communes, departements or polygon")
        return self


class CriteriaIn(BaseModel):
    """Each criterion optional (null switches it off); defaults are DOMAIN.md's figures."""

    model_config = ConfigDict(extra="forbid")

    gap_m: float = Field(
        5.0, ge=0, le=50, description="Parcels this close (m) form one site (a path, a ditch)"
    )
    min_buildable_ha: float | None = Field(
        5.0, ge=0, le=10_000, description="Smallest buildable area (ha); target ≥ 5, floor 2–3"
    )
    max_poste_distance_m: float | None = Field(
        5_000.0, gt=0, le=30_000, description="Farthest poste source from the site's centroid (m)"
    )
    min_capacity_mw: Annotated[float, Field(ge=0, le=10_000)] | Literal["site"] | None = Field(
        "site",
        description="Capacity still available at the poste (MW); 'site': the site's estimated "
        "MWc (buildable ha ÷ ha per MWc); null: any",
    )
    excluded_zones: dict[EnvZoneType, Buffer] | None = Field(
        default_factory=lambda: {EnvZoneType(k): v for k, v in DEFAULT_EXCLUDED_ZONES.items()},
        description="Zone types removed from the buildable area, with a buffer (m) each; "
        "default: the hard exclusions with 50 m",
    )
    plu_allowed_types: list[UrbanZoneType] | None = Field(
        [UrbanZoneType(t) for t in DEFAULT_PLU_TYPES],
        description="PLU zone types allowed whole ([] by default: by label only); null: PLU "
        "not checked",
    )
    plu_allowed_labels: Annotated[list[PluLabel], Field(max_length=50)] = Field(
        list(DEFAULT_PLU_LABELS),
        description="PLU sectors and zones allowed by label besides the types (Npv, Ui…; "
        "case and digits on either side ignored: 1AUi = AUi)",
    )
    plu_unknown_passes: bool = Field(
        True, description="Whether parcels under no PLU zone (carte communale, RNU) pass"
    )
    exclude_active_leads: bool = Field(True, description="Leave out parcels in an open lead")
    max_slope_pct: float | None = Field(
        DEFAULT_MAX_SLOPE_PCT,
        ge=0,
        le=100,
        description="Steepest mean slope (%) of the buildable area where a terrain model "
        "covers the site (else données absentes); DOMAIN.md: > 15 % poor",
    )
    max_north_share: float | None = Field(
        DEFAULT_MAX_NORTH_SHARE,
        ge=0,
        le=100,
        description="Largest share (%) of the buildable area facing north (downhill within "
        "±45° of north, slope > 2 %) where a terrain model covers the site",
    )

    min_specific_yield: float | None = Field(
        DEFAULT_MIN_YIELD,
        ge=500,
        le=2_000,
        description="Smallest specific yield (kWh/kWc/an) at the site's centroid: the PVGIS "
        "answer cached for its 0.05° cell, else the offline estimate (labelled); DOMAIN.md: "
        "≥ 1,100",
    )

    def to_criteria(self) -> SiteCriteria:
        """The engine's criteria."""
        zones = self.excluded_zones or {}
        return SiteCriteria(
            gap_m=self.gap_m,
            min_buildable_ha=self.min_buildable_ha,
            max_poste_distance_m=self.max_poste_distance_m,
            min_capacity_mw=self.min_capacity_mw,
            excluded_zones={str(k.value): float(v) for k, v in zones.items()},
            plu_allowed_types=tuple(t.value for t in self.plu_allowed_types)
            if self.plu_allowed_types is not None
            else None,
            plu_allowed_labels=tuple(self.plu_allowed_labels),
            plu_unknown_passes=self.plu_unknown_passes,
            exclude_active_leads=self.exclude_active_leads,
            max_slope_pct=self.max_slope_pct,
            max_north_share=self.max_north_share,
            min_specific_yield=self.min_specific_yield,
        )


class SiteSearchIn(BaseModel):
    """A new search."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Terres-de-Bord 5 ha", "territory": {"communes": ["69114"]}}]
        },
    )

    name: Annotated[Name, StringConstraints(min_length=1)]
    territory: TerritoryIn
    criteria: CriteriaIn = Field(default_factory=CriteriaIn)


class SiteSearchUpdate(BaseModel):
    """Fields to change (send only those)."""

    model_config = ConfigDict(extra="forbid")

    # Columns that can't be null: left out = unchanged, null = 422 (api.schemas.patch).
    name: Annotated[Name, StringConstraints(min_length=1)] = omittable()
    territory: TerritoryIn = omittable()
    criteria: CriteriaIn = omittable()


class SiteSearchOut(BaseModel):
    """A saved search."""

    id: int
    name: str
    owner_id: int | None
    territory: dict[str, Any]
    criteria: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SiteSearchPage(BaseModel):
    """Searches visible to the caller, newest first."""

    items: list[SiteSearchOut]


class RunOut(BaseModel):
    """A run: the exact territory and criteria it ran with, its progress, counts and coverage."""

    id: int
    search_id: int
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    territory: dict[str, Any]
    criteria: dict[str, Any]
    counts: dict[str, int] | None
    coverage: dict[str, str] | None = Field(
        None, description="Per layer over the territory: covered | partial | absent"
    )
    messages: list[str] | None
    error: str | None
    progress: dict[str, Any] | None = Field(
        None,
        description="chunks_total, chunks_done, parcels_total, parcels_scanned, sites_found, "
        "percent (100 once the results are written)",
    )
    started_at: datetime
    finished_at: datetime | None


class SiteOut(BaseModel):
    """A candidate site of a run, ranked."""

    id: int
    rank: int
    parcel_ids: list[str]
    area_m2: float
    buildable_m2: float
    score: float
    completeness: float
    facts: dict[str, Any] = Field(
        description="parcel_count, estimated_mwc, excluded_zones, postes (with distance_m), "
        "chosen_poste, verdicts (per criterion: pass | absent | off, reason), breakdown"
    )
    lead_id: int | None
    geometry: dict[str, Any] | None = None


class SitePage(BaseModel):
    """A page of a run's sites, by rank."""

    items: list[SiteOut]
    total: int
    page: int
    page_size: int


class LeadsFromSitesIn(BaseModel):
    """Sites of a run to turn into leads, one transaction each."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ranks": [1, 2]}]})

    ranks: Annotated[list[Annotated[int, Field(ge=1, le=100_000)]], Field(min_length=1)] = Field(
        max_length=50, description="Ranks of the run's sites"
    )
    is_public: bool = False
    assignee_id: RowId | None = Field(None, description="MANAGER/ADMIN only; OPS get the leads")
    enrich: bool = Field(True, description="Queue the new leads' enrichment (one batch job)")


class LeadFromSite(BaseModel):
    """A lead made from a site."""

    rank: int
    lead_id: int
    internal_name: str


class SkippedSite(BaseModel):
    """A site not turned into a lead, and why."""

    rank: int
    reason: Literal["already_lead", "parcels_in_active_lead", "refused"] = Field(
        description="already_lead: the site is already a lead; parcels_in_active_lead: some of "
        "its parcels are now in an open lead (parcel_ids); refused: the leads' rules refused it"
    )
    detail: str
    parcel_ids: list[str] | None = None
    lead_id: int | None = None


class LeadsFromSitesOut(BaseModel):
    """The leads made, one per site, and the sites skipped with their reason."""

    created: list[LeadFromSite]
    skipped: list[SkippedSite] = Field(default_factory=list)
    enrichment_job_id: int | None = Field(
        None, description="The batch enrichment job of the new leads (GET /enrichment/jobs/{id})"
    )
