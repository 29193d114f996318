"""The ORM models of the whole schema (import from here)."""

from geo.models.base import SRID, Base
from geo.models.enums import (
    AgreementStatus,
    DataSource,
    DocumentCategory,
    EnvZoneType,
    LeadSource,
    LeadStatus,
    Role,
    UrbanZoneType,
    Verdict,
)
from geo.models.leads import (
    Lead,
    LeadEconomic,
    LeadFoncier,
    LeadNameCounter,
    LeadNetwork,
    LeadRegulatory,
    LeadSourcing,
    LeadStatusHistory,
    LeadTechnical,
)
from geo.models.limits import RateSlot
from geo.models.records import ActivityLog, Comment, Document, EnrichmentJob, PvgisCache
from geo.models.reference import (
    Commune,
    EnvZone,
    ImportRecord,
    LayerCoverage,
    LayerVersion,
    Parcel,
    Substation,
    UrbanZone,
)
from geo.models.site_search import SiteSearch, SiteSearchResult, SiteSearchRun
from geo.models.users import RevokedToken, User

__all__ = [
    "SRID",
    "ActivityLog",
    "AgreementStatus",
    "Base",
    "Comment",
    "Commune",
    "DataSource",
    "Document",
    "DocumentCategory",
    "EnrichmentJob",
    "EnvZone",
    "EnvZoneType",
    "ImportRecord",
    "LayerCoverage",
    "LayerVersion",
    "RateSlot",
    "Lead",
    "LeadEconomic",
    "LeadFoncier",
    "LeadNameCounter",
    "LeadNetwork",
    "LeadRegulatory",
    "LeadSource",
    "LeadSourcing",
    "LeadStatus",
    "LeadStatusHistory",
    "LeadTechnical",
    "Parcel",
    "PvgisCache",
    "RevokedToken",
    "Role",
    "SiteSearch",
    "SiteSearchResult",
    "SiteSearchRun",
    "Substation",
    "UrbanZone",
    "UrbanZoneType",
    "User",
    "Verdict",
]
