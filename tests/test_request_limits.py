"""Hostile sizes: geometries, bodies and form fields refused before the work they would cost,
and no statement of a request holding a database backend past the API's statement timeout."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from geo.models import Role
from tests.conftest import assert_problem, login, make_settings
from tests.lead_fixtures import DUP, LEAD_TABLES, cadastre, count_rows, load_communes, load_parcels

P1 = "69114000AA0030"
# The outside probe's triangle near 69114, and its many-rings MultiPolygon (overlapping rings:
# PostGIS's validity check of 2 x 1000 of them held a backend for 11 s at 2.3 GB).
TRIANGLE = [[4.6512, 45.9768], [4.6543, 45.9763], [4.6538, 45.9751], [4.6512, 45.9768]]


def many_rings(parts: int, rings: int) -> dict[str, Any]:
    """A MultiPolygon of ``parts`` polygons of ``rings`` copies of the triangle."""
    return {"type": "MultiPolygon", "coordinates": [[TRIANGLE] * rings] * parts}


def polygon_of(vertices: int) -> dict[str, Any]:
    """A valid star-free polygon (a circle of ``vertices`` positions, ~300 m across)."""
    import math

    ring = [
        [
            4.65 + 0.002 * math.cos(2 * math.pi * i / vertices),
            45.97 + 0.0014 * math.sin(2 * math.pi * i / vertices),
        ]
        for i in range(vertices)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@pytest.fixture(scope="module")
def loaded(db_url: str) -> None:
    load_communes(db_url)
    load_parcels(db_url, [P1])


@pytest.fixture(scope="module")
async def ops(auth_headers) -> dict[str, str]:
    return await auth_headers(Role.OPS)


async def test_many_rings_refused_before_sql(client, ops, loaded, db_url) -> None:
    before = count_rows(db_url, *LEAD_TABLES)
    started = time.monotonic()
    r = await client.post("/api/leads", json={**DUP, "geometry": many_rings(2, 1000)}, headers=ops)
    body = assert_problem(r, 422)
    assert body["limit"] == "max_rings" and body["max"] == 500
    assert "2000 rings" in str(body["detail"])
    assert time.monotonic() - started < 2  # no PostGIS validity check ran
    assert count_rows(db_url, *LEAD_TABLES) == before


async def test_too_many_vertices_and_polygons(client, ops, loaded) -> None:
    r = await client.post("/api/leads", json={**DUP, "geometry": polygon_of(25_000)}, headers=ops)
    body = assert_problem(r, 422)
    assert body["limit"] == "max_vertices" and body["max"] == 20_000
    square = [[4.65, 45.97], [4.651, 45.97], [4.651, 45.971], [4.65, 45.971], [4.65, 45.97]]
    parts = {"type": "MultiPolygon", "coordinates": [[square]] * 501}
    body = assert_problem(
        await client.post("/api/leads", json={**DUP, "geometry": parts}, headers=ops), 422
    )
    assert body["limit"] == "max_polygons"


async def test_vertex_limit_allows_a_large_real_lead(client, ops, loaded) -> None:
    """19,999 vertices (a detailed outline) is still a lead."""
    r = await client.post("/api/leads", json={**DUP, "geometry": polygon_of(19_998)}, headers=ops)
    assert r.status_code == 201, r.text


async def test_patch_geometry_checked_the_same_way(client, ops, loaded) -> None:
    geom = cadastre()[P1]["geometry"]
    lead = (await client.post("/api/leads", json={**DUP, "geometry": geom}, headers=ops)).json()
    r = await client.patch(
        f"/api/leads/{lead['id']}", json={"geometry": many_rings(2, 1000)}, headers=ops
    )
    assert assert_problem(r, 422)["limit"] == "max_rings"


async def test_deactivated_token_is_401_before_any_geometry_work(
    client, make_user, loaded, state
) -> None:
    """A token of a user deactivated since is refused before the geometry is looked at: an
    invalid bow-tie (a 422 when checked) and a ring bomb both get the 401, at once."""
    user = await make_user(Role.OPS)
    headers = {"Authorization": f"Bearer {await login(client, user.email)}"}
    async with state.engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(text("UPDATE users SET is_active = false WHERE id = :i"), {"i": user.id})
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[4.65, 45.97], [4.66, 45.98], [4.66, 45.97], [4.65, 45.98], [4.65, 45.97]]
        ],
    }
    assert_problem(
        await client.post("/api/leads", json={**DUP, "geometry": bowtie}, headers=headers), 401
    )
    started = time.monotonic()
    r = await client.post(
        "/api/leads", json={**DUP, "geometry": many_rings(2, 400)}, headers=headers
    )
    assert_problem(r, 401)
    assert time.monotonic() - started < 2


async def test_declared_body_over_the_cap_is_413_unread(client) -> None:
    """No token, 3 MB declared: 413 at once (before the 401, before parsing)."""
    big = b'{"geometry": ' + b" " * (3 * 1024 * 1024) + b"null}"
    r = await client.post("/api/leads", content=big, headers={"Content-Type": "application/json"})
    body = assert_problem(r, 413)
    assert body["limit"] == 2 * 1024 * 1024
    assert r.headers["connection"] == "close"
    for path in ("/api/auth/login", "/api/leads/1/transition", "/api/users"):
        assert_problem(
            await client.post(path, content=big, headers={"Content-Type": "application/json"}),
            413,
        )


async def test_streamed_body_over_the_cap_is_413(client, ops) -> None:
    """A chunked body declares no size: counted as it arrives, refused past the cap."""
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"name": "'
        for _ in range(64):  # 4 MiB in 64 KiB chunks
            sent += 1
            yield b"a" * 65536
        yield b'"}'

    r = await client.post(
        "/api/leads", content=chunks(), headers=ops | {"Content-Type": "application/json"}
    )
    assert_problem(r, 413)
    assert sent < 40  # reading stopped soon after the cap (2 MiB = 32 chunks)


async def test_upload_with_many_form_fields_refused(client, ops, loaded) -> None:
    geom = cadastre()[P1]["geometry"]
    lead = (await client.post("/api/leads", json={**DUP, "geometry": geom}, headers=ops)).json()
    fields = {f"f{i}": "x" for i in range(100_000)}
    r = await client.post(
        f"/api/leads/{lead['id']}/documents",
        data=fields,
        files={"file": ("note.txt", b"hello", "text/plain")},
        headers=ops,
    )
    body = assert_problem(r, 400)
    assert "form" in str(body["detail"])


async def test_upload_cap_is_the_upload_limit_not_the_json_one(client, ops, loaded) -> None:
    """A 3 MB document is over the JSON cap but within the upload limit: accepted."""
    geom = cadastre()[P1]["geometry"]
    lead = (await client.post("/api/leads", json={**DUP, "geometry": geom}, headers=ops)).json()
    pdf = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024) + b"\n%%EOF\n"
    r = await client.post(
        f"/api/leads/{lead['id']}/documents",
        files={"file": ("plan.pdf", pdf, "application/pdf")},
        data={"category": "other"},
        headers=ops,
    )
    assert r.status_code in (201, 415, 422), r.text  # never the body cap's 413
    assert r.status_code != 413


@pytest.fixture(scope="module")
async def strict(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """An app whose statements may last 300 ms."""
    settings = make_settings(db_url, tmp_path_factory.mktemp("strict"), db_statement_timeout_ms=300)
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def test_statement_timeout_bounds_every_request(strict, make_user, loaded, db_url) -> None:
    """A statement blocked behind another transaction's lock gives up after the API's statement
    timeout: 503 with Retry-After, on the create (plain pool) and the PATCH (SQLAlchemy)."""
    user = await make_user(Role.OPS)
    headers = {"Authorization": f"Bearer {await login(strict, user.email)}"}
    geom = cadastre()[P1]["geometry"]
    lead = (await strict.post("/api/leads", json={**DUP, "geometry": geom}, headers=headers)).json()
    url = db_url.replace("postgresql+asyncpg://", "postgresql://")
    with psycopg.connect(url) as blocker:
        blocker.execute("LOCK TABLE leads IN EXCLUSIVE MODE")
        started = time.monotonic()
        r = await strict.post("/api/leads", json={**DUP, "geometry": geom}, headers=headers)
        assert_problem(r, 503)
        assert r.headers["retry-after"]
        r = await strict.patch(f"/api/leads/{lead['id']}", json={"name": "x"}, headers=headers)
        assert_problem(r, 503)
        assert time.monotonic() - started < 5
        blocker.rollback()
    await asyncio.sleep(0)
    r = await strict.patch(f"/api/leads/{lead['id']}", json={"name": "x"}, headers=headers)
    assert r.status_code == 200, r.text


def test_geojson_bomb_body_sizes() -> None:
    """The probe's bodies: 2 x 1000 rings is ~156 KB (under the cap, refused by the ring
    limit); 50 x 1000 rings is ~3.9 MB (over the cap, refused unread)."""
    assert 100_000 < len(json.dumps({"geometry": many_rings(2, 1000)})) < 2 * 1024 * 1024
    assert len(json.dumps({"geometry": many_rings(50, 1000)})) > 2 * 1024 * 1024


def tangle(vertices: int) -> dict[str, Any]:
    """A ring through random points of a 700 m square: thousands of self-intersections (one of
    300 vertices held PostGIS's ST_MakeValid for over 12 s, past a 3 s statement timeout)."""
    import random

    rng = random.Random(69114)
    ring = [[4.65 + rng.random() * 0.01, 45.97 + rng.random() * 0.01] for _ in range(vertices)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


async def test_tangled_ring_refused_without_makevalid(client, ops, loaded) -> None:
    started = time.monotonic()
    r = await client.post("/api/leads", json={**DUP, "geometry": tangle(300)}, headers=ops)
    assert "Self-intersection" in str(assert_problem(r, 422)["detail"])
    r = await client.post(
        "/api/leads", json={**DUP, "geometry": tangle(300), "repair": True}, headers=ops
    )
    assert assert_problem(r, 422)["limit"] == "max_repair_crossings"
    assert time.monotonic() - started < 2


async def test_a_few_crossings_are_still_repaired(client, ops, loaded) -> None:
    """A bow-tie (one crossing) is repaired on request, as before."""
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[4.65, 45.97], [4.66, 45.98], [4.66, 45.97], [4.65, 45.98], [4.65, 45.97]]
        ],
    }
    r = await client.post(
        "/api/leads", json={**DUP, "geometry": bowtie, "repair": True}, headers=ops
    )
    assert r.status_code == 201, r.text


