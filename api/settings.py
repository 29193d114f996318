"""Settings: the one place the environment is read (pydantic-settings, prefix ``LFS_``)."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data"


class AuthSettings(BaseModel):
    """JWT and password settings (``LFS_AUTH__*``)."""

    jwt_secret: SecretStr | None = Field(
        None, description="HS256 signing secret; generated and kept under .data/ in development."
    )
    token_ttl_minutes: int = Field(480, ge=1, description="Lifetime of an access token.")
    tile_token_ttl_minutes: int = Field(60, ge=1, description="Lifetime of a map tile token.")
    session_ttl_days: int = Field(
        14,
        ge=1,
        le=90,
        description="A web session's life without use: its refresh cookie (renewed at each use) "
        "expires after this many days.",
    )
    cookie_secure: bool = Field(
        True,
        description="Send the session cookie with the Secure flag (HTTPS only; browsers accept it "
        "on http://localhost). False only for a plain-HTTP test server on another host.",
    )
    bcrypt_rounds: int = Field(
        10, ge=10, le=16, description="bcrypt cost factor (>= 10, OWASP); rehashed at login."
    )
    password_min_score: int = Field(
        3,
        ge=0,
        le=4,
        description="Least zxcvbn strength score (0-4) of a new password; 3 refuses common "
        "passwords, keyboard runs and single dictionary words.",
    )


class RateLimitSettings(BaseModel):
    """Per-IP request limits (``LFS_RATE_LIMIT__*``); 0 disables a limit."""

    login_per_minute: int = Field(5, ge=0, description="Login attempts per minute per IP.")
    api_per_minute: int = Field(
        100, ge=0, description="API requests per minute per IP (tiles and static assets excluded)."
    )


class CryptoSettings(BaseModel):
    """Owner personal data encryption (``LFS_CRYPTO__*``)."""

    keys: SecretStr | None = Field(
        None,
        description="Comma-separated 'kid:base64key' AES-256 keys; the first one encrypts, "
        "all of them decrypt (key rotation).",
    )


class AdminSettings(BaseModel):
    """The first ADMIN user created when there is none (``LFS_ADMIN__*``)."""

    email: str = Field("admin@leadfactory.local", description="Email of the first admin.")
    password: SecretStr | None = Field(
        None, description="Password of the first admin; generated and printed once when unset."
    )


class PvgisSettings(BaseModel):
    """PVGIS client (``LFS_PVGIS__*``)."""

    base_url: str = Field("https://re.jrc.ec.europa.eu/api", description="PVGIS API root.")
    api_version: Literal["v5_2", "v5_3"] = Field("v5_3", description="PVGIS API version.")
    timeout_s: float = Field(20.0, gt=0, description="Per-request timeout in seconds.")
    retries: int = Field(3, ge=0, description="Retries on 429/5xx/529, with backoff.")
    max_calls_per_second: float = Field(25.0, gt=0, description="Client-side rate (PVGIS: 30/s).")
    loss_pct: float = Field(14.0, ge=0, le=100, description="System losses (%).")
    pvtech: Literal["crystSi", "CIS", "CdTe"] = Field("crystSi", description="PV technology.")
    raddatabase: str | None = Field(None, description="Radiation DB; PVGIS default when unset.")
    enabled: bool = Field(True, description="Set false to always use the offline estimate.")
    backoff_s: float = Field(0.5, ge=0, description="First retry delay (doubles each retry).")
    cache_precision_deg: float = Field(
        0.05,
        gt=0,
        description="Coordinates are rounded to this step (°) for calls and cache "
        "(0.05° is PVGIS-SARAH's own grid cell).",
    )


class EconomicsSettings(BaseModel):
    """Economic defaults of DOMAIN.md (``LFS_ECONOMICS__*``); stored with every result."""

    ha_per_mwc: float = Field(1.5, gt=0, description="Usable hectares per MWc.")
    capex_eur_per_mwc: float = Field(700_000.0, ge=0, description="CAPEX (€/MWc).")
    opex_eur_per_mwc_yr: float = Field(17_500.0, ge=0, description="OPEX (€/MWc/yr).")
    ifer_eur_per_mwh: float = Field(6.0, ge=0, description="IFER tax (€/MWh).")
    land_rent_eur_per_ha_yr: float = Field(3_000.0, ge=0, description="Land rent (€/ha/yr).")
    tariff_eur_per_mwh: float = Field(79.0, ge=0, description="Revenue tariff (€/MWh).")
    degradation_pct_yr: float = Field(0.4, ge=0, le=5, description="Yearly degradation (%).")
    discount_rate_pct: float = Field(5.0, ge=0, le=30, description="LCOE discount rate (%).")
    lifetime_years: int = Field(30, ge=1, le=60, description="LCOE lifetime (years).")
    hta_cable_eur_per_km: float = Field(150_000.0, ge=0, description="HTA cable (€/km).")
    htb_cable_eur_per_km: float = Field(600_000.0, ge=0, description="HTB line (€/km).")
    hta_max_mw: float = Field(12.0, gt=0, description="Above this power, HTB connection.")
    default_quote_part_eur_kw: float = Field(
        50.0, ge=0, description="S3REnR quote-part when the poste has none (€/kW)."
    )
    quote_part_min_kva: float = Field(250.0, ge=0, description="Quote-part owed from (kVA).")


class ScoreSettings(BaseModel):
    """Quality-score weights and zone treatments (``LFS_SCORE__*``)."""

    weight_grid: float = Field(30.0, ge=0, description="Weight: grid distance and capacity.")
    weight_surface: float = Field(20.0, ge=0, description="Weight: usable surface.")
    weight_sun: float = Field(15.0, ge=0, description="Weight: specific yield.")
    weight_environment: float = Field(20.0, ge=0, description="Weight: protected zones.")
    weight_urbanism: float = Field(10.0, ge=0, description="Weight: PLU zone.")
    weight_owners: float = Field(5.0, ge=0, description="Weight: number of owners.")
    zone_rules: dict[str, tuple[Literal["exclusion", "penalty", "bonus"], float]] = Field(
        default_factory=dict,
        description="Overrides of the zone treatment table: JSON {zone_type: [kind, 0-1]}.",
    )


class EnrichmentSettings(BaseModel):
    """Enrichment engine and worker (``LFS_ENRICHMENT__*``)."""

    nearby_radius_m: float = Field(5_000.0, gt=0, description="Radius for nearby zones (m).")
    grid_radius_m: float = Field(
        30_000.0,
        gt=0,
        description="Postes sources searched within this distance of the site (m); beyond, "
        "'Aucun poste dans un rayon de … km dans les données chargées'.",
    )
    worker_concurrency: int = Field(8, ge=1, le=64, description="Tasks a worker runs at once.")
    worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness of a worker process (enrichment, exports, site finder): on "
        "cores shared with the API and PostgreSQL, background work takes what people's "
        "requests leave (0: the same priority).",
    )
    task_chunk: int = Field(50, ge=1, le=1000, description="Leads per queued task.")
    stalled_after_s: float = Field(
        30.0, gt=0, description="A job whose worker sent no heartbeat for this long is retried."
    )


class OpenAISettings(BaseModel):
    """OpenAI-compatible chat API for the executive summary (``LFS_OPENAI__*``)."""

    api_key: SecretStr | None = Field(None, description="API key; template summary when unset.")
    base_url: str | None = Field(None, description="OpenAI-compatible base URL.")
    model: str = Field("gpt-4o-mini", description="Chat model name.")
    timeout_s: float = Field(30.0, gt=0, description="Request timeout in seconds.")
    language: str = Field("fr", description="Language of the summary.")


class StorageSettings(BaseModel):
    """Uploaded and generated files (``LFS_STORAGE__*``)."""

    local_dir: Path = Field(DEFAULT_DATA_DIR / "files", description="Local storage folder.")
    s3_bucket: str | None = Field(None, description="S3 bucket; local folder when unset.")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint URL.")
    s3_region: str = Field("eu-west-3", description="S3 region.")
    s3_access_key_id: SecretStr | None = Field(None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret key.")
    max_upload_mb: float = Field(50.0, gt=0, description="Upload size limit in MB (413 beyond).")


class MapboxSettings(BaseModel):
    """Optional Mapbox basemap and static maps (``LFS_MAPBOX__*``)."""

    token: SecretStr | None = Field(None, description="Mapbox access token (optional).")
    api_url: str = Field("https://api.mapbox.com", description="Mapbox API root.")


# The IGN Géoplateforme's public WMTS (no key), asked tile by tile in the WebMercator matrix set
# "PM": TILEMATRIX is the zoom, TILEROW the y and TILECOL the x of an XYZ template.
IGN_WMTS = (
    "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
    "&STYLE=normal&TILEMATRIXSET=PM&FORMAT={format}&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}"
)


class BasemapSource(BaseModel):
    """One basemap the map can show under the data layers."""

    key: str = Field(pattern=r"^[a-z0-9_-]{1,32}$", description="Stable identifier (URL state).")
    label: str = Field(min_length=1, max_length=40, description="French name in the switcher.")
    kind: Literal["plan", "photo"] = Field(description="Plan (a map) or Photo (aerial imagery).")
    type: Literal["raster", "style"] = Field(
        "raster",
        description="raster: an XYZ template ({z}/{x}/{y}, a WMTS GetTile KVP URL too); style: "
        "the URL of a MapLibre/Mapbox GL style JSON (vector tiles), drawn under our layers.",
    )
    url: str = Field(
        pattern=r"^https?://",
        description="Tile URL template with {z}, {x} and {y} placeholders, or a style's URL.",
    )
    origins: list[Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.:\[\]-]+$")]] = (
        Field(
            default_factory=list,
            description="Other origins the source loads from (a style's tiles, sprites and glyphs "
            "when not on the style's own origin), added to the web app's CSP.",
        )
    )
    tile_size: int = Field(256, ge=64, le=1024, description="Tile size in pixels.")
    max_zoom: int = Field(19, ge=0, le=24, description="Deepest zoom the source serves.")
    attribution: str = Field("", max_length=200, description="Credit shown on the map.")


def _ign_basemaps() -> list[BasemapSource]:
    return [
        BasemapSource(
            key="plan-ign",
            label="Plan",
            kind="plan",
            url=IGN_WMTS.format(layer="GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2", format="image/png"),
            max_zoom=19,
            attribution="Plan IGN © IGN Géoplateforme",
        ),
        BasemapSource(
            key="ortho-ign",
            label="Photo",
            kind="photo",
            url=IGN_WMTS.format(layer="ORTHOIMAGERY.ORTHOPHOTOS", format="image/jpeg"),
            max_zoom=19,
            attribution="Photographies aériennes © IGN Géoplateforme",
        ),
    ]


class BasemapSettings(BaseModel):
    """Basemaps under the data layers (``LFS_BASEMAP__*``): docs/web.md."""

    sources: list[BasemapSource] = Field(
        default_factory=_ign_basemaps,
        description="Basemap sources (JSON list); default the IGN Géoplateforme's Plan IGN and "
        "orthophotos WMTS. With a public Mapbox token, Mapbox's streets and satellite styles are "
        "offered too. An empty list: no basemap (the map says so).",
    )
    default: str | None = Field(
        "plan-ign", description="Key of the basemap shown when the map opens (null: none)."
    )


class GeocoderSettings(BaseModel):
    """Address search through a geocoder speaking the BAN protocol (``LFS_GEOCODER__*``)."""

    base_url: str | None = Field(
        None,
        description="Base URL of a BAN-protocol geocoder (GET {base}/search/?q=&limit=), e.g. "
        "the national Base Adresse Nationale API; unset: no address search.",
    )
    timeout_s: float = Field(2.5, gt=0, le=30, description="Timeout of one geocoder call (s).")
    limit: int = Field(5, ge=1, le=20, description="Addresses asked for per search.")


class TilesSettings(BaseModel):
    """Vector tiles and OGC API Features (``LFS_TILES__*``)."""

    pool_size: int = Field(10, ge=1, description="Connections of the tile/OGC asyncpg pool.")
    statement_timeout_ms: int = Field(
        5000, ge=100, description="Per-tile (and per OGC page) statement timeout (ms)."
    )
    cache_mb: float = Field(64.0, ge=0, description="In-process gzipped tile cache size (MB).")
    public_reference: bool = Field(
        True,
        description="Serve the open-data reference layers without a token (leads always need one).",
    )
    max_items: int = Field(10000, ge=1, description="Largest OGC items page (bigger limits clamp).")


class LeadSettings(BaseModel):
    """Lead creation limits and analytics cache (``LFS_LEADS__*``)."""

    min_area_m2: float = Field(100.0, gt=0, description="Smallest lead surface accepted (m²).")
    max_area_m2: float = Field(
        20_000_000.0, gt=0, description="Largest lead surface accepted (m², 2,000 ha)."
    )
    max_parcels: int = Field(500, ge=1, description="Most parcel ids in one lead creation.")
    max_polygons: int = Field(500, ge=1, description="Most polygons in a lead's geometry.")
    max_rings: int = Field(
        500, ge=1, description="Most rings (outer rings and holes, all polygons) in a geometry."
    )
    max_vertices: int = Field(
        20_000, ge=4, description="Most vertices (positions, all rings) in a lead's geometry."
    )
    max_repair_crossings: int = Field(
        500,
        ge=0,
        description="Most self-intersections (pairs of crossing edges) of an invalid geometry "
        "sent with repair=true; ST_MakeValid takes ~0.15 s for 500 and grows faster than the "
        "square beyond.",
    )
    france_bbox: tuple[float, float, float, float] = Field(
        (-5.3, 41.3, 9.7, 51.2),
        description="minlon,minlat,maxlon,maxlat a lead must lie in (metropolitan France+Corsica).",
    )
    analytics_cache_ttl_s: float = Field(
        300.0, ge=0, description="Analytics cache lifetime (s); also dropped on any lead write."
    )
    analytics_cache_entries: int = Field(1024, ge=0, description="Analytics cache size.")
    export_kept_h: float = Field(
        24.0,
        gt=0,
        description="Hours a written lead export (POST /api/leads/exports) stays downloadable; "
        "the worker removes older files and rows.",
    )
    exports_waiting_max: int = Field(
        3, ge=1, description="Most exports one person may have queued or running (429 beyond)."
    )
    analytics_max_stale_s: float = Field(
        30.0,
        ge=0,
        description="After a lead write, an analytics answer computed less than this many seconds "
        "ago is served while it is recomputed in the background (0: always recompute first).",
    )


class MetricsSettings(BaseModel):
    """``GET /metrics`` (``LFS_METRICS__*``)."""

    token: SecretStr | None = Field(
        None,
        description="Bearer token a scraper sends to GET /metrics; unset: /metrics answers "
        "loopback clients only (403 to anyone else).",
    )


class ReadySettings(BaseModel):
    """``GET /api/ready`` (``LFS_READY__*``)."""

    worker_max_age_s: float = Field(
        60.0,
        ge=0,
        description="Ready only if an enrichment worker's heartbeat is at most this old (s); "
        "0: the worker is not checked.",
    )


class SiteFinderSettings(BaseModel):
    """The site finder's bounds (``LFS_SITE_FINDER__*``): docs/site-finder.md."""

    max_site_parcels: int = Field(
        200, ge=1, le=500, description="Most parcels in one candidate site (a plain is split)."
    )
    max_site_ha: float = Field(
        200.0, gt=0, description="Largest candidate site (ha of parcels) before it is split."
    )
    max_results: int = Field(
        200, ge=1, le=2000, description="Candidate sites kept per run (the best by the ranking)."
    )
    max_territory_parcels: int = Field(
        1_500_000,
        ge=1,
        description="Most parcels a run scans (a large département); more: 422.",
    )
    chunk_parcels: int = Field(
        8_000,
        ge=1,
        description="Parcels per chunk of a run (whole communes; workers share the chunks).",
    )
    statement_timeout_ms: int = Field(
        30_000, ge=100, description="statement_timeout of each statement of a run (ms)."
    )
    min_part_m2: float = Field(
        1_000.0, ge=0, description="Buildable remnants smaller than this are dropped (m²)."
    )
    min_width_m: float = Field(
        10.0, ge=0, description="Buildable remnants narrower than this are dropped (m)."
    )
    poste_candidates: int = Field(
        10, ge=1, le=50, description="Nearest postes examined per site for capacity."
    )


