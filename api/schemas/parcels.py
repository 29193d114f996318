"""A selection of parcels before it is a lead: its constraints and its export."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.leads import ParcelId

# The lead creation's own bound (LFS_LEADS__MAX_PARCELS defaults to 500).
SelectionIds = Annotated[list[ParcelId], Field(min_length=1, max_length=500)]


class ParcelSelection(BaseModel):
    """Parcels selected on the map (cadastral ids, 14 characters)."""

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {"examples": [{"parcel_ids": ["69114000AA0030", "69114000AA0022"]}]},
    }

    parcel_ids: SelectionIds


class LayerState(BaseModel):
    """Whether the layer has data for the selection: covered, partial or absent (then a French
    message, "… : données absentes pour cette zone")."""

    status: Literal["covered", "partial", "absent"]
    covered_pct: float
    message: str | None = None


class ZoneTouched(BaseModel):
    """A protected zone under the selection (more than 1 m²)."""

    zone_type: str
    label: str = Field(description="French name of the zone type (never the code alone)")
    code: str | None = None
    name: str | None = None
    overlap_m2: float
    share: float = Field(description="Share of the selection's area inside the zone (0–1)")


class EnvZones(LayerState):
    """Protected zones touched."""

    items: list[ZoneTouched]


class PluTouched(BaseModel):
    """A PLU zone under the selection, its overlap summed per (type, label, commune)."""

    zone_type: str
    label: str
    commune_insee: str | None = None
    overlap_m2: float
    share: float


class PluZones(LayerState):
    """PLU zones touched, largest first."""

    items: list[PluTouched]


class NearestPoste(BaseModel):
    """The nearest poste source to a point inside the selection (ellipsoidal distance)."""

    id: int
    code: str | None = None
    name: str | None = None
    operator: str | None = None
    voltage_kv: str | None = Field(None, description='e.g. "63/20"')
    capacity_available_mw: float | None = None
    distance_m: float


class Substations(LayerState):
    """The nearest poste source within the enrichment's radius (null: none in it)."""

    radius_m: float
    nearest: NearestPoste | None


class HoldingLead(BaseModel):
    """An active lead (visible to the caller) that already holds parcels of the selection."""

    id: int
    internal_name: str
    name: str | None = None
    status: str
    parcel_ids: list[str]


class SelectionConstraints(BaseModel):
    """What a selection touches before it becomes a lead."""

    parcel_count: int
    area_m2: float = Field(description="Total measured area of the parcels (m², ellipsoid)")
    contenance_m2: float | None = Field(
        description="Total declared contenance (m²); null when a parcel has none"
    )
    env_zones: EnvZones
    urban_zones: PluZones
    substations: Substations
    leads: list[HoldingLead]
    hidden_leads: int = Field(description="Active leads holding parcels the caller may not see")
