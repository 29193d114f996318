"""The lead list, detail and create over HTTP: statuses, errors in order, headers, gzip, CORS,
rate limits and the server error, through the app's routing and middleware."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from geo.models import Role
from tests.conftest import PASSWORD, assert_problem, login, make_settings
from tests.lead_fixtures import load_parcels, square

PARCELS = ["69114000AA0030", "69114000AA0022"]


@pytest.fixture(scope="module")
async def lead(client, people, db_url):
    load_parcels(db_url, PARCELS)
    body = {"parcel_ids": PARCELS, "name": "Chaud", "notes": "lead routes"}
    r = await client.post("/api/leads", json=body, headers=people["ops"][1])
    assert r.status_code == 201, r.text
    return r.json()


def _as(people: dict, who: str = "manager", **extra: str) -> dict[str, Any]:
    return {"headers": {**people[who][1], **extra}}


LIST_QUERIES = [
    ("", 200),
    ("?status=NEW&status=ENRICHED&sort=-quality_score", 200),
    ("?department=69&score_min=10&page=1&page_size=20", 200),
    ("?q=Chaud", 200),
    ("?bbox=4.5,45.9,4.8,46.1", 200),
    ("?page_size=1000", 422),  # over the maximum
    ("?status=NOPE", 422),  # unknown value
    ("?foo=1", 422),  # unknown parameter
    ("?bbox=1,2,3", 422),  # malformed bbox
    ("?score_min=60&score_max=10", 422),  # reversed range
    ("?status=NEW&status=SOLD&department=69&score_min=10", 200),  # per-status ranges, gated
    ("?status=NEW&status=ENRICHED&score_max=60&sort=area_m2", 200),
    ("?created_to=0.5", 422),  # not an RFC 3339 date-time (was taken for a Unix timestamp)
    ("?created_from=2026-01-01T00:00:00", 422),  # no offset
    ("?created_from=0001-01-01T00:00:00%2B01:00", 200),  # before year 1 in UTC: the first instant
    ("?bbox=4.8,46.1,4.5,45.9", 200),  # the corners in the other order: the same box
    ("?bbox=1e3,0,1,1", 422),  # not the document's pattern
    ("?assignee_id=3000000000", 422),  # beyond users.id
]


@pytest.mark.parametrize(("query", "status"), LIST_QUERIES)
async def test_list_queries(client, people, lead, query: str, status: int) -> None:
    for who in ("ops", "manager", "sales"):
        r = await client.get(f"/api/leads{query}", headers=people[who][1])
        if status == 200:
            assert r.status_code == 200, r.text
            page = r.json()
            assert set(page) >= {"items", "total"} and page["total"] >= len(page["items"])
        else:
            assert_problem(r, status)


async def test_list_filters_the_same_box_either_way(client, people, lead) -> None:
    h = people["admin"][1]
    a = await client.get("/api/leads?bbox=4.5,45.9,4.8,46.1", headers=h)
    b = await client.get("/api/leads?bbox=4.8,46.1,4.5,45.9", headers=h)
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json() and lead["id"] in {i["id"] for i in a.json()["items"]}
    r = await client.get("/api/leads?q=Chaud", headers=h)
    assert [i["id"] for i in r.json()["items"]] == [lead["id"]]


async def test_detail(client, people, lead) -> None:
    url = f"/api/leads/{lead['id']}"
    for who, status in (("ops", 200), ("ops2", 404), ("admin", 200), ("sales", 404)):
        r = await client.get(url, headers=people[who][1])
        if status == 200:
            assert r.status_code == 200, r.text
            assert r.json()["id"] == lead["id"] and r.json()["name"] == "Chaud"
            assert r.headers["etag"] == f'"{r.json()["version"]}"'
        else:
            assert_problem(r, status)
    assert_problem(await client.get("/api/leads/999999", headers=people["admin"][1]), 404)
    geojson = {**people["admin"][1], "Accept": "application/geo+json"}
    r = await client.get(url, headers=geojson)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    feature = r.json()
    assert feature["type"] == "Feature" and feature["id"] == lead["id"]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert feature["properties"]["name"] == "Chaud" and "geometry" not in feature["properties"]


@pytest.mark.parametrize("token", [None, "Bearer nope", "Basic abc", "Bearer"])
async def test_bad_tokens(client, lead, token: str | None) -> None:
    headers = {"Authorization": token} if token else {}
    for method, url, body in [
        ("GET", "/api/leads", None),
        ("GET", "/api/leads?page_size=1000", None),  # 401 before the query's 422
        ("GET", f"/api/leads/{lead['id']}", None),
        ("POST", "/api/leads", {"geometry": square(4.6, 45.96)}),
        ("POST", "/api/leads", {"geometry": "not a polygon"}),  # 401 before the body's 422
    ]:
        r = await client.request(method, url, headers=headers, json=body)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"


async def test_password_change_ends_tokens(client, make_user, lead) -> None:
    user = await make_user(Role.MANAGER)
    old = {"Authorization": f"Bearer {await login(client, user.email)}"}
    changer = {"Authorization": f"Bearer {await login(client, user.email)}"}
    requests = [
        ("GET", "/api/leads", None),
        ("GET", f"/api/leads/{lead['id']}", None),
        ("POST", "/api/leads", {"geometry": square(4.6, 45.96)}),
    ]
    for method, url, _ in requests[:2]:
        assert (await client.request(method, url, headers=old)).status_code == 200
    r = await client.post(
        "/api/auth/password",
        headers=changer,
        json={"current_password": PASSWORD, "new_password": "Nouveau-soleil-2026"},
    )
    assert r.status_code == 200, r.text
    for headers in (old, changer):
        for method, url, body in requests:
            r = await client.request(method, url, headers=headers, json=body)
            assert assert_problem(r, 401)["detail"] == "token revoked"
    fresh = {"Authorization": f"Bearer {await login(client, user.email, 'Nouveau-soleil-2026')}"}
    assert (await client.get(f"/api/leads/{lead['id']}", headers=fresh)).status_code == 200


async def test_create(client, people) -> None:
    body = {"geometry": square(4.61, 45.965), "name": "Deux fois", "commune_insee": "69114"}
    r = await client.post("/api/leads", json=body, **_as(people))
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"/api/leads/{created['id']}"
    assert r.headers["etag"] == f'"{created["version"]}"'
    # The created lead is the list's item for it and matches the detail.
    detail = (await client.get(r.headers["location"], **_as(people))).json()
    assert {k: detail[k] for k in created} == created
    page = (await client.get("/api/leads?q=Deux%20fois", **_as(people))).json()
    assert page["items"] == [created]


BAD_BODIES: list[tuple[bytes, dict[str, str], int]] = [
    (b'{"geometry": ', {"Content-Type": "application/json"}, 400),  # malformed JSON
    (b"", {"Content-Type": "application/json"}, 422),  # no body
    (b"null", {"Content-Type": "application/json"}, 422),
    (b"[1, 2]", {"Content-Type": "application/json"}, 422),
    (b'{"name": "x"}', {"Content-Type": "application/json"}, 422),  # no shape
    (b'{"point": {"lat": 95, "lon": 4}}', {"Content-Type": "application/json"}, 422),
    (b'{"geometry": null, "bogus": 1}', {"Content-Type": "application/json"}, 422),
    (b'{"point": {"lat": 45, "lon": 4}}', {"Content-Type": "text/plain"}, 422),  # not JSON
    (b'{"point": {"lat": 45, "lon": 4}}', {}, 422),  # no content type
    (b'{"point": {"lat": 45.9, "lon": 4.6}}', {"Content-Type": "application/geo+json"}, 422),
    (b'{"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}}', {}, 422),
    # JSON that json.loads refuses other than by JSONDecodeError: a 400 too.
    (b'{"name": "\xff"}', {"Content-Type": "application/json"}, 400),  # not UTF-8
    (b"[" * 100_000, {"Content-Type": "application/json"}, 400),  # nested too deep
    (b'{"assignee_id": ' + b"7" * 5000 + b"}", {"Content-Type": "application/json"}, 400),
]


@pytest.mark.parametrize(("raw", "headers", "status"), BAD_BODIES)
async def test_bad_bodies(
    client,
    people,
    raw: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    r = await client.post("/api/leads", content=raw, **_as(people, **headers))
    body = assert_problem(r, status)
    # Field errors name the body's fields (a domain 422, e.g. a point outside France, has none).
    assert all(e["field"].startswith("body") for e in body.get("errors", [])), body


async def test_gzip(client, people, lead) -> None:
    kw = _as(people, "admin", **{"Accept-Encoding": "gzip"})
    r = await client.get("/api/leads", **kw)
    assert r.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["vary"]
    # Small answers are not compressed.
    r = await client.get("/api/leads/999999", **kw)
    assert "content-encoding" not in r.headers
    # The raw bytes: a gzip stream of the JSON, with its own length.
    raw = await client.get("/api/leads", **kw)
    async with client.stream("GET", "/api/leads", **kw) as r:
        data = b"".join([chunk async for chunk in r.aiter_raw()])
    assert int(r.headers["content-length"]) == len(data)
    assert json.loads(gzip.decompress(data)) == raw.json()


async def test_cors_ids_methods(client, people, lead) -> None:
    origin = {"Origin": "http://localhost:5173"}
    r = await client.get("/api/leads", **_as(people, **origin))
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://localhost:5173"  # CORS answered
    for url, status in (
        ("/api/leads/0", 422),
        (f"/api/leads/{2**62 + 1}", 422),
        ("/api/leads/abc", 404),
    ):
        assert_problem(await client.get(url, **_as(people)), status)
    assert (await client.get("/api/leads/", **_as(people))).status_code in (307, 404)
    r = await client.delete(f"/api/leads/{lead['id']}", **_as(people, "ops"))
    assert_problem(r, 403)
    r = await client.head("/api/leads", **_as(people))
    assert r.status_code == 405


async def test_unexpected_error_is_the_server_error_500(app, people, monkeypatch) -> None:
    import api.routers.leads as routes

    async def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("boom")

    monkeypatch.setattr(routes, "list_page", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.get("/api/leads", **_as(people, **{"X-Request-ID": "req-500"}))
    body = assert_problem(r, 500)
    assert "boom" not in r.text and body["detail"] == "Internal server error."
    assert r.headers["x-request-id"] == "req-500"
    # Re-raised for the server's log.
    strict = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=strict, base_url="http://test") as c:
        with pytest.raises(RuntimeError, match="boom"):
            await c.get("/api/leads", **_as(people))


@pytest.fixture(scope="module")
async def limited(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    settings = make_settings(
        db_url, Path(tmp_path_factory.mktemp("leads-rl")), rate_limit={"api_per_minute": 4}
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def test_rate_limit(limited) -> None:
    c = limited
    # The lead routes and the others count against the same window per address.
    assert (await c.get("/api/leads")).status_code == 401
    assert (await c.get("/api/auth/me")).status_code == 401
    assert (await c.get("/api/leads/1")).status_code == 401
    assert (await c.post("/api/leads", json={})).status_code == 401
    for url in ("/api/leads", "/api/auth/me"):
        r = await c.get(url)
        body = assert_problem(r, 429)
        assert body["type"] == "/problems/rate-limited" and int(r.headers["retry-after"]) >= 1
