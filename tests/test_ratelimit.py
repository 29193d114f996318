"""Rate limits: 5 logins/min per IP, 100 API requests/min per IP, tiles not counted (the
counters themselves, shared by every process: tests/test_shared_state.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from tests.conftest import assert_problem, make_settings


@pytest.fixture(scope="module")
async def limited(
    db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        db_url,
        Path(tmp_path_factory.mktemp("rl")),
        rate_limit={"login_per_minute": 5, "api_per_minute": 100},
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def test_login_limit(limited: httpx.AsyncClient) -> None:
    for _ in range(5):
        r = await limited.post("/api/auth/login", json={"email": "a@b.fr", "password": "wrong!"})
        assert r.status_code == 401
    r = await limited.post("/api/auth/login", json={"email": "a@b.fr", "password": "wrong!"})
    body = assert_problem(r, 429)
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "login" in str(body["detail"])


async def test_api_limit_and_exemptions(limited: httpx.AsyncClient) -> None:
    # Tiles and health are not counted: a map pans through hundreds of tiles a minute.
    for _ in range(150):
        r = await limited.get("/tiles/parcels/1/0/0.mvt")
        assert r.status_code != 429
    statuses = [(await limited.get("/api/auth/me")).status_code for _ in range(101)]
    assert statuses[:100] == [401] * 100
    assert statuses[100] == 429
