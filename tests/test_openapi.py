"""The OpenAPI document tells the truth (api/openapi.py, api/schemas/strict.py, api/errors.py):
the problems each operation answers are documented as problem+json, what it documents as
valid is accepted and what it rejects is invalid, and a 405 names every method of the path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import assert_problem
from tests.lead_fixtures import load_parcels

PARCELS = ["69114000AA0030"]
FILTERED = ["/api/leads", "/api/leads/export.csv", "/api/analytics/funnel"]
# A cross-site request (CORS): the same errors, with the CORS headers.
FULL_STACK = {"Origin": "http://localhost:5173"}


@pytest.fixture(scope="module")
def spec(app) -> dict[str, Any]:
    return app.openapi()


@pytest.fixture(scope="module")
async def lead(client, people, db_url):
    load_parcels(db_url, PARCELS)
    r = await client.post("/api/leads", json={"parcel_ids": PARCELS}, headers=people["ops"][1])
    assert r.status_code == 201, r.text
    return r.json()


def operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield path, method, op


def documented(spec: dict[str, Any], method: str, path: str, status: int) -> bool:
    return str(status) in spec["paths"][path][method]["responses"]


def test_every_problem_is_documented_as_problem_json(spec) -> None:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, method, op in operations(spec):
        for code, response in op["responses"].items():
            if int(code) >= 400:
                assert response["content"] == problem, (method, path, code)
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # never sent


@pytest.mark.parametrize(
    ("method", "path", "present", "absent"),
    [
        ("patch", "/api/leads/{lead_id}", {400, 401, 403, 404, 409, 412, 413, 422, 429}, set()),
        ("get", "/api/leads", {401, 403, 422, 429}, {404, 409, 412, 413}),
        ("post", "/api/leads/{lead_id}/documents", {413, 415, 404}, {412}),
        ("post", "/api/auth/login", {401, 413, 422, 429}, {403, 404, 409}),
        ("get", "/ogc/conformance", set(), {401, 404, 422, 429}),
        ("get", "/ogc/collections/{collection_id}/items", {400, 404}, {429}),
        ("get", "/api/health", set(), {401, 429}),
        ("post", "/api/enrichment/batch", {404, 409, 413}, {412}),
    ],
)
def test_problem_statuses_follow_the_operation(spec, method, path, present, absent) -> None:
    codes = {int(c) for c in spec["paths"][path][method]["responses"] if int(c) >= 400}
    assert present <= codes, present - codes
    assert not codes & absent, codes & absent


def test_parameters_are_never_null(spec) -> None:
    # "null" in a header or a query string is four letters: If-Match: null was a 412.
    for path, method, op in operations(spec):
        for param in op.get("parameters", []):
            assert "null" not in json.dumps(param["schema"]), (method, path, param["name"])


def _schemas(spec: dict[str, Any], schema: dict[str, Any], seen: frozenset[str] = frozenset()):
    """Every sub-schema of ``schema``, references followed once."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _schemas(spec, spec["components"]["schemas"][name], seen | {name})
        return
    yield schema
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in schema.get(key, []):
            yield from _schemas(spec, sub, seen)
    for sub in schema.get("properties", {}).values():
        yield from _schemas(spec, sub, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _schemas(spec, schema[key], seen)


def _inputs(spec: dict[str, Any]):
    for path, method, op in operations(spec):
        for param in op.get("parameters", []):
            yield f"{method} {path} {param['name']}", param["schema"]
        for media in op.get("requestBody", {}).get("content", {}).values():
            if "schema" in media:
                yield f"{method} {path} body", media["schema"]


def test_integers_are_bounded_by_what_the_database_holds(spec) -> None:
    # An unbounded id or page reached PostgreSQL ("out of range", a 422) for a value the
    # document called valid: every integer a request carries has both bounds, within bigint.
    for where, schema in _inputs(spec):
        for sub in _schemas(spec, schema):
            if sub.get("type") == "integer":
                assert "minimum" in sub and "maximum" in sub, where
                assert -(2**63) <= sub["minimum"] and sub["maximum"] <= 2**63 - 1, where


@pytest.mark.parametrize("path", FILTERED)
@pytest.mark.parametrize(
    "value",
    ["0.5", "1700000000", "2026-12-05", "2026-12-05T10:00:00", "yesterday", "2026-12-05 10:00Z"],
)
async def test_dates_are_rfc3339_only(client, people, lead, path, value) -> None:
    # pydantic alone took 0.5 for a Unix timestamp and a naive time for a local one.
    for extra in ({}, FULL_STACK):
        h = {**people["manager"][1], **extra}
        r = await client.get(path, params={"created_to": value}, headers=h)
        body = assert_problem(r, 422)
        assert [e["field"] for e in body["errors"]] == ["query.created_to"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value",
    [
        "2000-01-01T00:00:00Z",
        "2000-01-01t00:00:00.123456+05:30",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: the first instant there is
        "9999-12-31T23:59:59-23:59",  # after 9999 in UTC: the last
    ],
)
async def test_every_rfc3339_date_time_is_taken(client, people, lead, value) -> None:
    h = people["manager"][1]
    r = await client.get("/api/leads", params={"created_from": value}, headers=h)
    assert r.status_code == 200, r.text
    expected = 1 if value.startswith(("0001", "2000")) else 0
    assert r.json()["total"] == expected
    r = await client.post("/api/enrichment/batch", json={"filters": {"created_to": 0.5}}, headers=h)
    assert_problem(r, 422)


async def test_bbox_is_four_numbers_in_range_corners_in_any_order(client, people, lead) -> None:
    h = people["manager"][1]
    ordered = await client.get("/api/leads", params={"bbox": "4.5,45.9,4.8,46.1"}, headers=h)
    swapped = await client.get("/api/leads", params={"bbox": "4.8,46.1,4.5,45.9"}, headers=h)
    assert ordered.status_code == swapped.status_code == 200
    assert ordered.json()["total"] == swapped.json()["total"] == 1
    for bad in ("1e5,0,1,1", "181,0,1,1", "0,91,1,1", "1,2,3", "nan,0,1,1"):
        r = await client.get("/api/leads", params={"bbox": bad}, headers=h)
        assert_problem(r, 422)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/users/3000000000", "path.user_id"),  # users.id is an integer column
        ("/api/leads/1/documents/9223372036854775808", "path.doc_id"),
        ("/api/enrichment/jobs/9223372036854775808", "path.job_id"),
        ("/api/users?page=100001", "query.page"),
        ("/api/pipeline?assignee_id=3000000000", "query.assignee_id"),
    ],
)
async def test_ids_beyond_their_column_are_validation_errors(client, people, path, field) -> None:
    # They were a 422 from PostgreSQL without the field ("A value is out of range").
    body = assert_problem(await client.get(path, headers=people["admin"][1]), 422)
    assert [e["field"] for e in body["errors"]] == [field]  # type: ignore[union-attr]


