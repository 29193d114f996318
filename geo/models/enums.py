"""Enumerations of the domain (values are what the API and database store)."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """The four roles of the product."""

    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    OPS = "OPS"
    COMMERCIAL = "COMMERCIAL"


class LeadStatus(enum.StrEnum):
    """The lead pipeline (see DOMAIN.md)."""

    NEW = "NEW"
    ENRICHED = "ENRICHED"
    QUALIFIED = "QUALIFIED"
    IN_REVIEW = "IN_REVIEW"
    CLIENT_READY = "CLIENT_READY"
    SOLD = "SOLD"
    REJECTED = "REJECTED"
    ARCHIVED = "ARCHIVED"


class LeadSource(enum.StrEnum):
    """How a lead was found."""

    MAP = "map"
    SITE_FINDER = "site_finder"
    IMPORT = "import"
    REFERRAL = "referral"


class AgreementStatus(enum.StrEnum):
    """Land agreement with the owners."""

    NONE = "none"
    CONTACTED = "contacted"
    PROMISE_SIGNED = "promise_signed"
    LEASE_SIGNED = "lease_signed"


class Verdict(enum.StrEnum):
    """Regulatory verdict of a site."""

    OK = "ok"
    PENALTY = "penalty"
    EXCLUSION = "exclusion"


class EnvZoneType(enum.StrEnum):
    """Protected-area types (INPN and others)."""

    NATURA2000_ZSC = "natura2000_zsc"  # habitats directive (ZSC / SIC / pSIC)
    NATURA2000_ZPS = "natura2000_zps"  # birds directive
    ZNIEFF1 = "znieff1"
    ZNIEFF2 = "znieff2"
    PARC_NATIONAL_COEUR = "parc_national_coeur"
    PARC_NATIONAL_ADHESION = "parc_national_adhesion"
    PNR = "pnr"
    RESERVE_NATURELLE_NATIONALE = "rnn"
    RESERVE_NATURELLE_REGIONALE = "rnr"
    RESERVE_BIOLOGIQUE = "reserve_biologique"
    APPB = "appb"
    RAMSAR = "ramsar"
    SITE_CLASSE = "site_classe"
    ZONE_HUMIDE = "zone_humide"
    PPRI_ROUGE = "ppri_rouge"
    FORET = "foret"
    FRICHE = "friche"
    ZONE_ACCELERATION = "zone_acceleration"


class UrbanZoneType(enum.StrEnum):
    """PLU zone families (Géoportail de l'Urbanisme ``typezone``)."""

    U = "U"
    AUC = "AUc"
    AUS = "AUs"
    AU = "AU"
    A = "A"
    N = "N"


class DocumentCategory(enum.StrEnum):
    """Categories of documents attached to a lead."""

    TITLE_DEED = "title_deed"
    PLU_EXTRACT = "plu_extract"
    GRID_STUDY = "grid_study"
    PHOTO = "photo"
    SIGNED_PROMISE = "signed_promise"
    DOSSIER = "dossier"
    OTHER = "other"


class DataSource(enum.StrEnum):
    """Provenance of reference rows: real open data or generated."""

    OPEN_DATA = "open_data"
    SYNTHETIC = "synthetic"
    USER = "user"


class ExportFormat(enum.StrEnum):
    """The file a lead export is written as."""

    CSV = "csv"
    XLSX = "xlsx"


class ExportStatus(enum.StrEnum):
    """Where a lead export stands: asked, being written by a worker, ready to download, failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
