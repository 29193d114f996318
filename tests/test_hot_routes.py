"""The lead list, detail and create answered by api.hot give the full stack's answers.

Each request is sent twice: through the hot path, then with it switched off (the FastAPI routes
and every middleware), and the two answers are compared: status, headers that matter, body.
"""

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
from api.hot import LeadFactoryAPI
from geo.models import Role
from tests.conftest import PASSWORD, assert_problem, login, make_settings
from tests.lead_fixtures import load_parcels, square

PARCELS = ["69114000AA0030", "69114000AA0022"]
# Headers whose value must be the same both ways (date and server are the transport's).
COMPARED = ("content-type", "etag", "www-authenticate", "retry-after", "vary", "content-encoding")
# Fields of a created lead that differ between two creations of the same body.
PER_LEAD = {"id", "internal_name", "created_at", "updated_at", "status_changed_at"}


@pytest.fixture(scope="module")
async def lead(client, people, db_url):  # noqa: ANN001, ANN201
    load_parcels(db_url, PARCELS)
    body = {"parcel_ids": PARCELS, "name": "Chaud", "notes": "hot path"}
    r = await client.post("/api/leads", json=body, headers=people["ops"][1])
    assert r.status_code == 201, r.text
    return r.json()


def _hot(app: LeadFactoryAPI) -> Any:
    assert app.hot is not None
    return app.hot


async def both_ways(
    app: LeadFactoryAPI, client: httpx.AsyncClient, method: str, url: str, **kw: Any
) -> tuple[httpx.Response, httpx.Response]:
    """The response through the hot path (checked to be taken), then through the full stack."""
    hot = _hot(app)
    served = hot.served
    fast = await client.request(method, url, **kw)
    assert hot.served == served + 1, "the hot path did not answer"
    hot.enabled = False
    try:
        slow = await client.request(method, url, **kw)
    finally:
        hot.enabled = True
    assert hot.served == served + 1
    return fast, slow


def assert_same(fast: httpx.Response, slow: httpx.Response, ignore: set[str] = frozenset()) -> None:
    """Same status, compared headers and JSON body (but the ``ignore`` keys)."""
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    for name in COMPARED:
        assert fast.headers.get(name) == slow.headers.get(name), name
    a, b = fast.json(), slow.json()
    for doc in (a, b):  # a status period's running duration moves between the two answers
        lead = doc.get("properties", doc) if isinstance(doc, dict) else {}
        for period in lead.get("status_history", []):
            period.pop("seconds")
    if isinstance(a, dict) and ignore:
        a = {k: v for k, v in a.items() if k not in ignore}
        b = {k: v for k, v in b.items() if k not in ignore}
    assert a == b


LIST_QUERIES = [
    "",
    "?status=NEW&status=ENRICHED&sort=-quality_score",
    "?department=69&score_min=10&page=1&page_size=20",
    "?q=Chaud",
    "?bbox=4.5,45.9,4.8,46.1",
    "?page_size=1000",  # 422: over the maximum
    "?status=NOPE",  # 422: unknown value
    "?foo=1",  # 422: unknown parameter
    "?bbox=1,2,3",  # 422: malformed bbox
    "?score_min=60&score_max=10",  # 422: reversed range
    "?status=NEW&status=SOLD&department=69&score_min=10",  # per-status ranges, gated
    "?status=NEW&status=ENRICHED&score_max=60&sort=area_m2",
    "?created_to=0.5",  # 422: not an RFC 3339 date-time (was taken for a Unix timestamp)
    "?created_from=2026-01-01T00:00:00",  # 422: no offset
    "?created_from=0001-01-01T00:00:00%2B01:00",  # before year 1 in UTC: the first instant
    "?bbox=4.8,46.1,4.5,45.9",  # the corners in the other order: the same box
    "?bbox=1e3,0,1,1",  # 422: not the document's pattern
    "?assignee_id=3000000000",  # 422: beyond users.id
]


@pytest.mark.parametrize("query", LIST_QUERIES)
async def test_list_both_ways(app, client, people, lead, query: str) -> None:  # noqa: ANN001
    for who in ("ops", "manager", "sales"):
        fast, slow = await both_ways(
            app, client, "GET", f"/api/leads{query}", headers=people[who][1]
        )
        assert_same(fast, slow)


async def test_detail_both_ways(app, client, people, lead) -> None:  # noqa: ANN001
    url = f"/api/leads/{lead['id']}"
    for who in ("ops", "ops2", "admin", "sales"):  # 200, 404 (not theirs), 200, 404
        fast, slow = await both_ways(app, client, "GET", url, headers=people[who][1])
        assert_same(fast, slow)
    fast, slow = await both_ways(
        app, client, "GET", "/api/leads/999999", headers=people["admin"][1]
    )
    assert_same(fast, slow)
    assert_problem(fast, 404)
    geojson = {**people["admin"][1], "Accept": "application/geo+json"}
    fast, slow = await both_ways(app, client, "GET", url, headers=geojson)
    assert_same(fast, slow)
    assert fast.json()["type"] == "Feature"


