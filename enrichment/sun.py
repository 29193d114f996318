"""The sun part: PVGIS through a database cache shared by every process, or the offline estimate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from enrichment.config import PvgisConfig
from enrichment.estimate import estimate_sun
from enrichment.pvgis import (
    PvgisClient,
    PvgisInputError,
    PvgisUnavailable,
    SunResult,
    parse_pvcalc,
)
from enrichment.spatial import Part
from geo.models import PvgisCache


async def _cached(sessions: async_sessionmaker[AsyncSession], key: str) -> dict[str, Any] | None:
    async with sessions() as session:
        return await session.scalar(select(PvgisCache.response).where(PvgisCache.key == key))


async def _store(
    sessions: async_sessionmaker[AsyncSession], key: str, body: dict[str, Any]
) -> None:
    async with sessions() as session, session.begin():
        stmt = insert(PvgisCache).values(key=key, response=body)
        await session.execute(stmt.on_conflict_do_nothing(index_elements=[PvgisCache.key]))


async def sun_part(
    sessions: async_sessionmaker[AsyncSession],
    client: PvgisClient | None,
    lat: float,
    lon: float,
    config: PvgisConfig,
) -> tuple[SunResult | None, Part]:
    """PVGIS (cached) at the centroid; the labelled estimate when PVGIS can't be reached."""
    part = Part()
    if client is None or not config.enabled:
        part.note("PVGIS désactivé : estimation hors ligne utilisée")
        return estimate_sun(lat, lon, config.loss_pct), part
    key = client.cache_key(lat, lon)
    params = client.params(lat, lon)
    inputs = {"tool": "PVcalc", "api_version": config.api_version, **params}
    try:
        body = client.memo.get(key) or await _cached(sessions, key)
        if body is not None:
            result = parse_pvcalc(body, {**inputs, "cached": True})
        else:
            body, _ = await client.pvcalc(lat, lon)
            result = parse_pvcalc(body, {**inputs, "cached": False})
            await _store(sessions, key, body)  # only answers that parsed are kept
        client.remember(key, body)
        return result, part
    except PvgisInputError as exc:
        part.note(f"{exc.message} ; pas de données d'ensoleillement pour ce point")
        return None, part
    except PvgisUnavailable as exc:
        part.note(f"Estimation hors ligne, à ré-enrichir : {exc.message}")
        return estimate_sun(lat, lon, config.loss_pct), part


def sun_data(sun: SunResult | None) -> dict[str, Any]:
    """The sun part as JSON."""
    if sun is None:
        return {"source": None}
    return {
        "source": sun.source,
        "specific_yield_kwh_kwc": sun.specific_yield_kwh_kwc,
        "irradiation_kwh_m2": sun.irradiation_kwh_m2,
        "optimal_tilt_deg": sun.optimal_tilt_deg,
        "azimuth_deg": sun.azimuth_deg,
        "radiation_database": sun.radiation_database,
        "monthly": sun.monthly,
        "losses": sun.losses,
        "inputs": sun.inputs,
    }
