"""Economics of a site from its usable surface, sun and grid connection (DOMAIN.md formulas).

- installable MWc = usable ha / ha per MWc
- annual MWh = MWc × specific yield (kWh/kWc/yr) (MWc × 1000 kWc × kWh/kWc ÷ 1000)
- CAPEX = MWc × €/MWc; OPEX = MWc × €/MWc/yr + IFER €/MWh × MWh
- connection = km to the poste × cable €/km (HTA up to ``hta_max_mw``, HTB above)
  + S3REnR quote-part €/kW × kW (owed from ``quote_part_min_kva``)
- land rent = measured ha × €/ha/yr; revenue = MWh × tariff
- simple payback = (CAPEX + connection) / (revenue − OPEX − rent)
- LCOE = (CAPEX + connection + Σ discounted costs) / Σ discounted MWh, production falling by the
  degradation rate each year, over ``lifetime_years`` at ``discount_rate_pct``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from enrichment.config import EconomicAssumptions


@dataclass(frozen=True)
class Connection:
    """The chosen connection: voltage level, cost and its split."""

    voltage: str
    cable_eur: float
    quote_part_eur: float
    quote_part_eur_kw: float
    total_eur: float


def installable_mwc(usable_m2: float, a: EconomicAssumptions) -> float:
    """Installable peak power (MWc) on the usable surface."""
    return usable_m2 / 10_000.0 / a.ha_per_mwc


def connection_cost(
    mwc: float, distance_m: float, quote_part_eur_kw: float | None, a: EconomicAssumptions
) -> Connection:
    """Cable to the poste plus the S3REnR quote-part."""
    voltage = "HTA" if mwc <= a.hta_max_mw else "HTB"
    per_km = a.hta_cable_eur_per_km if voltage == "HTA" else a.htb_cable_eur_per_km
    cable = distance_m / 1000.0 * per_km
    qp_rate = a.default_quote_part_eur_kw if quote_part_eur_kw is None else quote_part_eur_kw
    kw = mwc * 1000.0
    qp = qp_rate * kw if kw >= a.quote_part_min_kva else 0.0
    return Connection(voltage, cable, qp, qp_rate, cable + qp)


def lcoe(
    investment: float, yearly_cost: float, first_year_mwh: float, a: EconomicAssumptions
) -> float | None:
    """Levelised cost of energy (€/MWh); None without production."""
    if first_year_mwh <= 0:
        return None
    r = a.discount_rate_pct / 100.0
    d = a.degradation_pct_yr / 100.0
    costs = investment
    energy = 0.0
    for year in range(1, a.lifetime_years + 1):
        disc = (1.0 + r) ** year
        costs += yearly_cost / disc
        energy += first_year_mwh * (1.0 - d) ** (year - 1) / disc
    return costs / energy


def economics(
    *,
    surface_m2: float,
    usable_m2: float,
    specific_yield: float | None,
    distance_m: float | None,
    quote_part_eur_kw: float | None,
    a: EconomicAssumptions,
) -> dict[str, Any]:
    """Every figure of lead_economic plus the assumptions used; None where an input is missing."""
    mwc = installable_mwc(usable_m2, a)
    mwh = mwc * specific_yield if specific_yield is not None else None
    capex = mwc * a.capex_eur_per_mwc
    conn = (
        connection_cost(mwc, distance_m, quote_part_eur_kw, a) if distance_m is not None else None
    )
    rent = surface_m2 / 10_000.0 * a.land_rent_eur_per_ha_yr
    opex = mwc * a.opex_eur_per_mwc_yr + (mwh or 0.0) * a.ifer_eur_per_mwh
    revenue = mwh * a.tariff_eur_per_mwh if mwh is not None else None
    investment = capex + (conn.total_eur if conn else 0.0)
    payback = None
    level = None
    # Without a connection (no poste known) payback and LCOE would leave out a cost that may
    # dominate: not computable rather than flattering.
    if revenue is not None and conn is not None:
        margin = revenue - opex - rent
        payback = investment / margin if margin > 0 and mwc > 0 else None
        level = lcoe(investment, opex + rent, mwh or 0.0, a)
    return {
        "installable_mwc": mwc,
        "annual_production_mwh": mwh,
        "capex_eur": capex,
        "opex_eur_yr": opex,
        "connection_cost_eur": conn.total_eur if conn else None,
        "connection_voltage": conn.voltage if conn else None,
        "annual_revenue_eur": revenue,
        "land_rent_eur_yr": rent,
        "simple_payback_years": payback,
        "lcoe_eur_mwh": level,
        "tariff_eur_mwh": a.tariff_eur_per_mwh,
        "assumptions": {
            **a.as_dict(),
            "connection": (
                {
                    "voltage": conn.voltage,
                    "cable_eur": conn.cable_eur,
                    "quote_part_eur": conn.quote_part_eur,
                    "quote_part_eur_kw": conn.quote_part_eur_kw,
                    "distance_m": distance_m,
                }
                if conn
                else None
            ),
            "specific_yield_kwh_kwc": specific_yield,
            "rent_basis": "surface mesurée",
            "opex_includes": "OPEX fixe + IFER",
        },
    }
