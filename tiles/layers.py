"""The map layers, declared once: tables, ids, attributes, zoom ranges, French label, style.

Every SQL identifier used by tiles/ and OGC comes from this registry (never from a request). The
same entries drive the reference API (layer summaries, coverage and its "données absentes" mask,
the imports' layer names), the enrichment's wording of a layer's absent data and the web map,
which reads labels, zoom ranges and style hints from ``GET /api/reference/map-layers`` instead of
repeating them. Adding a layer is one entry here (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Feature ids must be integers in MVT and stay below 2**53 so that MapLibre (JavaScript numbers)
# can use them for feature-state. Parcels' and communes' keys are strings: a 64-bit hash masked to
# 53 bits is deterministic and collision-free in practice (≈5e-5 expected collisions at 1M rows).
JS_SAFE_MASK = 9007199254740991


@dataclass(frozen=True)
class Attr:
    """One attribute of a layer: SQL expression on alias ``t``, output name, JSON type."""

    name: str
    sql: str
    type: str  # "String" | "Number" | "Boolean" (TileJSON vector_layers field types)
    description: str = ""
    minzoom: int = 0  # dropped from tiles below this zoom (smaller low-zoom tiles)


@dataclass(frozen=True)
class Style:
    """How the web map draws a layer it has no dedicated paint for (MapLibre layer type)."""

    kind: str  # "fill" | "line" | "circle"
    color: str  # CSS colour
    visible: bool = False  # switched on when the map opens
    z: int = 50  # drawing order on the web map, bottom (low) to top


@dataclass(frozen=True)
class Layer:
    """A layer of the map: one table, its geometry, attributes and zoom behaviour."""

    name: str
    title: str
    table: str
    pk: str  # primary key column on alias t
    pk_type: str  # "int" | "str"
    fid_sql: str  # integer feature id expression on alias t
    geometry_type: str  # "Polygon" | "Point"
    attrs: tuple[Attr, ...]
    minzoom: int
    maxzoom: int  # clients overzoom beyond it; the server still answers up to MAX_ZOOM
    description: str = ""
    label: str = ""  # French, as the users name the data (map switcher, "données absentes")
    style: Style = Style("line", "#475569")
    reference: bool = True  # open reference data (public) vs business data (leads)
    # Who sees a business layer's rows (tiles.sql.visibility_sql): "leads" (the leads' RBAC) or
    # "searches" (rows of a site search's runs: the people who may see that search).
    visibility: str = "leads"
    # Loaded by a geo.importers spec writing ``table``: its imports and coverages are recorded
    # under this name (imports.layer, layer_coverage.layer).
    imported: bool = False
    # Read by the enrichment: where it has no coverage the map draws a "données absentes" mask.
    factor: bool = False
    # Below this zoom, polygons are replaced by an aggregate (clustered centroids).
    cluster_below: int | None = None
    point_sql: str | None = None  # point geometry used for clusters
    datetime_sql: str | None = None  # column the OGC ``datetime`` parameter filters
    queryables: tuple[str, ...] = field(default_factory=tuple)
    # Never lost to generalisation: simplification keeps collapsed rings, and a polygon that still
    # collapses on the tile grid is drawn as a point (its ST_PointOnSurface) instead.
    keep_small: bool = False
    # A stored, indexed EPSG:3857 copy of the geometry (generated column): tiles test and clip
    # it directly instead of transforming every row.
    geom_3857: str | None = None
    # Below this zoom only the features matching a predicate, by zoom: ((zoom, SQL), …), each
    # applying from its zoom up to the next (static SQL on alias t, so that a partial index can
    # serve it), e.g. the large parcels a prospector looks for at z10-12.
    overview_below: int | None = None
    overview_sql: tuple[tuple[int, str], ...] = ()

    def overview_at(self, z: int) -> str | None:
        """The predicate of the features served at zoom ``z`` (None: every feature)."""
        if self.overview_below is None or z >= self.overview_below:
            return None
        fitting = [sql for zoom, sql in self.overview_sql if zoom <= z]
        return fitting[-1] if fitting else "false"

    def attrs_at(self, z: int) -> tuple[Attr, ...]:
        """The attributes a tile carries at zoom ``z``."""
        return tuple(a for a in self.attrs if z >= a.minzoom)

    def attr(self, name: str) -> Attr | None:
        """An attribute by name (None if unknown)."""
        return next((a for a in self.attrs if a.name == name), None)


MAX_ZOOM = 22
# Parcels served below z13: 2 ha and more (a 5-ha site is a few pixels at z10-12). The partial
# index idx_parcels_geom_3857_large (migration 0022) has the same predicate.
LARGE_PARCEL_M2 = 20000
HASH_FID = f"(hashtextextended(t.{{pk}}, 0) & {JS_SAFE_MASK})"

LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer(
            name="parcels",
            title="Cadastral parcels",
            table="parcels",
            pk="id",
            pk_type="str",
            fid_sql=HASH_FID.format(pk="id"),
            geometry_type="Polygon",
            attrs=(
                Attr("id", "t.id", "String", "14-character parcel id"),
                Attr("commune", "t.commune", "String", "INSEE code of the commune", 14),
                Attr("section", "t.section", "String", "cadastral section", 14),
                Attr("numero", "t.numero", "String", "parcel number", 14),
                Attr("contenance", "t.contenance", "Number", "declared area (m²)", 14),
                Attr("area_m2", "round(t.area_m2)", "Number", "measured area (m²)", 10),
            ),
            minzoom=10,
            maxzoom=16,
            description="Etalab cadastre (PCI vecteur); z11-12: parcels of 2 ha+, z10: 5 ha+.",
            label="Cadastre",
            style=Style("line", "#78716c", visible=True, z=40),
            imported=True,
            factor=True,
            geom_3857="geom_3857",
            overview_below=13,
            # z10: 5 ha and more, z11-12: 2 ha and more; the z14 tile budget (≤ ~65 kB) holds.
            overview_sql=(
                (10, f"t.area_m2 >= {2.5 * LARGE_PARCEL_M2:.0f}"),
                (11, f"t.area_m2 >= {LARGE_PARCEL_M2}"),
            ),
            queryables=("id", "commune", "section", "numero", "contenance", "area_m2"),
        ),
        Layer(
            name="substations",
            title="Postes sources",
            table="substations",
            pk="id",
            pk_type="int",
            fid_sql="t.id",
            geometry_type="Point",
            attrs=(
                Attr("id", "t.id", "Number", "substation id"),
                Attr("code", "t.code", "String", "operator code"),
                Attr("name", "t.name", "String", "name"),
                Attr("operator", "t.operator", "String", "Enedis / RTE / ELD", 8),
                Attr("voltage_kv", "t.voltage_kv", "String", "voltage levels", 8),
                Attr(
                    "capacity_available_mw",
                    "t.capacity_available_mw",
                    "Number",
                    "S3REnR capacity still available (MW)",
                ),
                Attr("s3renr_region", "t.s3renr_region", "String", "S3REnR region", 8),
            ),
            minzoom=5,
            maxzoom=14,
            description="HTB/HTA substations with their S3REnR capacities.",
            label="Postes sources",
            style=Style("circle", "#0f172a", visible=True, z=70),
            imported=True,
            factor=True,
            queryables=("id", "code", "name", "operator", "s3renr_region"),
        ),
        Layer(
            name="env_zones",
            title="Protected and constrained zones",
            table="env_zones",
            pk="id",
            pk_type="int",
            fid_sql="t.id",
            geometry_type="Polygon",
            attrs=(
                Attr("id", "t.id", "Number", "zone id"),
                Attr("zone_type", "t.zone_type", "String", "type (natura2000_zsc, znieff1, …)"),
                Attr("code", "t.code", "String", "official code"),
                Attr("name", "t.name", "String", "name"),
            ),
            minzoom=6,
            maxzoom=15,
            description="INPN and other protected zones, typed.",
            label="Zones protégées",
            style=Style("fill", "#65a30d", visible=True, z=30),
            imported=True,
            factor=True,
            queryables=("id", "zone_type", "code", "name"),
        ),
        Layer(
            name="communes",
            title="Communes",
            table="communes",
            pk="insee",
            pk_type="str",
            fid_sql=HASH_FID.format(pk="insee"),
            geometry_type="Polygon",
            attrs=(
                Attr("insee", "t.insee", "String", "INSEE code"),
                Attr("name", "t.name", "String", "name"),
                Attr("department", "t.department", "String", "department code"),
            ),
            minzoom=6,
            maxzoom=14,
            description="French communes (INSEE).",
            label="Communes",
            style=Style("line", "#94a3b8", visible=True, z=10),
            imported=True,
            queryables=("insee", "name", "department"),
        ),
        Layer(
            name="urban_zones",
            title="PLU zones",
            table="urban_zones",
            pk="id",
            pk_type="int",
            fid_sql="t.id",
            geometry_type="Polygon",
            attrs=(
                Attr("id", "t.id", "Number", "zone id"),
                Attr("zone_type", "t.zone_type", "String", "U, AUc, AUs, A, N"),
                Attr("label", "t.label", "String", "label (e.g. Npv)"),
                Attr("commune_insee", "t.commune_insee", "String", "INSEE code", 13),
            ),
            minzoom=10,
            maxzoom=16,
            description="Urban planning zones (Géoportail de l'Urbanisme).",
            label="Zonage PLU",
            style=Style("fill", "#fb923c", z=20),
            imported=True,
            factor=True,
            queryables=("id", "zone_type", "label", "commune_insee"),
        ),
        Layer(
            name="coverage",
            title="Data coverage",
            table="layer_coverage",
            pk="id",
            pk_type="int",
            fid_sql="t.id",
            geometry_type="Polygon",
            attrs=(
                Attr("id", "t.id", "Number", "coverage id"),
                Attr(
                    "layer",
                    "t.layer",
                    "String",
                    "reference layer complete here (parcels, substations, env_zones, "
                    "urban_zones, communes)",
                ),
                Attr("method", "t.method", "String", "file (derived from the file) or declared"),
                Attr("area_km2", "round(t.area_km2::numeric, 1)", "Number", "area (km²)"),
                Attr("import_id", "t.import_id", "Number", "the import that recorded it"),
            ),
            minzoom=4,
            maxzoom=12,
            description="Where each reference layer's data is complete, one polygon per import: "
            "outside them, that layer's data is absent (données absentes), not 'nothing here'.",
            label="Couverture des données",
            style=Style("line", "#475569", z=45),
            queryables=("id", "layer", "method", "import_id"),
        ),
        Layer(
            name="leads",
            title="Leads",
            table="leads",
            pk="id",
            pk_type="int",
            fid_sql="t.id",
            geometry_type="Polygon",
            attrs=(
                Attr("id", "t.id", "Number", "lead id"),
                Attr("internal_name", "t.internal_name", "String", "internal name"),
                Attr("name", "t.name", "String", "name"),
                Attr("status", "t.status", "String", "pipeline status"),
                Attr("quality_score", "t.quality_score", "Number", "quality score 0–100"),
                Attr("assignee_id", "t.assignee_id", "Number", "assigned user id"),
                Attr("is_public", "t.is_public", "Boolean", "visible to every OPS user"),
                Attr("commune_insee", "t.commune_insee", "String", "INSEE code"),
            ),
            minzoom=4,
            maxzoom=16,
            description="Leads the caller may see (role-filtered); clustered below z10.",
            label="Leads",
            style=Style("fill", "#2563eb", visible=True, z=60),
            reference=False,
            cluster_below=10,
            point_sql="t.centroid",
            keep_small=True,
            datetime_sql="t.updated_at",
            queryables=(
                "id",
                "internal_name",
                "name",
                "status",
                "quality_score",
                "assignee_id",
                "is_public",
                "commune_insee",
            ),
        ),
        Layer(
            name="candidates",
            title="Site finder candidates",
            table="site_search_results",
            pk="id",
            pk_type="int",
            fid_sql="t.id",
            geometry_type="Polygon",
            attrs=(
                Attr("id", "t.id", "Number", "candidate id"),
                Attr("run_id", "t.run_id", "Number", "the site search run that found it"),
                Attr("rank", "t.rank", "Number", "rank in its run (1 = best)"),
                Attr("score", "t.score", "Number", "score 0–100 (the leads' scorer)"),
                Attr("completeness", "t.completeness", "Number", "share of criteria with data"),
                Attr(
                    "buildable_ha",
                    "round((t.buildable_m2 / 10000)::numeric, 2)",
                    "Number",
                    "buildable area (ha)",
                ),
                Attr("parcel_count", "(t.facts ->> 'parcel_count')::int", "Number", "parcels"),
                Attr("lead_id", "t.lead_id", "Number", "the lead made from it, if any"),
            ),
            minzoom=6,
            maxzoom=16,
            description="Candidate sites of site searches (issue 17), for the people who may "
            "see the search; filter one run with run_id.",
            label="Sites candidats",
            style=Style("fill", "#f59e0b", z=55),
            reference=False,
            visibility="searches",
            keep_small=True,
            queryables=("id", "run_id", "rank", "score", "completeness", "lead_id"),
        ),
    )
}

# Attributes of the low-zoom leads clusters.
CLUSTER_ATTRS = (
    Attr("count", "", "Number", "leads in the cluster"),
    Attr("status", "", "String", "most frequent status"),
    Attr("quality_score", "", "Number", "mean quality score"),
)


def imported_layers() -> list[Layer]:
    """The reference layers loaded by an importer (their imports and coverages bear the name)."""
    return [la for la in LAYERS.values() if la.imported]


def factor_layers() -> list[Layer]:
    """The layers the enrichment reads, which have a "données absentes" mask on the map."""
    return [la for la in LAYERS.values() if la.factor]


def label_of(name: str) -> str:
    """A layer's French label (its name when it has none or is unknown)."""
    layer = LAYERS.get(name)
    return (layer.label or layer.name) if layer else name


def describe(layer: Layer) -> dict[str, Any]:
    """What the web map needs of a layer (``GET /api/reference/map-layers``)."""
    return {
        "name": layer.name,
        "label": layer.label or layer.name,
        "geometry_type": layer.geometry_type,
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "reference": layer.reference,
        "factor": layer.factor,
        "style": {"kind": layer.style.kind, "color": layer.style.color, "z": layer.style.z},
        "visible": layer.style.visible,
        "description": layer.description,
    }


def parse_layers(spec: str) -> list[Layer]:
    """Layers from a comma-separated list; unknown names raise KeyError with the name."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    out: list[Layer] = []
    for name in names:
        if name not in LAYERS:
            raise KeyError(name)
        if LAYERS[name] not in out:
            out.append(LAYERS[name])
    return out
