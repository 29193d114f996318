"""Lead request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas.patch import omittable
from api.schemas.strict import UserId
from api.schemas.text import MULTI_LINE, SINGLE_LINE
from geo.models import AgreementStatus, LeadSource, LeadStatus

Position = Annotated[list[float], Field(min_length=2, max_length=3)]
Ring = Annotated[list[Position], Field(min_length=4)]
ParcelId = Annotated[
    str, StringConstraints(pattern=r"^[0-9][0-9AB][0-9]{3}[0-9A-Z]{3}[0-9A-Z]{2}[0-9]{4}$")
]
# Free text: names on one line, notes on several; no control characters (api.schemas.text).
Name = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True), SINGLE_LINE]
Notes = Annotated[str, StringConstraints(max_length=10_000), MULTI_LINE]
Insee = Annotated[str, StringConstraints(pattern=r"^[0-9][0-9AB][0-9]{3}$")]

_SQUARE: list[Any] = [[4.6512, 45.9768], [4.6543, 45.9763], [4.6538, 45.9751], [4.6512, 45.9768]]


class PolygonGeometry(BaseModel):
    """A GeoJSON Polygon in WGS84 (lon, lat)."""

    type: Literal["Polygon"]
    coordinates: Annotated[list[Ring], Field(min_length=1, max_length=1000)]


class MultiPolygonGeometry(BaseModel):
    """A GeoJSON MultiPolygon in WGS84 (lon, lat)."""

    type: Literal["MultiPolygon"]
    coordinates: Annotated[
        list[Annotated[list[Ring], Field(min_length=1)]], Field(min_length=1, max_length=1000)
    ]


Geometry = Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]


class LatLon(BaseModel):
    """A WGS84 position."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class LeadCreate(BaseModel):
    """A new lead: exactly one of ``geometry``, ``parcel_ids`` or ``point``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "parcel_ids": ["69114000AA0030", "69114000AA0022"],
                    "name": "Les Grandes Terres",
                    "source": "map",
                    "notes": "friche agricole",
                },
                {"geometry": {"type": "Polygon", "coordinates": [_SQUARE]}, "name": "Site A"},
                {"point": {"lat": 45.9757, "lon": 4.6538}},
            ]
        },
    )

    geometry: Geometry | None = Field(None, description="GeoJSON (Multi)Polygon, EPSG:4326")
    parcel_ids: Annotated[list[ParcelId], Field(min_length=1)] | None = Field(
        None, description="Cadastral parcel ids; the lead is their union"
    )
    point: LatLon | None = Field(None, description="A position: the lead is the parcel under it")
    repair: bool = Field(
        False, description="Accept an invalid geometry repaired by ST_MakeValid instead of a 422"
    )
    name: Name | None = None
    commune_insee: Insee | None = Field(
        None, description="Used when the communes layer can't derive the commune"
    )
    source: LeadSource = LeadSource.MAP
    notes: Notes | None = None
    is_public: bool = False
    assignee_id: UserId | None = Field(None, description="MANAGER/ADMIN only; OPS get the lead")
    allow_duplicate: bool = Field(
        False,
        description="Create the lead even though a parcel is already in an active lead "
        "(otherwise 409 lead.parcels_taken), or a drawn outline overlaps one (otherwise 409 "
        "lead.overlaps); needs duplicate_reason, logged in the activity",
    )
    duplicate_reason: Annotated[str, StringConstraints(max_length=2000), MULTI_LINE] | None = None

    @model_validator(mode="after")
    def _exactly_one_shape(self) -> LeadCreate:
        given = [x for x in (self.geometry, self.parcel_ids, self.point) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of geometry, parcel_ids or point")
        if self.allow_duplicate and not (self.duplicate_reason and self.duplicate_reason.strip()):
            raise ValueError("allow_duplicate needs a duplicate_reason")
        return self


class LeadUpdate(BaseModel):
    """Editable lead fields (send only what changes); a new geometry marks enrichment stale."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Les Grandes Terres Nord", "is_public": True}]},
    )

    # name, notes and commune_insee may be cleared with null; the others can't be null.
    name: Name | None = None
    notes: Notes | None = None
    is_public: bool = omittable()
    commune_insee: Insee | None = None
    geometry: Geometry = omittable("GeoJSON (Multi)Polygon, EPSG:4326; marks enrichment stale")
    repair: bool = False


