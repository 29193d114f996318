"""An async PVGIS client: PVcalc with timeouts, retries with backoff, a client-side rate limit.

PVGIS allows 30 calls/s per IP (429 above) and answers 529 when overloaded; a point it can't
compute (at sea, say) is a 400 with a JSON ``message``. Answers are parsed defensively: some
numbers come back as strings ("0.93", even "?(0)").
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from enrichment.config import PvgisConfig
from enrichment.metrics import PVGIS_CALLS, pvgis_outcome
from enrichment.wording import num
from geo.shared_state import SharedState, SharedStateUnavailable, Throttled

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})


class PvgisError(Exception):
    """PVGIS could not give an answer; ``message`` says why, in French, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PvgisInputError(PvgisError):
    """PVGIS refused the inputs (400), e.g. a location over the sea: retrying won't help."""


class PvgisUnavailable(PvgisError):
    """PVGIS is unreachable, overloaded, too slow or answered something that isn't its JSON."""


class TokenBucket:
    """At most ``rate`` acquisitions per second in this process, evenly spaced (no burst)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for the next slot."""
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            await asyncio.sleep(wait)


class SharedBucket:
    """At most ``rate`` acquisitions per second across every process using this database.

    The budget's next free slot is one row of ``rate_slots``; a call reserves the slot after it
    in one upsert (the row lock serialises concurrent callers for the statement's duration
    only), then sleeps until its slot. The API, its worker and any number of workers on any
    machines then share PVGIS' 30 calls/s instead of each taking 25.
    """

    _RESERVE = text(
        """INSERT INTO rate_slots AS r (name, next_slot)
           VALUES (:name, clock_timestamp() + make_interval(secs => :interval))
           ON CONFLICT (name) DO UPDATE
           SET next_slot = greatest(r.next_slot, clock_timestamp())
                           + make_interval(secs => :interval)
           RETURNING CAST(extract(epoch FROM r.next_slot - clock_timestamp()) AS float8)
                     - :interval"""
    )

    def __init__(self, engine: AsyncEngine, rate: float, name: str = "pvgis") -> None:
        self.engine = engine
        self.interval = 1.0 / rate
        self.name = name

    async def acquire(self) -> None:
        """Reserve the next slot of the shared budget and wait for it."""
        async with self.engine.begin() as conn:
            params = {"name": self.name, "interval": self.interval}
            wait = float((await conn.execute(self._RESERVE, params)).scalar_one())
        if wait > 0:
            await asyncio.sleep(wait)


class StateBucket:
    """The shared budget in the deployment's shared state (:mod:`geo.shared_state`: Redis when
    ``LFS_REDIS_URL`` is set, else the database's ``rate_slots`` row, as :class:`SharedBucket`).

    When Redis does not answer, ``fallback`` (the database's slot) paces the calls: the budget
    stays shared by every process that fell back, at worst twice PVGIS' pace while some
    processes still reach Redis and others don't.
    """

    def __init__(
        self,
        state: SharedState,
        rate: float,
        fallback: SharedBucket | TokenBucket,
        name: str = "pvgis",
    ) -> None:
        self.state = state
        self.interval = 1.0 / rate
        self.fallback = fallback
        self.name = name
        # The slot's wait is counted from when Redis reserved it; a reply read late (an event
        # loop busy opening connections, say) would send several calls at once: this process'
        # own calls are also kept one interval apart (measured: 7 calls in the same 10 ms at a
        # worker's start, PVGIS' 429s, without it).
        self.local = TokenBucket(rate)
        self._warn = Throttled(log)

    async def acquire(self) -> None:
        """Reserve the next slot of the shared budget and wait for it."""
        try:
            wait = await self.state.reserve_slot(self.name, self.interval)
        except SharedStateUnavailable as exc:
            self._warn.warning("PVGIS budget from the database's slot (%s)", exc)
            await self.fallback.acquire()
            return
        if wait > 0:
            await asyncio.sleep(wait)
        await self.local.acquire()


