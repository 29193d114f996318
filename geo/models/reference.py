"""Reference layers (parcels, substations, env_zones, communes, urban_zones) and their imports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, MappedColumn, mapped_column

from geo.models.base import Base, event_time, multipolygon, point, str_enum
from geo.models.enums import DataSource, EnvZoneType


def _source() -> MappedColumn[str]:
    """Where a reference row comes from (a ``DataSource`` value), open data unless said."""
    return mapped_column(String(16), nullable=False, server_default=DataSource.OPEN_DATA.value)


class ImportRecord(Base):
    """One run of a reference-layer importer: file, checksum and counts."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer: Mapped[str] = mapped_column(String(32), nullable=False)
    file_name: Mapped[str] = mapped_column(String(500), nullable=False)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="running")
    read_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    inserted_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    updated_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    unchanged_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    repaired_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    rejected_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    rejections: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    data_date: Mapped[date | None] = mapped_column(Date)
    started_at: Mapped[datetime] = event_time()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_imports_layer_started_at", "layer", "started_at"),)


class Parcel(Base):
    """A cadastral parcel (Etalab PCI vecteur); natural key: the 14-character id."""

    __tablename__ = "parcels"

    id: Mapped[str] = mapped_column(String(14), primary_key=True)
    commune: Mapped[str] = mapped_column(String(5), nullable=False)
    prefixe: Mapped[str] = mapped_column(String(3), nullable=False, server_default="000")
    section: Mapped[str] = mapped_column(String(2), nullable=False)
    numero: Mapped[str] = mapped_column(String(4), nullable=False)
    contenance: Mapped[int | None] = mapped_column(Integer)  # declared area, m²
    # Measured on the ellipsoid, so it is right anywhere in France.
    area_m2: Mapped[float | None] = mapped_column(
        Float, Computed("ST_Area(geom::geography)", persisted=True)
    )
    geom: Mapped[Any] = mapped_column(multipolygon(), nullable=False)
    # The tiles' projection, derived by PostgreSQL: tiles skip a transform per parcel (0022).
    geom_3857: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=3857, spatial_index=True),
        Computed("ST_Transform(geom, 3857)", persisted=True),
        nullable=True,
    )
    source: Mapped[str] = _source()
    source_updated: Mapped[date | None] = mapped_column(Date)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_parcels_commune_section", "commune", "section"),
        # A cadastral reference searched nationally ("AN 63"): one probe (migration 0027).
        Index("ix_parcels_section_numero", "section", "numero"),
        # The tiles' z10-12 overview: parcels of 2 ha or more (tiles.layers.LARGE_PARCEL_M2).
        Index(
            "idx_parcels_geom_3857_large",
            "geom_3857",
            postgresql_using="gist",
            postgresql_where=text("area_m2 >= 20000"),
        ),
    )


class Substation(Base):
    """A poste source with its S3REnR capacity figures (which change: ``data_date``)."""

    __tablename__ = "substations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    operator: Mapped[str | None] = mapped_column(String(32))  # Enedis / RTE / ELD
    voltage_kv: Mapped[str | None] = mapped_column(String(32))  # e.g. "63/20"
    geom: Mapped[Any] = mapped_column(point(), nullable=False)
    s3renr_region: Mapped[str | None] = mapped_column(String(100))
    capacity_reserved_mw: Mapped[float | None] = mapped_column(Float)
    capacity_allocated_mw: Mapped[float | None] = mapped_column(Float)
    capacity_available_mw: Mapped[float | None] = mapped_column(Float)
    quote_part_eur_kw: Mapped[float | None] = mapped_column(Float)
    data_date: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = _source()
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))


class EnvZone(Base):
    """A protected or constrained zone (INPN and others), typed."""

    __tablename__ = "env_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_type: Mapped[EnvZoneType] = mapped_column(
        str_enum(EnvZoneType, "env_zone_type"), nullable=False
    )
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    geom: Mapped[Any] = mapped_column(multipolygon(), nullable=False)
    area_m2: Mapped[float | None] = mapped_column(
        Float, Computed("ST_Area(geom::geography)", persisted=True)
    )
    source: Mapped[str] = _source()
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("zone_type", "code"),
        Index("ix_env_zones_zone_type", "zone_type"),
    )


# A commune's name as searched: accents, hyphens and apostrophes folded ("Saint-Étienne" and
# "saint etienne" meet). The same folding in Python: api.services.reference.fold_name.
NAME_ACCENTS = "àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ-'’"
NAME_PLAIN = "aaaaaaceeeeiiiinooooouuuuyyAAAAAACEEEEIIIINOOOOOUUUUYY   "
NAME_FOLDED = (
    "lower(replace(replace(replace(replace(translate(name, "
    f"'{NAME_ACCENTS.replace(chr(39), chr(39) * 2)}', '{NAME_PLAIN}'), "
    "'œ', 'oe'), 'Œ', 'OE'), 'æ', 'ae'), 'Æ', 'AE'))"
)


class Commune(Base):
    """A French commune (INSEE code)."""

    __tablename__ = "communes"

    insee: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    name_folded: Mapped[str | None] = mapped_column(
        String(200), Computed(NAME_FOLDED, persisted=True)
    )
    department: Mapped[str | None] = mapped_column(String(3), index=True)
    region: Mapped[str | None] = mapped_column(String(3))
    geom: Mapped[Any] = mapped_column(multipolygon(), nullable=False)
    source: Mapped[str] = _source()
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))

    __table_args__ = (
        # Trigram index: a name prefix or any part of it ("pierres dorees"), accents folded.
        Index(
            "ix_communes_name_folded_trgm",
            "name_folded",
            postgresql_using="gin",
            postgresql_ops={"name_folded": "gin_trgm_ops"},
        ),
    )


class UrbanZone(Base):
    """A PLU zone (Géoportail de l'Urbanisme zone_urba)."""

    __tablename__ = "urban_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable key of a zone across imports (GPU's gid, or a hash of document + label + geometry).
    natural_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    commune_insee: Mapped[str | None] = mapped_column(String(5), index=True)
    zone_type: Mapped[str] = mapped_column(String(8), nullable=False)  # U, AUc, AUs, A, N
    label: Mapped[str] = mapped_column(String(64), nullable=False)  # libelle, e.g. "Npv"
    label_long: Mapped[str | None] = mapped_column(String(500))
    document_id: Mapped[str | None] = mapped_column(String(64))  # idurba
    geom: Mapped[Any] = mapped_column(multipolygon(), nullable=False)
    source: Mapped[str] = _source()
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))


class LayerCoverage(Base):
    """Where one import made its layer complete: one row per import and layer, a geometry.

    Derived from the file (the communes of a cadastre or PLU file, the outlines of a communes
    file, the S3REnR regions of a postes file) or declared at import (``--coverage 22,29``,
    ``--coverage-file``). Outside every coverage of a layer, its data is absent, not "nothing".
    """

    __tablename__ = "layer_coverage"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("imports.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    layer: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    method: Mapped[str] = mapped_column(String(16), nullable=False)  # file | declared
    # What the coverage is made of: {"kind": "communes"|"departements"|"regions"|"file",
    # "codes": [...]}.
    areas: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    area_km2: Mapped[float | None] = mapped_column(
        Float, Computed("ST_Area(geom::geography) / 1e6", persisted=True)
    )
    geom: Mapped[Any] = mapped_column(multipolygon(), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )


class LayerVersion(Base):
    """A counter per map layer, bumped on every write; drives tile ETags and cache keys."""

    __tablename__ = "layer_versions"

    layer: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("1"))
    updated_at: Mapped[datetime] = event_time()