def test_crossings_counted_independently() -> None:
    """The crossing count against shapely's own noding: the pairs of edges that meet."""
    from shapely.geometry import LineString, shape

    from api.services.leads_geometry import count_crossings

    geom = shape(tangle(40))
    coords = list(geom.exterior.coords)
    edges = [LineString(coords[k : k + 2]) for k in range(len(coords) - 1)]
    n = len(edges)
    expected = sum(
        1
        for a in range(n)
        for b in range(a + 2, n)
        if not (a == 0 and b == n - 1) and edges[a].intersects(edges[b])
    )
    assert expected > 50
    assert count_crossings(geom, stop_after=10**9) == expected
    assert count_crossings(geom, stop_after=10) > 10  # stops early, past the bound


async def test_no_free_pooled_connection_is_a_503(make_user, loaded, db_url, tmp_path) -> None:
    """Every pooled connection busy for the pool's timeout: 503 with Retry-After, not a 500."""
    user = await make_user(Role.OPS)
    settings = make_settings(
        db_url, tmp_path, db_pool_size=1, db_max_overflow=0, db_pool_timeout_s=0.3
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            headers = {"Authorization": f"Bearer {await login(c, user.email)}"}
            assert (await c.get("/api/leads", headers=headers)).status_code == 200
            engine = app.state.lfs.engine
            async with engine.connect():  # the pool's only connection, held
                r = await c.get("/api/leads", headers=headers)
                assert_problem(r, 503)
                assert r.headers["retry-after"] == "2"
            assert (await c.get("/api/leads", headers=headers)).status_code == 200
