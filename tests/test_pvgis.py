"""The PVGIS client against the stand-in (a real HTTP server): parameters, retries on 429/5xx/529,
garbage, HTML, timeouts, a point at sea; the rate limit; the offline estimate vs recorded PVGIS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from enrichment.config import PvgisConfig
from enrichment.estimate import estimate_yield
from enrichment.pvgis import (
    PvgisClient,
    PvgisInputError,
    PvgisUnavailable,
    TokenBucket,
    parse_pvcalc,
    to_number,
)
from tests.pvgis_standin import RECORDED as RECORDED_FILE
from tests.pvgis_standin import SEA_MESSAGE, PvgisStandin

RECORDED = json.loads(RECORDED_FILE.read_text())


@pytest.fixture(scope="module")
def standin() -> Iterator[PvgisStandin]:
    s = PvgisStandin(rate=1000).start()
    s.timeout_s = 1.5
    yield s
    s.stop()


@pytest.fixture
async def client(standin: PvgisStandin):
    standin.script.clear()
    standin.rate = 1000
    c = PvgisClient(
        PvgisConfig(
            base_url=standin.url, retries=2, backoff_s=0.01, timeout_s=0.5, max_calls_per_second=500
        )
    )
    yield c
    await c.aclose()


async def test_pvcalc_sends_pvgis_parameters(client: PvgisClient, standin: PvgisStandin) -> None:
    body, params = await client.pvcalc(46.1234, 3.4567)
    sent = standin.calls[-1]
    # Rounded to the default 0.05° cell (PVGIS-SARAH's grid): the nearest multiples of 0.05.
    assert sent == {
        "lat": "46.1",
        "lon": "3.45",
        "peakpower": "1",
        "loss": "14.0",
        "mountingplace": "free",
        "optimalangles": "1",
        "pvtechchoice": "crystSi",
        "outputformat": "json",
    }
    result = parse_pvcalc(body, params)
    assert result.source == "pvgis" and result.optimal_tilt_deg == 35
    assert result.radiation_database == "PVGIS-SARAH3" and len(result.monthly) == 12
    assert result.losses["l_spec"] == pytest.approx(0.93)  # a string in PVGIS' JSON


async def test_v5_2_path(standin: PvgisStandin) -> None:
    c = PvgisClient(PvgisConfig(base_url=standin.url, api_version="v5_2", retries=0))
    try:
        body, _ = await c.pvcalc(45.0, 5.0)
    finally:
        await c.aclose()
    assert body["outputs"]["totals"]["fixed"]["E_y"] > 0


@pytest.mark.parametrize("failures", [[429], [429, 429], [500], [529, 503]])
async def test_retries_then_answers(
    client: PvgisClient, standin: PvgisStandin, failures: list[int]
) -> None:
    standin.script.extend(failures)
    n = len(standin.calls)
    body, _ = await client.pvcalc(45.0, 5.0)
    assert body["outputs"]["totals"]["fixed"]["E_y"] > 0
    assert len(standin.calls) - n == len(failures) + 1


async def test_gives_up_after_retries(client: PvgisClient, standin: PvgisStandin) -> None:
    standin.script.extend([529, 529, 529])
    with pytest.raises(PvgisUnavailable, match="PVGIS a répondu HTTP 529 après 3 tentatives"):
        await client.pvcalc(45.0, 5.0)


async def test_real_rate_limit_429_is_retried(standin: PvgisStandin) -> None:
    standin.script.clear()
    standin.rate = 3  # the stand-in refuses a 4th call within a second
    c = PvgisClient(
        PvgisConfig(base_url=standin.url, retries=4, backoff_s=0.3, max_calls_per_second=500)
    )
    try:
        for i in range(6):
            await c.pvcalc(45.0 + i * 0.1, 5.0)
    finally:
        await c.aclose()
        standin.rate = 1000


@pytest.mark.parametrize(
    "mode,message",
    [
        ("html", "autre chose que du JSON (text/html)"),
        ("garbage", "autre chose que du JSON"),
    ],
)
async def test_garbage_is_unavailable(
    client: PvgisClient, standin: PvgisStandin, mode: str, message: str
) -> None:
    standin.script.append(mode)
    with pytest.raises(PvgisUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
        await client.pvcalc(45.0, 5.0)


async def test_timeout(client: PvgisClient, standin: PvgisStandin) -> None:
    standin.script.extend(["timeout"] * 3)
    t = time.monotonic()
    with pytest.raises(PvgisUnavailable, match="PVGIS n'a pas répondu en 0,5 s après 3 tentatives"):
        await client.pvcalc(45.0, 5.0)
    assert time.monotonic() - t < 3.0


async def test_sea_is_a_clear_input_error(client: PvgisClient, standin: PvgisStandin) -> None:
    n = len(standin.calls)
    with pytest.raises(PvgisInputError) as info:
        await client.pvcalc(46.0, -6.0)  # Bay of Biscay
    # PVGIS' own message, quoted as received after a French lead-in.
    assert info.value.message == f"PVGIS a refusé le point : « {SEA_MESSAGE} »"
    assert len(standin.calls) - n == 1  # a 400 is not retried


async def test_unreachable() -> None:
    c = PvgisClient(PvgisConfig(base_url="http://127.0.0.1:9/api", retries=1, backoff_s=0.01))
    try:
        with pytest.raises(PvgisUnavailable, match=r"PVGIS injoignable \(\w+\) après 2 tentatives"):
            await c.pvcalc(45.0, 5.0)
    finally:
        await c.aclose()


def test_parse_tolerates_odd_numbers() -> None:
    assert to_number("0.92") == 0.92 and to_number("?(0)") is None and to_number(None) is None
    assert to_number(float("nan")) is None and to_number(True) is None
    body = json.loads(json.dumps(RECORDED))
    body["outputs"]["totals"]["fixed"]["l_spec"] = "?(0)"
    assert parse_pvcalc(body, {}).losses["l_spec"] is None
    with pytest.raises(PvgisUnavailable):
        parse_pvcalc({"outputs": {}}, {})
    body["outputs"]["totals"]["fixed"]["E_y"] = "?(0)"
    with pytest.raises(PvgisUnavailable, match="production annuelle exploitable \\(E_y\\)"):
        parse_pvcalc(body, {})


async def test_token_bucket_spaces_calls() -> None:
    bucket = TokenBucket(50.0)
    t = time.monotonic()
    for _ in range(21):
        await bucket.acquire()
    assert time.monotonic() - t >= 20 / 50 * 0.95


def test_estimate_within_10pct_of_recorded_pvgis() -> None:
    # The recorded PVGIS v5.3 answer: 45°N 8°E, slope 0 (horizontal), c-Si, 14 % loss.
    inputs = RECORDED["inputs"]
    slope = inputs["mounting_system"]["fixed"]["slope"]["value"]
    e_y = RECORDED["outputs"]["totals"]["fixed"]["E_y"]
    est = estimate_yield(
        inputs["location"]["latitude"], tilt=slope, loss_pct=inputs["pv_module"]["system_loss"]
    )
    assert abs(est - e_y) / e_y < 0.10, (est, e_y)


@pytest.mark.parametrize(
    "lat,low,high", [(50.5, 950, 1050), (47.0, 1100, 1250), (43.6, 1300, 1450), (42.0, 1400, 1550)]
)
def test_estimate_matches_domain_ranges(lat: float, low: float, high: float) -> None:
    assert low <= estimate_yield(lat) <= high
