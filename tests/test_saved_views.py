"""Saved views of the lead list / Kanban: per user, shared by MANAGER/ADMIN, owner-only edits."""

from __future__ import annotations

import pytest

from geo.models import Role
from tests.conftest import assert_problem


@pytest.fixture(scope="module")
async def people(make_user, auth_headers):
    out = {}
    for key, role in (
        ("manager", Role.MANAGER),
        ("manager2", Role.MANAGER),
        ("ops", Role.OPS),
        ("ops2", Role.OPS),
    ):
        user = await make_user(role)
        out[key] = (user, await auth_headers(user=user))
    return out


FILTERS = {
    "status": ["NEW", "ENRICHED"],
    "department": "69",
    "score_min": 40,
    "q": "Lyon",
    "sort": "-quality_score",
    "view": "list",
    "columns": ["commune", "area", "score"],
}


async def test_crud_and_duplicate_names(client, people) -> None:
    h = people["ops"][1]
    r = await client.post(
        "/api/saved-views", json={"name": "Rhône 40+", "filters": FILTERS}, headers=h
    )
    assert r.status_code == 201, r.text
    view = r.json()
    assert r.headers["location"] == f"/api/saved-views/{view['id']}"
    assert view["filters"] == FILTERS and view["mine"] and not view["shared"]
    # The same name (any case) again: 409; another user may use it.
    dup = await client.post(
        "/api/saved-views", json={"name": "rhône 40+", "filters": {}}, headers=h
    )
    assert assert_problem(dup, 409)["code"] == "resource.conflict"
    r = await client.post(
        "/api/saved-views", json={"name": "Rhône 40+", "filters": {}}, headers=people["ops2"][1]
    )
    assert r.status_code == 201
    # Listing: only mine (ops2's private view is not shown to ops).
    listed = (await client.get("/api/saved-views", headers=h)).json()
    assert [v["id"] for v in listed] == [view["id"]]
    r = await client.patch(
        f"/api/saved-views/{view['id']}",
        json={"name": "Rhône", "filters": {"department": "69"}},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["name"] == "Rhône"
    assert r.json()["filters"] == {"department": "69"}
    # Renaming onto another of my views' name: 409.
    other = (
        await client.post("/api/saved-views", json={"name": "Ain", "filters": {}}, headers=h)
    ).json()
    assert_problem(
        await client.patch(f"/api/saved-views/{other['id']}", json={"name": "RHÔNE"}, headers=h),
        409,
    )
    # Someone else's private view does not exist for me.
    assert_problem(
        await client.delete(f"/api/saved-views/{view['id']}", headers=people["ops2"][1]), 404
    )
    assert (await client.delete(f"/api/saved-views/{view['id']}", headers=h)).status_code == 204
    assert_problem(await client.delete(f"/api/saved-views/{view['id']}", headers=h), 404)


async def test_bad_filters_are_422(client, people) -> None:
    h = people["ops"][1]
    for filters in (
        {"status": ["FINISHED"]},
        {"department": "6"},
        {"score_min": 120},
        {"score_min": 80, "score_max": 20},
        {"sort": "password"},
        {"view": "map"},
        {"columns": ["owners"]},
        {"unknown": 1},
        {"assignee": True},
    ):
        r = await client.post("/api/saved-views", json={"name": "x", "filters": filters}, headers=h)
        assert_problem(r, 422)
    assert_problem(
        await client.post("/api/saved-views", json={"name": " ", "filters": {}}, headers=h), 422
    )
    assert_problem(await client.post("/api/saved-views", json={"name": "y", "filters": {}}), 401)


async def test_sharing(client, people) -> None:
    # OPS may not share; a MANAGER may, and the team sees it but can't change it.
    r = await client.post(
        "/api/saved-views",
        json={"name": "Équipe", "filters": {}, "shared": True},
        headers=people["ops"][1],
    )
    assert_problem(r, 403)
    r = await client.post(
        "/api/saved-views",
        json={"name": "À relire", "filters": {"status": ["IN_REVIEW"]}, "shared": True},
        headers=people["manager"][1],
    )
    assert r.status_code == 201, r.text
    shared = r.json()
    seen = (await client.get("/api/saved-views", headers=people["ops2"][1])).json()
    mine_first = [v for v in seen if v["mine"]] + [v for v in seen if not v["mine"]]
    assert seen == mine_first
    got = next(v for v in seen if v["id"] == shared["id"])
    assert not got["mine"] and got["owner_name"] == people["manager"][0].full_name
    for who in ("ops2", "manager2"):
        assert_problem(
            await client.patch(
                f"/api/saved-views/{shared['id']}", json={"name": "x"}, headers=people[who][1]
            ),
            403,
        )
        assert_problem(
            await client.delete(f"/api/saved-views/{shared['id']}", headers=people[who][1]), 403
        )
    r = await client.patch(
        f"/api/saved-views/{shared['id']}", json={"shared": False}, headers=people["manager"][1]
    )
    assert r.status_code == 200 and not r.json()["shared"]
    assert shared["id"] not in [
        v["id"] for v in (await client.get("/api/saved-views", headers=people["ops2"][1])).json()
    ]
