"""Two API processes and two enrichment workers on one database, as behind a load balancer:
once with the shared state in PostgreSQL (the default), once in a real redis-server.

* the 101st API request of a minute from one address, spread over both processes, is a 429;
* a lead created through A is in the next list page and the next ``leads`` tile from B;
* a token revoked (logout) through A is refused by B at its next request;
* an analytics answer cached by B is served to A (shared), and changes after a write through A.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
import psycopg
import pytest

from api.settings import Settings
from geo.models import Role
from tests.conftest import PASSWORD, UserFactory
from tests.lead_fixtures import square
from tests.redis_server import RedisServer
from tests.server_process import ServerProcess, wait_until

TMS = morecantile.tms.get("WebMercatorQuad")
LIMIT = 100  # the product's default API limit per minute and address


@pytest.fixture(params=["postgresql", "redis"])
def servers(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[tuple[str, ServerProcess, ServerProcess]]:
    """(backend, A, B): two `leadfactory serve --with-worker`, each with its worker."""
    env = {
        "LFS_RATE_LIMIT__API_PER_MINUTE": str(LIMIT),
        # Strict analytics: the first answer after a write is the new one (no stale window).
        "LFS_LEADS__ANALYTICS_MAX_STALE_S": "0",
        "LFS_READY__WORKER_MAX_AGE_S": "60",
    }
    redis: RedisServer | None = None
    started: list[ServerProcess] = []
    try:
        if request.param == "redis":
            redis = RedisServer(tmp_path / "redis").start()
            env |= {"LFS_REDIS_URL": redis.url, "LFS_REDIS_PREFIX": f"mp{uuid.uuid4().hex[:6]}:"}
        for name in ("a", "b"):
            server = ServerProcess(settings, tmp_path / f"{name}.log", with_worker=True, **env)
            started.append(server)
            server.start()
        yield request.param, started[0], started[1]
    finally:
        for server in started:
            server.close()
        if redis is not None:
            redis.stop()


def _client(server: ServerProcess, source: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of ``server`` whose requests come from the loopback address ``source``."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(transport=transport, base_url=server.url, timeout=10)


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    r = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _tile_ids(content: bytes) -> set[int]:
    if not content:
        return set()
    return {f["id"] for f in mapbox_vector_tile.decode(content)["leads"]["features"]}


async def test_two_processes_share_limits_leads_tokens_and_answers(
    servers: tuple[str, ServerProcess, ServerProcess],
    make_user: UserFactory,
    settings: Settings,
) -> None:
    backend, a, b = servers
    # Both workers are up and registered (one queue, two workers: procrastinate's heartbeat).
    wait_until(lambda: len(a.workers()) == 1 and len(b.workers()) == 1, 30, "two workers")
    for server in (a, b):
        async with _client(server) as c:
            ready = (await c.get("/api/ready")).json()
            if backend == "redis":
                assert ready["checks"]["shared_state"] == "ok", ready
            else:
                assert "shared_state" not in ready["checks"], ready

    # 1. The limit holds across the processes: 100 requests from one address, then 429 on both.
    async with _client(a, "127.0.0.2") as ca, _client(b, "127.0.0.2") as cb:
        statuses = [(await (ca, cb)[i % 2].get("/api/auth/me")).status_code for i in range(LIMIT)]
        assert statuses == [401] * LIMIT  # not logged in, but counted
        for c in (ca, cb):
            r = await c.get("/api/auth/me")
            assert r.status_code == 429, r.text
            assert 1 <= int(r.headers["retry-after"]) <= 60

    admin = await make_user(Role.ADMIN)
    async with _client(a) as ca, _client(b) as cb:
        ha = await _token(ca, admin.email)
        # 2. An analytics answer computed by B is the one A serves (one cache for both): a row
        # written behind the API's back (no version bump) shows in neither.
        funnel_b = (await cb.get("/api/analytics/funnel", headers=ha)).json()
        with psycopg.connect(settings.sync_database_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO leads (internal_name, geom) VALUES (%s,"
                " ST_Multi(ST_MakeEnvelope(4.6, 45.9, 4.601, 45.901, 4326)))",
                (f"MP-behind-{backend}",),
            )
        assert (await ca.get("/api/analytics/funnel", headers=ha)).json() == funnel_b

        # 3. A lead created through A: in B's next list page, next tile and next analytics.
        # Each backend's run its own place (one database for both runs; overlaps are refused).
        lon, lat = (4.835, 45.764) if backend == "postgresql" else (4.875, 45.744)
        tile = TMS.tile(lon + 0.001, lat + 0.001, 14)
        tile_url = f"/tiles/leads/14/{tile.x}/{tile.y}.mvt"
        before = await cb.get(tile_url, headers=ha)
        assert before.status_code in (200, 204)
        page_before = (await cb.get("/api/leads", headers=ha)).json()
        r = await ca.post(
            "/api/leads",
            json={"geometry": square(lon, lat), "name": f"MP {backend}"},
            headers=ha,
        )
        assert r.status_code == 201, r.text
        lead_id = r.json()["id"]
        assert lead_id not in _tile_ids(before.content)
        page = (await cb.get("/api/leads", headers=ha)).json()
        assert lead_id in {item["id"] for item in page["items"]}
        assert page["total"] == page_before["total"] + 1
        after = await cb.get(tile_url, headers=ha)
        assert after.status_code == 200
        assert lead_id in _tile_ids(after.content)
        funnel_now = (await cb.get("/api/analytics/funnel", headers=ha)).json()
        assert funnel_now["counts"]["NEW"] == funnel_b["counts"]["NEW"] + 2
        assert (await ca.get("/api/analytics/funnel", headers=ha)).json() == funnel_now

        # 4. A token revoked through A is refused by B (and A) at the next request.
        hb = await _token(cb, admin.email)
        assert (await ca.get("/api/auth/me", headers=hb)).status_code == 200
        assert (await cb.get("/api/auth/me", headers=hb)).status_code == 200
        assert (await ca.post("/api/auth/logout", headers=hb)).status_code == 200
        for c in (cb, ca):
            r = await c.get("/api/auth/me", headers=hb)
            assert r.status_code == 401, r.text
        # The other session of the same user is untouched.
        assert (await cb.get("/api/auth/me", headers=ha)).status_code == 200