@pytest.mark.parametrize("token", [None, "Bearer nope", "Basic abc"])
async def test_bad_tokens_both_ways(app, client, lead, token: str | None) -> None:  # noqa: ANN001
    headers = {"Authorization": token} if token else {}
    for method, url, body in [
        ("GET", "/api/leads", None),
        ("GET", f"/api/leads/{lead['id']}", None),
        ("POST", "/api/leads", {"geometry": square(4.6, 45.96)}),
        ("POST", "/api/leads", {"geometry": "not a polygon"}),  # 401 before the body's 422
    ]:
        fast, slow = await both_ways(app, client, method, url, headers=headers, json=body)
        assert_same(fast, slow)
        assert_problem(fast, 401)


async def test_password_change_ends_tokens_both_ways(app, client, make_user, lead) -> None:  # noqa: ANN001
    user = await make_user(Role.MANAGER)
    old = {"Authorization": f"Bearer {await login(client, user.email)}"}
    changer = {"Authorization": f"Bearer {await login(client, user.email)}"}
    requests = [
        ("GET", "/api/leads", None),
        ("GET", f"/api/leads/{lead['id']}", None),
        ("POST", "/api/leads", {"geometry": square(4.6, 45.96)}),
    ]
    for method, url, _ in requests[:2]:
        fast, slow = await both_ways(app, client, method, url, headers=old)
        assert fast.status_code == slow.status_code == 200
    r = await client.post(
        "/api/auth/password",
        headers=changer,
        json={"current_password": PASSWORD, "new_password": "Nouveau-soleil-2026"},
    )
    assert r.status_code == 200, r.text
    for headers in (old, changer):
        for method, url, body in requests:
            fast, slow = await both_ways(app, client, method, url, headers=headers, json=body)
            assert_same(fast, slow)
            assert assert_problem(fast, 401)["detail"] == "token revoked"
    fresh = {"Authorization": f"Bearer {await login(client, user.email, 'Nouveau-soleil-2026')}"}
    fast, slow = await both_ways(app, client, "GET", f"/api/leads/{lead['id']}", headers=fresh)
    assert fast.status_code == slow.status_code == 200


async def test_create_both_ways(app, client, people) -> None:  # noqa: ANN001
    body = {"geometry": square(4.61, 45.965), "name": "Deux fois", "commune_insee": "69114"}
    fast, slow = await both_ways(app, client, "POST", "/api/leads", json=body, **_as(people))
    assert fast.status_code == 201
    assert fast.headers["location"] == f"/api/leads/{fast.json()['id']}"
    assert slow.headers["location"] == f"/api/leads/{slow.json()['id']}"
    assert_same(fast, slow, ignore=PER_LEAD)


def _as(people: dict, who: str = "manager", **extra: str) -> dict[str, Any]:
    return {"headers": {**people[who][1], **extra}}


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
    # JSON that json.loads refuses other than by JSONDecodeError: FastAPI's 400 too.
    (b'{"name": "\xff"}', {"Content-Type": "application/json"}, 400),  # not UTF-8
    (b"[" * 100_000, {"Content-Type": "application/json"}, 400),  # nested too deep
    (b'{"assignee_id": ' + b"7" * 5000 + b"}", {"Content-Type": "application/json"}, 400),
]


@pytest.mark.parametrize(("raw", "headers", "status"), BAD_BODIES)
async def test_bad_bodies_both_ways(
    app,
    client,
    people,
    raw: bytes,
    headers: dict[str, str],
    status: int,  # noqa: ANN001
) -> None:
    kw = _as(people, **headers)
    fast, slow = await both_ways(app, client, "POST", "/api/leads", content=raw, **kw)
    assert_same(fast, slow)
    assert_problem(fast, status)


async def test_gzip_as_the_middleware(app, client, people, lead) -> None:  # noqa: ANN001
    kw = _as(people, "admin", **{"Accept-Encoding": "gzip"})
    fast, slow = await both_ways(app, client, "GET", "/api/leads", **kw)
    assert_same(fast, slow)
    assert fast.headers["content-encoding"] == "gzip"
    assert fast.headers["vary"] == "Accept-Encoding, Origin"
    # Small answers are not compressed, nor marked as varying.
    fast, slow = await both_ways(app, client, "GET", "/api/leads/999999", **kw)
    assert_same(fast, slow)
    assert "content-encoding" not in fast.headers and fast.headers["vary"] == "Origin"
    # The raw bytes: a gzip stream of the JSON, with its own length.
    raw = await client.get("/api/leads", **kw)
    assert raw.headers["content-encoding"] == "gzip"
    async with client.stream("GET", "/api/leads", **kw) as r:
        data = b"".join([chunk async for chunk in r.aiter_raw()])
    assert int(r.headers["content-length"]) == len(data)
    assert json.loads(gzip.decompress(data)) == raw.json()