async def test_an_id_is_not_a_boolean(client, people, lead) -> None:
    # pydantic's lax mode took JSON true for user 1 (schemathesis: schema-violating, accepted).
    h = people["admin"][1]
    r = await client.post(f"/api/leads/{lead['id']}/assign", json={"assignee_id": True}, headers=h)
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["body.assignee_id"]  # type: ignore[union-attr]
    r = await client.post("/api/enrichment/batch", json={"lead_ids": [True]}, headers=h)
    assert_problem(r, 422)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/leads", "GET, POST"),
        ("OPTIONS", "/api/leads/1", "DELETE, GET, PATCH"),
        ("PUT", "/api/leads/1", "DELETE, GET, PATCH"),
        ("OPTIONS", "/api/leads/1/comments/2", "DELETE, PATCH"),
        ("DELETE", "/api/users", "GET, POST"),
        ("OPTIONS", "/api/users/1", "DELETE, GET, PATCH"),
        # Not a lead id: the export, which only GETs (it was a 422 from PATCH /leads/{lead_id}).
        ("PATCH", "/api/leads/export.csv", "GET"),
        ("DELETE", "/api/leads/export.xlsx", "GET"),
    ],
)
async def test_405_allows_every_method_of_the_path(client, people, method, path, allow) -> None:
    # Starlette named only the methods of the first route that matched the path.
    r = await client.request(method, path, headers=people["admin"][1])
    assert_problem(r, 405)
    assert r.headers["allow"] == allow


async def test_problems_answered_are_documented(app, client, spec, people, lead) -> None:
    h = people["ops"][1]
    one = "/api/leads/{lead_id}"
    cases = [
        ("patch", one, {"json": {"name": "x"}, "headers": {**h, "If-Match": '"999"'}}, 412),
        ("patch", one, {"json": {"name": "x"}, "headers": {**h, "If-Match": "null"}}, 422),
        ("patch", one, {"json": {"is_public": None}, "headers": h}, 422),
        (
            "patch",
            one,
            {"content": b"{", "headers": {**h, "Content-Type": "application/json"}},
            400,
        ),
        ("get", one, {"headers": {"Authorization": "Bearer nope"}}, 401),
        ("delete", one, {"headers": h}, 403),
    ]
    for method, template, kw, status in cases:
        r = await client.request(method, template.format(lead_id=lead["id"]), **kw)
        assert_problem(r, status)
        assert documented(spec, method, template, status), (method, template, status)
    big = json.dumps({"notes": "x" * (3 * 2**20)})
    r = await client.patch(
        f"/api/leads/{lead['id']}", content=big, headers={**h, "Content-Type": "application/json"}
    )
    assert_problem(r, 413)
    assert documented(spec, "patch", one, 413)


async def test_content_types_are_documented(client, spec, people, lead) -> None:
    h = people["ops"][1]
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    up = await client.post(
        f"/api/leads/{lead['id']}/documents",
        headers=h,
        files={"file": ("photo.png", png)},
        data={"category": "photo"},
    )
    assert up.status_code == 201, up.text
    r = await client.get(up.json()["download_url"], headers=h)
    assert r.status_code == 200
    op = spec["paths"]["/api/leads/{lead_id}/documents/{doc_id}"]["get"]
    assert r.headers["content-type"] in op["responses"]["200"]["content"]
    r = await client.get("/ogc/collections/parcels/queryables")
    assert r.status_code == 200
    op = spec["paths"]["/ogc/collections/{collection_id}/queryables"]["get"]
    assert list(op["responses"]["200"]["content"]) == ["application/schema+json"]
    assert r.headers["content-type"] == "application/schema+json"
    r = await client.get("/ogc/api")
    assert r.status_code == 200
    assert list(spec["paths"]["/ogc/api"]["get"]["responses"]["200"]["content"]) == [
        r.headers["content-type"]
    ]