def to_number(value: Any) -> float | None:
    """A float from PVGIS' numbers or numeric strings; None for "?(0)", "", NaN and the like."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+(\.\d+)?([eE][-+]?\d+)?\s*", value):
        return float(value)
    return None


@dataclass
class SunResult:
    """Yearly and monthly production of 1 kWc, from PVGIS or the offline estimate."""

    source: str  # 'pvgis' or 'estimate'
    specific_yield_kwh_kwc: float
    irradiation_kwh_m2: float | None
    optimal_tilt_deg: float | None
    azimuth_deg: float | None
    radiation_database: str | None
    monthly: list[dict[str, Any]] = field(default_factory=list)
    losses: dict[str, float | None] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)


def parse_pvcalc(body: Any, inputs: dict[str, Any]) -> SunResult:
    """Read a PVcalc JSON answer; PvgisUnavailable if its shape isn't PVGIS'."""
    try:
        totals = body["outputs"]["totals"]["fixed"]
        monthly_rows = body["outputs"]["monthly"]["fixed"]
        mounting = body["inputs"]["mounting_system"]["fixed"]
        meteo = body["inputs"].get("meteo_data", {})
    except (KeyError, TypeError) as exc:
        raise PvgisUnavailable("PVGIS a répondu un JSON sans les résultats PVcalc") from exc
    e_y = to_number(totals.get("E_y"))
    if e_y is None or e_y <= 0:
        raise PvgisUnavailable("PVGIS a répondu sans production annuelle exploitable (E_y)")
    monthly = []
    for row in monthly_rows if isinstance(monthly_rows, list) else []:
        if isinstance(row, dict) and to_number(row.get("month")) is not None:
            monthly.append(
                {
                    "month": int(to_number(row["month"]) or 0),
                    "e_m_kwh_kwc": to_number(row.get("E_m")),
                    "h_m_kwh_m2": to_number(row.get("H(i)_m")),
                }
            )
    return SunResult(
        source="pvgis",
        specific_yield_kwh_kwc=e_y,
        irradiation_kwh_m2=to_number(totals.get("H(i)_y")),
        optimal_tilt_deg=to_number((mounting.get("slope") or {}).get("value")),
        azimuth_deg=to_number((mounting.get("azimuth") or {}).get("value")),
        radiation_database=meteo.get("radiation_db") if isinstance(meteo, dict) else None,
        monthly=monthly,
        losses={k: to_number(totals.get(k)) for k in ("l_aoi", "l_spec", "l_tg", "l_total")},
        inputs=inputs,
    )


def pvcalc_params(config: PvgisConfig, lat: float, lon: float) -> dict[str, Any]:
    """PVcalc query parameters (booleans as 0/1, PVGIS' convention); coordinates rounded to the
    cache precision before the call (one answer per cell)."""
    step = config.cache_precision_deg
    p: dict[str, Any] = {
        "lat": round(round(lat / step) * step, 6),
        "lon": round(round(lon / step) * step, 6),
        "peakpower": 1,
        "loss": config.loss_pct,
        "mountingplace": "free",
        "optimalangles": 1,
        "pvtechchoice": config.pvtech,
        "outputformat": "json",
    }
    if config.raddatabase:
        p["raddatabase"] = config.raddatabase
    return p


def pvcalc_cache_key(config: PvgisConfig, lat: float, lon: float) -> str:
    """The cache key of a cell's answer: tool, version and every parameter."""
    p = pvcalc_params(config, lat, lon)
    parts = [f"{k}={p[k]}" for k in sorted(p)]
    return f"PVcalc/{config.api_version}?" + "&".join(parts)


class PvgisClient:
    """PVcalc calls for a free-standing plant at optimal angles, 1 kWc."""

    def __init__(
        self,
        config: PvgisConfig,
        http: httpx.AsyncClient | None = None,
        engine: AsyncEngine | None = None,
        shared: SharedState | None = None,
    ) -> None:
        self.config = config
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=config.timeout_s)
        # With the database: one budget for the whole deployment; without: this process's.
        rate = config.max_calls_per_second
        base = SharedBucket(engine, rate) if engine is not None else TokenBucket(rate)
        # With the deployment's shared state on Redis, the budget is held there.
        self.bucket: TokenBucket | SharedBucket | StateBucket = (
            StateBucket(shared, rate, base)
            if shared is not None and shared.backend != "postgresql"
            else base
        )
        # Answers already read from the database cache or PVGIS, kept in process (LRU) so a
        # batch doesn't re-read the same cell's answer for every lead.
        self.memo: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.memo_size = 10_000

    def remember(self, key: str, body: dict[str, Any]) -> None:
        """Keep an answer in the in-process LRU."""
        self.memo[key] = body
        self.memo.move_to_end(key)
        while len(self.memo) > self.memo_size:
            self.memo.popitem(last=False)

    def params(self, lat: float, lon: float) -> dict[str, Any]:
        """PVcalc query parameters (:func:`pvcalc_params`)."""
        return pvcalc_params(self.config, lat, lon)

    def cache_key(self, lat: float, lon: float) -> str:
        """The cache key (:func:`pvcalc_cache_key`)."""
        return pvcalc_cache_key(self.config, lat, lon)

    async def pvcalc(self, lat: float, lon: float) -> tuple[dict[str, Any], dict[str, Any]]:
        """The raw PVcalc JSON and the parameters sent; PvgisError subclasses on failure."""
        url = f"{self.config.base_url.rstrip('/')}/{self.config.api_version}/PVcalc"
        params = self.params(lat, lon)
        last = "PVGIS n'a pas répondu"
        for attempt in range(self.config.retries + 1):
            if attempt:
                await asyncio.sleep(self.config.backoff_s * 2 ** (attempt - 1))
            await self.bucket.acquire()
            try:
                resp = await self.http.get(url, params=params, timeout=self.config.timeout_s)
            except httpx.TimeoutException:
                PVGIS_CALLS.labels("error").inc()
                last = f"PVGIS n'a pas répondu en {num(self.config.timeout_s, 2, trim=True)} s"
                continue
            except httpx.HTTPError as exc:
                PVGIS_CALLS.labels("error").inc()
                last = f"PVGIS injoignable ({type(exc).__name__})"
                continue
            if resp.status_code != 200:
                PVGIS_CALLS.labels(pvgis_outcome(resp.status_code)).inc()
            if resp.status_code in RETRY_STATUSES:
                last = f"PVGIS a répondu HTTP {resp.status_code}"
                if resp.status_code == 429:
                    last += " (limite de débit)"
                continue
            if resp.status_code == 400:
                said = _message(resp)  # PVGIS' own words, quoted as received
                why = f" : « {said} »" if said else " (sans message)"
                raise PvgisInputError(f"PVGIS a refusé le point{why}")
            if resp.status_code != 200:
                raise PvgisUnavailable(f"PVGIS a répondu HTTP {resp.status_code}")
            try:
                body = resp.json()
            except ValueError as exc:
                PVGIS_CALLS.labels("error").inc()
                kind = resp.headers.get("content-type", "unknown").split(";")[0]
                msg = f"PVGIS a répondu autre chose que du JSON ({kind})"
                raise PvgisUnavailable(msg) from exc
            if not isinstance(body, dict):
                PVGIS_CALLS.labels("error").inc()
                raise PvgisUnavailable("PVGIS a répondu un JSON de forme inattendue")
            PVGIS_CALLS.labels("ok").inc()
            return body, params
        tries = self.config.retries + 1
        raise PvgisUnavailable(f"{last} après {tries} {'tentatives' if tries > 1 else 'tentative'}")

    async def aclose(self) -> None:
        """Close the HTTP client if this object made it."""
        if self._own_http:
            await self.http.aclose()


def _message(resp: httpx.Response) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200] or None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"] or None
    return None
