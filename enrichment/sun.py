"""The sun part: PVGIS through a database cache shared by every process, or the offline estimate."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from enrichment.config import PvgisConfig
from enrichment.estimate import estimate_sun
from enrichment.metrics import PVGIS_CALLS
from enrichment.pvgis import (
    PvgisClient,
    PvgisError,
    PvgisInputError,
    PvgisUnavailable,
    SunResult,
    parse_pvcalc,
)
from enrichment.spatial import Part
from geo.models import PvgisCache


async def _cached_many(
    sessions: async_sessionmaker[AsyncSession], keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The stored answers for these keys, in one query."""
    if not keys:
        return {}
    async with sessions() as session:
        rows = await session.execute(
            select(PvgisCache.key, PvgisCache.response).where(PvgisCache.key.in_(list(keys)))
        )
        return {k: body for k, body in rows}


async def _store_many(
    sessions: async_sessionmaker[AsyncSession], bodies: dict[str, dict[str, Any]]
) -> None:
    if not bodies:
        return
    async with sessions() as session, session.begin():
        stmt = insert(PvgisCache).values([{"key": k, "response": b} for k, b in bodies.items()])
        await session.execute(stmt.on_conflict_do_nothing(index_elements=[PvgisCache.key]))


async def sun_part(
    sessions: async_sessionmaker[AsyncSession],
    client: PvgisClient | None,
    lat: float,
    lon: float,
    config: PvgisConfig,
) -> tuple[SunResult | None, Part]:
    """PVGIS (cached) at the centroid; the labelled estimate when PVGIS can't be reached."""
    return (await sun_parts(sessions, client, [(lat, lon)], config))[0]


async def sun_parts(
    sessions: async_sessionmaker[AsyncSession],
    client: PvgisClient | None,
    points: Sequence[tuple[float, float]],
    config: PvgisConfig,
) -> list[tuple[SunResult | None, Part]]:
    """The sun part of each (lat, lon) of a chunk: the chunk's distinct cells are read from the
    cache in one query, the missing ones asked of PVGIS concurrently (under the client's rate
    limit), the parsed answers stored in one statement. Same results as one point at a time: the
    first lead of a cell fetched now says ``cached: false``, the others ``cached: true``."""
    if client is None or not config.enabled:
        out: list[tuple[SunResult | None, Part]] = []
        for lat, lon in points:
            part = Part()
            part.note("PVGIS désactivé : estimation hors ligne utilisée")
            out.append((estimate_sun(lat, lon, config.loss_pct), part))
        return out
    keys = [client.cache_key(lat, lon) for lat, lon in points]
    bodies: dict[str, dict[str, Any]] = {k: client.memo[k] for k in set(keys) if k in client.memo}
    missing = [k for k in dict.fromkeys(keys) if k not in bodies]
    bodies |= await _cached_many(sessions, missing)
    where = dict(zip(keys, points, strict=True))
    to_fetch = [k for k in missing if k not in bodies]
    answers = await asyncio.gather(
        *(client.pvcalc(*where[k]) for k in to_fetch), return_exceptions=True
    )
    fetched: dict[str, Any] = {}
    for k, answer in zip(to_fetch, answers, strict=True):
        if isinstance(answer, BaseException) and not isinstance(answer, PvgisError):
            raise answer
        fetched[k] = answer if isinstance(answer, PvgisError) else answer[0]
    results: list[tuple[SunResult | None, Part]] = []
    to_store: dict[str, dict[str, Any]] = {}
    first_use: set[str] = set()
    for key, (lat, lon) in zip(keys, points, strict=True):
        part = Part()
        inputs = {"tool": "PVcalc", "api_version": config.api_version, **client.params(lat, lon)}
        try:
            if key in bodies:
                result = parse_pvcalc(bodies[key], {**inputs, "cached": True})
            else:
                body = fetched[key]
                if isinstance(body, PvgisError):
                    raise body
                result = parse_pvcalc(body, {**inputs, "cached": key in first_use})
                first_use.add(key)
                to_store[key] = body  # only answers that parsed are kept
            client.remember(key, bodies.get(key) or fetched[key])
            results.append((result, part))
        except PvgisInputError as exc:
            part.note(f"{exc.message} ; pas de données d'ensoleillement pour ce point")
            results.append((None, part))
        except PvgisUnavailable as exc:
            PVGIS_CALLS.labels("estimate").inc()
            part.note(f"Estimation hors ligne, à ré-enrichir : {exc.message}")
            results.append((estimate_sun(lat, lon, config.loss_pct), part))
    await _store_many(sessions, to_store)
    return results


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
