"""Health, OpenAPI, unknown routes: versions reported, errors as problem+json."""

from __future__ import annotations

import httpx

from tests.conftest import assert_problem


async def test_health_reports_versions(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["database"].startswith("PostgreSQL 1")
    assert body["postgis"].startswith('POSTGIS="3')


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    assert "/api/auth/login" in spec["paths"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("description") or op.get("summary"), (method, path)
    assert (await client.get("/docs")).status_code == 200


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/nope"), 404)
    assert_problem(await client.delete("/api/health"), 405)