async def test_left_to_the_full_stack(app, client, people, lead) -> None:  # noqa: ANN001
    hot = _hot(app)
    served = hot.served
    origin = {"Origin": "http://localhost:5173"}
    r = await client.get("/api/leads", **_as(people, **origin))
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://localhost:5173"  # CORS answered
    for url in ("/api/leads/0", "/api/leads/abc", f"/api/leads/{2**62 + 1}", "/api/leads/"):
        r = await client.get(url, **_as(people))
        assert r.status_code in (307, 404, 422), (url, r.status_code)
    r = await client.delete(f"/api/leads/{lead['id']}", **_as(people, "ops"))
    assert_problem(r, 403)
    r = await client.head("/api/leads", **_as(people))
    assert r.status_code == 405
    assert hot.served == served


async def test_unexpected_error_is_the_server_error_500(app, people, monkeypatch) -> None:  # noqa: ANN001
    import api.routers.leads as routes

    async def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("boom")

    monkeypatch.setattr(routes, "list_page", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        fast, slow = await both_ways(app, c, "GET", "/api/leads", **_as(people))
    assert_same(fast, slow)
    body = assert_problem(fast, 500)
    assert "boom" not in fast.text and body["detail"] == "Internal server error."
    assert "vary" not in fast.headers  # sent outside CORS and gzip, as ServerErrorMiddleware
    # Re-raised for the server's log, as the full stack does.
    strict = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=strict, base_url="http://test") as c:
        with pytest.raises(RuntimeError, match="boom"):
            await c.get("/api/leads", **_as(people))


async def test_large_bodies_gzipped_off_the_loop(app, client, people, lead, monkeypatch) -> None:  # noqa: ANN001
    import api.hot as hot_module

    threaded = []
    real = hot_module._gzip

    def spy(body: bytes) -> bytes:
        threaded.append(len(body))
        return real(body)

    monkeypatch.setattr(hot_module, "GZIP_THREAD_MINIMUM_SIZE", 2048)
    monkeypatch.setattr(hot_module, "_gzip", spy)
    kw = _as(people, "admin", **{"Accept-Encoding": "gzip"})
    fast, slow = await both_ways(app, client, "GET", "/api/leads", **kw)
    assert_same(fast, slow)
    assert fast.headers["content-encoding"] == "gzip" and threaded


@pytest.fixture(scope="module")
async def limited(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    settings = make_settings(
        db_url, Path(tmp_path_factory.mktemp("hot-rl")), rate_limit={"api_per_minute": 4}
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield app, c


async def test_rate_limit_shared_with_the_middleware(limited) -> None:  # noqa: ANN001
    app, c = limited
    # The hot routes and the others count against the same window per address.
    assert (await c.get("/api/leads")).status_code == 401  # hot
    assert (await c.get("/api/auth/me")).status_code == 401  # middleware
    assert (await c.get("/api/leads/1")).status_code == 401  # hot
    assert (await c.post("/api/leads", json={})).status_code == 401  # hot
    served = _hot(app).served
    r = await c.get("/api/leads")
    assert_problem(r, 429)
    assert _hot(app).served == served + 1
    slow = await c.get("/api/auth/me")
    assert_problem(slow, 429)
    assert r.json() | {"detail": None} == slow.json() | {"detail": None}  # the wait may differ
    for name in ("content-type", "vary", "content-encoding"):
        assert r.headers.get(name) == slow.headers.get(name), name


async def test_telemetry_on_means_the_full_stack(app, client, people, monkeypatch) -> None:  # noqa: ANN001
    hot = _hot(app)
    monkeypatch.setattr(app._native_telemetry, "enabled", lambda: True)
    monkeypatch.setattr(hot, "_telemetry_at", -1e9)  # the next request asks again
    served = hot.served
    r = await client.get("/api/leads", **_as(people))
    assert r.status_code == 200
    assert hot.served == served
    monkeypatch.undo()
    monkeypatch.setattr(hot, "_telemetry_at", -1e9)
    assert (await client.get("/api/leads", **_as(people))).status_code == 200
    assert hot.served == served + 1


async def test_list_queries_validated_once(app, client, people, monkeypatch) -> None:  # noqa: ANN001
    """A list query string is validated once and kept (bounded, oldest out); a bad one is a 422
    every time and never kept."""
    import api.routers.leads as routes

    monkeypatch.setattr(routes, "_LIST_REQUESTS", {})
    monkeypatch.setattr(routes, "LIST_REQUESTS_KEPT", 2)
    kept = routes._LIST_REQUESTS
    first = await client.get("/api/leads?department=69&sort=area_m2", **_as(people))
    assert first.status_code == 200
    assert kept[b"department=69&sort=area_m2"].filters.department == "69"
    again = await client.get("/api/leads?department=69&sort=area_m2", **_as(people))
    assert again.json() == first.json()
    for _ in range(2):
        assert_problem(await client.get("/api/leads?page_size=1000", **_as(people)), 422)
    assert list(kept) == [b"department=69&sort=area_m2"]
    await client.get("/api/leads?status=NEW", **_as(people))
    await client.get("/api/leads?page=2", **_as(people))
    assert list(kept) == [b"status=NEW", b"page=2"]
