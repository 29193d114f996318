"""The offline sun estimate used when PVGIS can't be reached: a latitude table, labelled 'estimate'.

The table is the specific yield (kWh/kWc/yr) of a fixed, optimally tilted, free-standing c-Si
plant with 14 % losses, calibrated on DOMAIN.md's regional figures (north 950–1,050; centre and
west 1,100–1,250; south 1,300–1,450; Provence and Corsica up to ~1,500). Away from the optimal
tilt the yield falls as a parabola in the tilt error, reaching ``horizontal_ratio`` at 0° — the
ratio of horizontal to optimal yield seen in PVGIS for mid-latitude Europe (≈ 0.86 at 45°N,
lower further north where the sun is lower).
"""

from __future__ import annotations

from bisect import bisect_left

from enrichment.pvgis import SunResult

# (latitude °N, optimal-tilt specific yield kWh/kWc/yr)
YIELD_BY_LATITUDE: tuple[tuple[float, float], ...] = (
    (41.0, 1510.0),
    (42.0, 1490.0),
    (43.0, 1440.0),
    (44.0, 1370.0),
    (45.0, 1300.0),
    (46.0, 1235.0),
    (47.0, 1175.0),
    (48.0, 1115.0),
    (49.0, 1060.0),
    (50.0, 1010.0),
    (51.0, 980.0),
)


def optimal_tilt(lat: float) -> float:
    """Optimal fixed tilt (°) for a latitude: ≈ 33–38° over France (DOMAIN.md)."""
    return round(0.6 * abs(lat) + 9.0, 1)


def horizontal_ratio(lat: float) -> float:
    """Yield of a horizontal plane relative to the optimal tilt."""
    return 0.86 - 0.004 * (abs(lat) - 45.0)


def optimal_yield(lat: float) -> float:
    """Interpolated optimal-tilt yield; clamped at the table's ends."""
    lats = [row[0] for row in YIELD_BY_LATITUDE]
    if lat <= lats[0]:
        return YIELD_BY_LATITUDE[0][1]
    if lat >= lats[-1]:
        return YIELD_BY_LATITUDE[-1][1]
    i = bisect_left(lats, lat)
    (la0, y0), (la1, y1) = YIELD_BY_LATITUDE[i - 1], YIELD_BY_LATITUDE[i]
    return y0 + (y1 - y0) * (lat - la0) / (la1 - la0)


def estimate_yield(lat: float, tilt: float | None = None, loss_pct: float = 14.0) -> float:
    """Specific yield (kWh/kWc/yr) at ``tilt`` (optimal when None) and ``loss_pct`` losses."""
    best = optimal_tilt(lat)
    y = optimal_yield(lat)
    if tilt is not None:
        rel = (tilt - best) / best
        y *= 1.0 - (1.0 - horizontal_ratio(lat)) * rel * rel
    return y * (1.0 - loss_pct / 100.0) / (1.0 - 0.14)


def estimate_sun(lat: float, lon: float, loss_pct: float = 14.0) -> SunResult:
    """A SunResult from the table, at the optimal tilt, clearly labelled as an estimate."""
    return SunResult(
        source="estimate",
        specific_yield_kwh_kwc=round(estimate_yield(lat, None, loss_pct), 1),
        irradiation_kwh_m2=None,
        optimal_tilt_deg=optimal_tilt(lat),
        azimuth_deg=0.0,
        radiation_database=None,
        monthly=[],
        losses={},
        inputs={
            "method": "table par latitude (DOMAIN.md)",
            "lat": lat,
            "lon": lon,
            "loss": loss_pct,
        },
    )
