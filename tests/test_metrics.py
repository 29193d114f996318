"""GET /metrics after real requests: per-route latency (the lead routes included), tiles,
PVGIS outcomes, pools, queue depth, login failures; who may read it; several processes."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.settings import Settings
from enrichment.config import PvgisConfig
from enrichment.pvgis import PvgisClient, PvgisUnavailable
from enrichment.sun import sun_parts
from geo.models import Role
from tests.conftest import HeadersFactory, assert_problem, make_settings
from tests.lead_fixtures import load_communes, load_parcels, sync_url
from tests.pvgis_standin import PvgisStandin
from tests.server_process import ServerProcess

PARCELS = ["69114000AA0030", "69114000AA0022"]
COUNTED = "/api/web/config"  # not the route ServerProcess.start polls (its late polls would count)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent: a counter never incremented)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return parse(r.text)


def requests_of(samples: Samples, method: str, route: str, status: str) -> float:
    return value(
        samples,
        "lfs_http_request_duration_seconds_count",
        method=method,
        route=route,
        status=status,
    )


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The Web Mercator tile holding a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


async def test_requests_tiles_logins_pools_and_queue(
    client: httpx.AsyncClient, app: FastAPI, auth_headers: HeadersFactory, db_url: str
) -> None:
    load_parcels(db_url, PARCELS)
    load_communes(db_url)
    ops = await auth_headers(Role.OPS)
    before = await scrape(client)

    r = await client.post("/api/leads", json={"parcel_ids": PARCELS, "name": "M"}, headers=ops)
    assert r.status_code == 201, r.text
    lead_id = r.json()["id"]
    for _ in range(3):
        assert (await client.get(f"/api/leads/{lead_id}", headers=ops)).status_code == 200
    assert (await client.get("/api/leads", headers=ops)).status_code == 200
    assert (await client.get("/api/leads")).status_code == 401
    assert (await client.get("/api/auth/me", headers=ops)).status_code == 200
    assert (await client.get("/api/no/such/thing")).status_code == 404
    bad = {"email": "nobody@example.fr", "password": "wrong password 123"}
    assert (await client.post("/api/auth/login", json=bad)).status_code == 401
    x, y = tile_xy(4.835, 45.76, 9)  # Lyon
    tiles = [await client.get(f"/tiles/communes/9/{x}/{y}.mvt") for _ in range(2)]
    assert [t.status_code for t in tiles] == [200, 200]
    # Sent as stored (gzipped once by the tile service): the bytes on the wire.
    tile_bytes = tiles[0].num_bytes_downloaded
    assert tiles[0].headers.get("content-encoding") == "gzip" and tile_bytes > 100
    with psycopg.connect(sync_url(db_url)) as conn:
        conn.execute("SET statement_timeout = '5s'")
        (todo,) = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'enrichment'"
            " AND status = 'todo'"
        ).fetchone()

    after = await scrape(client)

    def delta(method: str, route: str, status: str) -> float:
        return requests_of(after, method, route, status) - requests_of(
            before, method, route, status
        )

    assert delta("POST", "/api/leads", "2xx") == 1
    assert delta("GET", "/api/leads/{lead_id}", "2xx") == 3
    assert delta("GET", "/api/leads", "2xx") == 1
    assert delta("GET", "/api/leads", "4xx") == 1
    assert delta("GET", "/api/auth/me", "2xx") == 1
    assert delta("GET", "<unmatched>", "4xx") == 1  # one series for every unknown path
    assert delta("POST", "/api/auth/login", "4xx") == 1
    assert delta("GET", "/tiles/{layers}/{z}/{x}/{y}.{fmt}", "2xx") == 2
    # The histogram's buckets hold the same requests: 3 details, all under 10 s.
    le10 = ("lfs_http_request_duration_seconds_bucket",)
    assert value(after, *le10, method="GET", route="/api/leads/{lead_id}", status="2xx", le="10.0")
    assert value(after, "lfs_login_failures_total") - value(before, "lfs_login_failures_total") == 1

    def tiles_delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert tiles_delta("lfs_tile_cache_requests_total", layer="communes", cache="miss") == 1
    assert tiles_delta("lfs_tile_cache_requests_total", layer="communes", cache="hit") == 1
    assert tiles_delta("lfs_tile_bytes_total", layer="communes") == 2 * tile_bytes

    # Pools: the SQLAlchemy pool opened connections; the tile pool exists now, nothing in use.
    assert value(after, "lfs_db_pool_connections", pool="orm", state="open") >= 1
    assert value(after, "lfs_db_pool_connections", pool="tiles", state="open") == 10
    assert value(after, "lfs_db_pool_connections", pool="tiles", state="in_use") == 0
    assert value(after, "lfs_enrichment_queue_tasks", status="todo") == todo


async def test_request_id_is_returned_and_validated(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/health", headers={"X-Request-ID": "lb-7f3a.9:2"})
    assert r.headers["x-request-id"] == "lb-7f3a.9:2"
    for forged in (b"a b", b"x" * 129, b"id\xe9", b"a\\nb", b'{"level":"x"}', b""):
        r = await client.get("/api/health", headers={"X-Request-ID": forged})
        rid = r.headers["x-request-id"]
        assert rid.encode() != forged and len(rid) == 32 and int(rid, 16) >= 0
    ids = {(await client.get("/api/health")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    r = await client.get("/api/leads/1")  # the detail's 401: an id as well
    assert r.status_code == 401 and len(r.headers["x-request-id"]) == 32


async def test_metrics_are_protected(settings: Settings, tmp_path: Path) -> None:
    open_app = create_app(settings)
    async with open_app.router.lifespan_context(open_app):
        far = httpx.ASGITransport(app=open_app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=far, base_url="http://t") as c:
            assert_problem(await c.get("/metrics"), 403)
        near = httpx.ASGITransport(app=open_app, client=("::1", 4000))
        async with httpx.AsyncClient(transport=near, base_url="http://t") as c:
            assert (await c.get("/metrics")).status_code == 200

    token = {"token": "s3cret-scrape"}
    locked = create_app(make_settings(settings.database_url, tmp_path, metrics=token))
    async with locked.router.lifespan_context(locked):
        for client_addr in (("127.0.0.1", 1), ("203.0.113.9", 1)):
            t = httpx.ASGITransport(app=locked, client=client_addr)
            async with httpx.AsyncClient(transport=t, base_url="http://t") as c:
                r = await c.get("/metrics")
                assert_problem(r, 401)  # the token is asked even on loopback
                r = await c.get("/metrics", headers={"Authorization": "Bearer nope"})
                assert_problem(r, 401)
                r = await c.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
                assert r.status_code == 200 and "lfs_http_request_duration_seconds" in r.text


@pytest.fixture
def standin() -> Iterator[PvgisStandin]:
    s = PvgisStandin(rate=1000).start()
    try:
        yield s
    finally:
        s.stop()


async def test_pvgis_outcomes(standin: PvgisStandin, state) -> None:
    from prometheus_client import REGISTRY

    def outcome(name: str) -> float:
        return REGISTRY.get_sample_value("lfs_pvgis_calls_total", {"outcome": name}) or 0.0

    before = {k: outcome(k) for k in ("ok", "429", "error", "estimate")}
    config = PvgisConfig(base_url=standin.url, retries=2, backoff_s=0.0, timeout_s=5)
    client = PvgisClient(config)
    try:
        standin.script.extend([429, 500])  # two refusals, then the answer
        await client.pvcalc(45.76, 4.83)
        standin.script.extend([429, 429, 429])  # every try refused: the lead gets the estimate
        results = await sun_parts(state.sessions, client, [(44.0, 4.5)], config)
        assert results[0][0] is not None and results[0][0].source == "estimate"
    finally:
        await client.aclose()
    got = {k: outcome(k) - before[k] for k in before}
    assert got == {"ok": 1, "429": 4, "error": 1, "estimate": 1}
    with pytest.raises(PvgisUnavailable):
        standin.script.append("garbage")
        c2 = PvgisClient(PvgisConfig(base_url=standin.url, retries=0, timeout_s=5))
        try:
            await c2.pvcalc(45.0, 5.0)
        finally:
            await c2.aclose()
    assert outcome("error") - before["error"] == 2


def test_workers_add_up(settings: Settings, tmp_path: Path) -> None:
    """`serve --workers 2`: whichever worker answers /metrics counts every worker's requests."""
    log = tmp_path / "serve.log"
    server = ServerProcess(settings, log, LFS_LOG_FORMAT="json")
    server.argv = [a for a in server.argv if a != "--no-access-log"] + ["--workers", "2"]
    try:
        server.start()
        before = parse(httpx.get(f"{server.url}/metrics").text)
        n = 24
        for _ in range(n):  # a new connection each: SO_REUSEPORT spreads them over both workers
            with httpx.Client() as c:
                assert c.get(f"{server.url}{COUNTED}").status_code == 200
        time.sleep(0.1)
        for _ in range(4):  # scrapes land on either worker: each sees the total
            after = parse(httpx.get(f"{server.url}/metrics").text)
            got = requests_of(after, "GET", COUNTED, "2xx") - requests_of(
                before, "GET", COUNTED, "2xx"
            )
            assert got == n
            assert requests_of(after, "GET", "/metrics", "2xx") >= 1
    finally:
        server.close()
    # Each worker wrote its own request lines, in JSON: as many as requests, from both workers.
    lines = [json.loads(line) for line in log.read_text().splitlines() if '"lfs.request"' in line]
    counted = [line for line in lines if line["route"] == COUNTED]
    assert len(counted) == n
    assert len({line["pid"] for line in counted}) == 2
