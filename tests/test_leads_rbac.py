"""RBAC matrix over the lead workflow endpoints: every role (and no token) × every endpoint.

Each case runs on a fresh lead assigned to the matrix's OPS user, in the status the row names.
A lead the role may not see is a 404 (existence not leaked); a visible lead the role may not
change is a 403.
"""

from __future__ import annotations

import itertools

import psycopg
import pytest

from geo.models import Role
from tests.lead_fixtures import sync_url

A, M, OP, C, ANON = Role.ADMIN, Role.MANAGER, Role.OPS, Role.COMMERCIAL, None
ROLES = [A, M, OP, C, ANON]
_i = itertools.count()


def _square() -> dict:
    i = next(_i)
    lon, lat = 4.5 + 0.003 * (i % 60), 45.5 + 0.003 * (i // 60)
    ring = [
        [lon, lat],
        [lon + 0.002, lat],
        [lon + 0.002, lat + 0.002],
        [lon, lat + 0.002],
        [lon, lat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _exp(a: int, m: int, o: int, c: int, anon: int = 401) -> dict:
    return {A: a, M: m, OP: o, C: c, ANON: anon}


# (method, path, lead status or None, body, expected per role)
MATRIX = [
    ("GET", "/api/leads", None, None, _exp(200, 200, 200, 200)),
    ("POST", "/api/leads", None, "new-lead", _exp(201, 201, 201, 403)),
    ("GET", "/api/leads/{id}", "NEW", None, _exp(200, 200, 200, 404)),
    ("GET", "/api/leads/{id}", "CLIENT_READY", None, _exp(200, 200, 200, 200)),
    ("PATCH", "/api/leads/{id}", "NEW", {"name": "x"}, _exp(200, 200, 200, 404)),
    ("PATCH", "/api/leads/{id}", "CLIENT_READY", {"name": "x"}, _exp(200, 200, 200, 403)),
    ("DELETE", "/api/leads/{id}", "NEW", None, _exp(204, 403, 403, 403)),
    ("POST", "/api/leads/{id}/assign", "NEW", "assign-ops", _exp(200, 200, 403, 403)),
    ("POST", "/api/leads/{id}/transition", "NEW", {"status": "ENRICHED"}, _exp(200, 200, 200, 404)),
    (
        "POST",
        "/api/leads/{id}/transition",
        "IN_REVIEW",
        {"status": "CLIENT_READY"},
        _exp(200, 200, 403, 404),
    ),
    (
        "POST",
        "/api/leads/{id}/transition",
        "CLIENT_READY",
        {"status": "SOLD"},
        _exp(200, 200, 403, 200),
    ),
    (
        "PUT",
        "/api/leads/{id}/foncier",
        "NEW",
        {"owners": [{"name": "GFA", "type": "company"}], "agreement_status": "contacted"},
        _exp(200, 200, 200, 403),
    ),
    (
        "PUT",
        "/api/leads/{id}/foncier",
        "CLIENT_READY",
        {"owners": [], "agreement_status": "none"},
        _exp(200, 200, 200, 403),
    ),
    ("GET", "/api/leads/{id}/comments", "NEW", None, _exp(200, 200, 200, 404)),
    ("POST", "/api/leads/{id}/comments", "CLIENT_READY", {"body": "ok"}, _exp(201, 201, 201, 201)),
    ("GET", "/api/leads/{id}/activity", "NEW", None, _exp(200, 200, 200, 404)),
    ("GET", "/api/leads/{id}/activity", "SOLD", None, _exp(200, 200, 200, 200)),
    ("GET", "/api/pipeline", None, None, _exp(200, 200, 200, 200)),
    ("GET", "/api/analytics/funnel", None, None, _exp(200, 200, 200, 200)),
    ("GET", "/api/analytics/weekly", None, None, _exp(200, 200, 200, 200)),
    ("GET", "/api/analytics/scores", None, None, _exp(200, 200, 200, 200)),
    ("GET", "/api/analytics/departments", None, None, _exp(200, 200, 200, 200)),
    ("GET", "/api/analytics/stage-times", None, None, _exp(200, 200, 200, 200)),
    ("GET", "/api/analytics/throughput", None, None, _exp(200, 200, 403, 403)),
    ("GET", "/api/leads/export.csv", None, None, _exp(200, 200, 200, 200)),
    ("GET", "/api/leads/export.xlsx", None, None, _exp(200, 200, 200, 200)),
]


@pytest.fixture(scope="module")
async def world(make_user, auth_headers):
    users = {r: await make_user(r) for r in (A, M, OP, C)}
    headers = {r: await auth_headers(user=u) for r, u in users.items()}
    headers[ANON] = {}
    return users, headers


CASES = [
    pytest.param(row, role, id=f"{row[0]} {row[1]} [{row[2] or '-'}] as {role or 'anon'}")
    for row in MATRIX
    for role in ROLES
]


@pytest.mark.parametrize(("row", "role"), CASES)
async def test_matrix(client, world, db_url, row, role) -> None:
    method, path, status, body, expected = row
    users, headers = world
    if "{id}" in path:
        r = await client.post(
            "/api/leads",
            json={"geometry": _square(), "commune_insee": "69114", "assignee_id": users[OP].id},
            headers=headers[M],
        )
        assert r.status_code == 201, r.text
        lead_id = r.json()["id"]
        with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
            # enriched and scored: the matrix is about roles, not about the lead's facts
            conn.execute(
                "UPDATE leads SET status=%s, enriched_at=now(), quality_score=50 WHERE id=%s",
                (status, lead_id),
            )
            conn.execute(
                "UPDATE lead_status_history SET status=%s WHERE lead_id=%s", (status, lead_id)
            )
        path = path.replace("{id}", str(lead_id))
    if body == "new-lead":
        body = {"geometry": _square(), "commune_insee": "69114"}
    elif body == "assign-ops":
        body = {"assignee_id": users[OP].id}
    r = await client.request(method, path, json=body, headers=headers[role])
    assert r.status_code == expected[role], r.text
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")
