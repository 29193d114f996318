"""Health, OpenAPI, unknown routes: versions reported, errors as problem+json."""

from __future__ import annotations

import httpx

from api.version import __version__
from geo.models import Role
from tests.conftest import HeadersFactory, assert_problem


async def test_health_reports_versions_to_admins_only(
    client: httpx.AsyncClient, auth_headers: HeadersFactory
) -> None:
    r = await client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}  # nothing an attacker could look up
    for role in (Role.OPS, Role.MANAGER, Role.COMMERCIAL):
        r = await client.get("/api/health", headers=await auth_headers(role))
        assert r.json() == {"status": "ok"}, role
    r = await client.get("/api/health", headers=await auth_headers(Role.ADMIN))
    body = r.json()
    assert body["status"] == "ok" and body["version"] == __version__
    assert body["database"].startswith("PostgreSQL 1")
    assert body["postgis"].startswith('POSTGIS="3')
    # A monitor's check never fails on a token: a bad one gets the short answer.
    r = await client.get("/api/health", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 200 and r.json() == {"status": "ok"}


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
