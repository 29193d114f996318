"""What the enrichment engine needs to know, passed in by the caller (only ``api`` reads settings).

Defaults are DOMAIN.md's figures; ``api.settings`` exposes each of them as a setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Treatment of each env_zones.zone_type (DOMAIN.md table): ("exclusion" | "penalty" | "bonus",
# strength 0–1). Strength is how much of the environment criterion a penalty takes away.
DEFAULT_ZONE_RULES: dict[str, tuple[str, float]] = {
    "parc_national_coeur": ("exclusion", 1.0),
    "rnn": ("exclusion", 1.0),
    "rnr": ("exclusion", 1.0),
    "reserve_biologique": ("exclusion", 1.0),
    "appb": ("exclusion", 1.0),
    "site_classe": ("exclusion", 1.0),
    "zone_humide": ("exclusion", 1.0),
    "ramsar": ("exclusion", 1.0),
    "natura2000_zsc": ("penalty", 0.7),
    "natura2000_zps": ("penalty", 0.7),
    "znieff1": ("penalty", 0.7),
    "ppri_rouge": ("penalty", 0.7),
    "foret": ("penalty", 0.6),
    "znieff2": ("penalty", 0.35),
    "pnr": ("penalty", 0.35),
    "parc_national_adhesion": ("penalty", 0.35),
    "friche": ("bonus", 0.2),
    "zone_acceleration": ("bonus", 0.2),
}


def _default_weights() -> dict[str, float]:
    """The criteria registry's weights (imported here: the registry imports this module)."""
    from enrichment.criteria import default_weights

    return default_weights()


@dataclass(frozen=True)
class PvgisConfig:
    """PVGIS client parameters (see api.settings.PvgisSettings)."""

    base_url: str = "https://re.jrc.ec.europa.eu/api"
    api_version: str = "v5_3"
    timeout_s: float = 20.0
    retries: int = 3
    backoff_s: float = 0.5
    max_calls_per_second: float = 25.0
    loss_pct: float = 14.0
    pvtech: str = "crystSi"
    raddatabase: str | None = None
    enabled: bool = True
    cache_precision_deg: float = 0.05  # PVGIS-SARAH grid (see api settings)


@dataclass(frozen=True)
class EconomicAssumptions:
    """Economic defaults of DOMAIN.md; every one is stored with each result."""

    ha_per_mwc: float = 1.5
    capex_eur_per_mwc: float = 700_000.0
    opex_eur_per_mwc_yr: float = 17_500.0
    ifer_eur_per_mwh: float = 6.0
    land_rent_eur_per_ha_yr: float = 3_000.0
    tariff_eur_per_mwh: float = 79.0
    degradation_pct_yr: float = 0.4
    discount_rate_pct: float = 5.0
    lifetime_years: int = 30
    hta_cable_eur_per_km: float = 150_000.0
    htb_cable_eur_per_km: float = 600_000.0
    hta_max_mw: float = 12.0
    default_quote_part_eur_kw: float = 50.0
    quote_part_min_kva: float = 250.0

    def as_dict(self) -> dict[str, Any]:
        """The assumptions as a JSON object."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class ScoreConfig:
    """Criterion weights and the zone-treatment table."""

    weights: dict[str, float] = field(default_factory=_default_weights)
    zone_rules: dict[str, tuple[str, float]] = field(
        default_factory=lambda: dict(DEFAULT_ZONE_RULES)
    )

    def exclusion_types(self) -> list[str]:
        """Zone types that exclude a site."""
        return sorted(t for t, (kind, _) in self.zone_rules.items() if kind == "exclusion")


@dataclass(frozen=True)
class EnrichmentConfig:
    """Everything one enrichment needs besides the database."""

    pvgis: PvgisConfig = field(default_factory=PvgisConfig)
    economics: EconomicAssumptions = field(default_factory=EconomicAssumptions)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    nearby_radius_m: float = 5_000.0
    grid_candidates: int = 3
    # Postes farther than this are not "the nearest": DOMAIN.md, beyond ~15 km rarely viable.
    grid_radius_m: float = 30_000.0