class Settings(BaseSettings):
    """All settings of the service, grouped by concern."""

    model_config = SettingsConfigDict(
        env_prefix="LFS_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = Field(
        "development", description="production refuses missing secrets."
    )
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:54329/leadfactory",
        validation_alias=AliasChoices("DATABASE_URL", "LFS_DATABASE_URL", "database_url"),
        description="PostgreSQL (PostGIS 3) URL; the project-local cluster by default.",
    )
    db_pool_size: int = Field(10, ge=1, description="Connections kept in the pool per process.")
    db_max_overflow: int = Field(20, ge=0, description="Extra connections under load.")
    db_pool_timeout_s: float = Field(
        10.0,
        gt=0,
        le=60,
        description="How long a request waits for a free pooled connection before a 503 with "
        "Retry-After (every connection busy: the process is overloaded).",
    )
    db_statement_timeout_ms: int = Field(
        10_000,
        ge=100,
        description="statement_timeout of the API's connections (ms): no request holds a database "
        "backend longer (a 503 with Retry-After). Tiles have their own, shorter one.",
    )
    redis_url: SecretStr | None = Field(
        None,
        description="Redis URL (redis://host:6379/0) for the state every process shares: rate "
        "limits, cached analytics answers and list totals, the PVGIS budget; unset: PostgreSQL "
        "holds it (docs/operations.md).",
    )
    redis_prefix: str = Field(
        "lfs:",
        max_length=64,
        description="Prefix of this deployment's Redis keys (several deployments on one Redis).",
    )
    max_body_mb: float = Field(
        2.0,
        gt=0,
        description="Largest request body (MB) outside document uploads: refused with a 413 before "
        "it is read or parsed. A lead of 20,000 vertices is about 0.6 MB of GeoJSON.",
    )
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Folder for local state (dev keys).")
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:5173", "http://127.0.0.1:5173"],
        description="Origins allowed by CORS (never '*': we carry JWTs).",
    )
    public_url: str | None = Field(
        None, description="External base URL used in links (TileJSON); from the request if unset."
    )
    web_dist: Path = Field(PROJECT_ROOT / "web" / "dist", description="Built web app to serve.")
    log_format: Literal["json", "text"] | None = Field(
        None,
        description="Log lines as JSON objects or plain text; unset: JSON in production, text "
        "otherwise.",
    )
    sentry_dsn: SecretStr | None = Field(
        None, description="Sentry DSN: errors of the API and the worker are reported there."
    )
    forwarded_allow_ips: str | None = Field(
        None,
        description="Comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For/-Proto are trusted (client address, scheme); unset: none is.",
    )
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    crypto: CryptoSettings = Field(default_factory=CryptoSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    pvgis: PvgisSettings = Field(default_factory=PvgisSettings)
    economics: EconomicsSettings = Field(default_factory=EconomicsSettings)
    score: ScoreSettings = Field(default_factory=ScoreSettings)
    enrichment: EnrichmentSettings = Field(default_factory=EnrichmentSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    mapbox: MapboxSettings = Field(default_factory=MapboxSettings)
    basemap: BasemapSettings = Field(default_factory=BasemapSettings)
    geocoder: GeocoderSettings = Field(default_factory=GeocoderSettings)
    leads: LeadSettings = Field(default_factory=LeadSettings)
    tiles: TilesSettings = Field(default_factory=TilesSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    ready: ReadySettings = Field(default_factory=ReadySettings)
    site_finder: SiteFinderSettings = Field(default_factory=SiteFinderSettings)

    @model_validator(mode="after")
    def _secrets_for_production(self) -> Settings:
        if self.environment == "production":
            if self.auth.jwt_secret is None:
                raise ValueError("LFS_AUTH__JWT_SECRET is required in production")
            if self.crypto.keys is None:
                raise ValueError("LFS_CRYPTO__KEYS is required in production")
        return self

    @property
    def json_logs(self) -> bool:
        """Whether log lines are JSON (``log_format``, else in production only)."""
        if self.log_format is not None:
            return self.log_format == "json"
        return self.environment == "production"

    @property
    def async_database_url(self) -> str:
        """The database URL for SQLAlchemy's asyncpg dialect."""
        return to_async_url(self.database_url)

    @property
    def sync_database_url(self) -> str:
        """The database URL for psycopg (procrastinate, COPY tools)."""
        return to_plain_url(self.database_url)


def to_plain_url(url: str) -> str:
    """Strip a SQLAlchemy driver suffix: ``postgresql+asyncpg://`` becomes ``postgresql://``."""
    scheme, sep, rest = url.partition("://")
    base = scheme.split("+", 1)[0]
    if base == "postgres":
        base = "postgresql"
    return f"{base}{sep}{rest}"


def to_async_url(url: str) -> str:
    """The same URL with SQLAlchemy's asyncpg driver."""
    plain = to_plain_url(url)
    return plain.replace("postgresql://", "postgresql+asyncpg://", 1)


def _dev_secret_file(settings: Settings) -> Path:
    return settings.data_dir / "dev-secrets.json"


def resolve_dev_secrets(settings: Settings) -> Settings:
    """Fill missing secrets outside production: generated once, kept under ``data_dir``.

    In development the secrets persist so that tokens and encrypted owner data survive a restart;
    in tests (``environment=test``) they are generated per process and never written.
    """
    if settings.auth.jwt_secret is not None and settings.crypto.keys is not None:
        return settings
    if settings.environment == "production":  # pragma: no cover - guarded by the validator
        raise ValueError("secrets are required in production")
    stored: dict[str, str] = {}
    path = _dev_secret_file(settings)
    if settings.environment == "development" and path.exists():
        stored = json.loads(path.read_text())
    changed = False
    if "jwt_secret" not in stored:
        stored["jwt_secret"] = secrets.token_urlsafe(48)
        changed = True
    if "crypto_keys" not in stored:
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        stored["crypto_keys"] = f"dev1:{key}"
        changed = True
    if changed and settings.environment == "development":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored))
        os.chmod(path, 0o600)
        log.warning("generated development secrets in %s (set them in production)", path)
    update: dict[str, object] = {}
    if settings.auth.jwt_secret is None:
        update["auth"] = settings.auth.model_copy(
            update={"jwt_secret": SecretStr(stored["jwt_secret"])}
        )
    if settings.crypto.keys is None:
        update["crypto"] = settings.crypto.model_copy(
            update={"keys": SecretStr(stored["crypto_keys"])}
        )
    return settings.model_copy(update=update)


@lru_cache
def get_settings() -> Settings:
    """The process settings, read once from the environment."""
    return resolve_dev_secrets(Settings())