class AssignIn(BaseModel):
    """Who the lead goes to (null unassigns)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee_id": 7}]})

    assignee_id: UserId | None


class TransitionIn(BaseModel):
    """A move in the pipeline."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "QUALIFIED"},
                {"status": "REJECTED", "reason": "coeur de parc national"},
            ]
        },
    )

    status: LeadStatus
    reason: Annotated[str, StringConstraints(max_length=2000), MULTI_LINE] | None = None


class Owner(BaseModel):
    """A land owner (personal data: encrypted at rest)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True), SINGLE_LINE
    ]
    type: Literal["private", "public", "company"]
    address: Annotated[str, StringConstraints(max_length=500), MULTI_LINE] | None = None
    contact: Annotated[str, StringConstraints(max_length=300), SINGLE_LINE] | None = None


class FoncierIn(BaseModel):
    """The owners and the agreement status of a lead's land."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "owners": [
                        {"name": "GFA du Moulin", "type": "company", "contact": "04 74 00 00 00"}
                    ],
                    "agreement_status": "contacted",
                }
            ]
        },
    )

    owners: Annotated[list[Owner], Field(max_length=500)]
    agreement_status: AgreementStatus


class FoncierOut(BaseModel):
    """Land: parcels, owners (only for roles that may see them), agreement status."""

    parcels: list[dict[str, Any]] | None = None
    owners: list[Owner] | None = Field(None, description="Null when the role may not see owners")
    owner_count: int = 0
    agreement_status: AgreementStatus = AgreementStatus.NONE
    updated_at: datetime | None = None


class LeadOut(BaseModel):
    """A lead as lists and cards show it."""

    id: int
    internal_name: str
    name: str | None
    status: LeadStatus
    assignee_id: int | None
    assignee_name: str | None
    commune_insee: str | None
    commune_name: str | None
    department: str | None
    area_m2: float | None
    quality_score: float | None
    completeness: float | None
    is_public: bool
    enrichment_stale: bool
    version: int
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    centroid: LatLon | None
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON MultiPolygon")


class LeadPage(BaseModel):
    """A page of leads."""

    items: list[LeadOut]
    total: int
    page: int
    page_size: int


class CommentOut(BaseModel):
    """A comment on a lead."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    lead_id: int
    author_id: int | None
    author_name: str | None = None
    body: str
    created_at: datetime
    updated_at: datetime


class ActivityOut(BaseModel):
    """One activity-log entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    lead_id: int | None
    user_id: int | None
    user_name: str | None = None
    action: str
    entity: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


class DocumentOut(BaseModel):
    """A document attached to a lead (metadata)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size_bytes: int
    category: str
    created_at: datetime


class StatusPeriod(BaseModel):
    """Time the lead spent (or is spending) in one status."""

    status: LeadStatus
    entered_at: datetime
    left_at: datetime | None
    seconds: float
    reason: str | None = None


class OutdatedReason(BaseModel):
    """Why a lead's enrichment is out of date: its outline changed after it (``geometry``) or a
    reference layer it reads was reloaded after it (``reference``, with the layer)."""

    reason: Literal["geometry", "reference"]
    layer: str | None = Field(None, description="env_zones, urban_zones or substations")
    at: datetime = Field(description="When the outline or the layer changed")


class LeadDetail(LeadOut):
    """A lead with every related table, its documents, comments and activity."""

    created_by_id: int | None = None
    notes: str | None = None
    rejection_reason: str | None = None
    score_breakdown: dict[str, Any] | None = None
    enriched_at: datetime | None = None
    sourcing: dict[str, Any] | None = None
    technical: dict[str, Any] | None = None
    regulatory: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    foncier: FoncierOut | None = None
    economic: dict[str, Any] | None = None
    documents: list[DocumentOut] = []
    comments: list[CommentOut] = Field([], description="The last 20 comments, newest first")
    activity: list[ActivityOut] = Field([], description="The last 100 entries, newest first")
    status_history: list[StatusPeriod] = []
    allowed_transitions: list[LeadStatus] = Field(
        [], description="Statuses the caller may move this lead to now"
    )
    enrichment_outdated: list[OutdatedReason] | None = Field(
        None,
        description="Why the enrichment should be redone ([]: up to date; null: never enriched)",
    )
