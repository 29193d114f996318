"""Comments (author edits/deletes own, MANAGER/ADMIN moderate) and the paginated activity log."""

from __future__ import annotations

import psycopg
import pytest

from geo.models import Role
from tests.conftest import assert_problem
from tests.lead_fixtures import sync_url

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[4.6, 45.9], [4.602, 45.9], [4.602, 45.902], [4.6, 45.902], [4.6, 45.9]]],
}


@pytest.fixture(scope="module")
async def ctx(client, make_user, auth_headers):
    users = {r: await make_user(r) for r in (Role.ADMIN, Role.MANAGER, Role.OPS, Role.COMMERCIAL)}
    users["ops2"] = await make_user(Role.OPS)
    people = {k: (u, await auth_headers(user=u)) for k, u in users.items()}
    r = await client.post(
        "/api/leads",
        json={"geometry": SQUARE, "commune_insee": "69114"},
        headers=people[Role.OPS][1],
    )
    assert r.status_code == 201
    return people, r.json()["id"]


async def test_comment_crud_and_moderation(client, ctx) -> None:
    people, lid = ctx
    ops_h, mgr_h = people[Role.OPS][1], people[Role.MANAGER][1]
    url = f"/api/leads/{lid}/comments"
    r = await client.post(url, json={"body": "  Premier contact mairie  "}, headers=ops_h)
    assert r.status_code == 201, r.text
    c1 = r.json()
    assert c1["body"] == "Premier contact mairie" and c1["author_id"] == people[Role.OPS][0].id
    assert r.headers["location"] == f"{url}/{c1['id']}"
    c2 = (await client.post(url, json={"body": "QA ok"}, headers=mgr_h)).json()
    page = (await client.get(url, headers=ops_h)).json()
    assert [c["id"] for c in page["items"]] == [c2["id"], c1["id"]] and page["total"] == 2
    # Author edits own; others may not, even a manager.
    r = await client.patch(f"{url}/{c1['id']}", json={"body": "Mairie rappelée"}, headers=ops_h)
    assert r.status_code == 200 and r.json()["body"] == "Mairie rappelée"
    assert_problem(await client.patch(f"{url}/{c1['id']}", json={"body": "x"}, headers=mgr_h), 403)
    assert_problem(await client.delete(f"{url}/{c2['id']}", headers=ops_h), 403)
    # Manager moderates (deletes someone else's comment).
    assert (await client.delete(f"{url}/{c1['id']}", headers=mgr_h)).status_code == 204
    assert_problem(await client.delete(f"{url}/{c1['id']}", headers=mgr_h), 404)
    assert (await client.delete(f"{url}/{c2['id']}", headers=mgr_h)).status_code == 204
    assert (await client.get(url, headers=ops_h)).json()["total"] == 0
    actions = [
        a["action"]
        for a in (await client.get(f"/api/leads/{lid}/activity", headers=mgr_h)).json()["items"]
    ]
    assert actions[:5] == [
        "comment_delete",
        "comment_delete",
        "comment_update",
        "comment_create",
        "comment_create",
    ]


async def test_comment_bad_input_and_visibility(client, ctx) -> None:
    people, lid = ctx
    url = f"/api/leads/{lid}/comments"
    assert_problem(await client.post(url, json={"body": "   "}, headers=people[Role.OPS][1]), 422)
    assert_problem(await client.post(url, json={"text": "x"}, headers=people[Role.OPS][1]), 422)
    assert_problem(
        await client.post(url, json={"body": "x" * 10_001}, headers=people[Role.OPS][1]), 422
    )
    # Leads one may not see: 404 for reading and writing comments.
    for who in ("ops2", Role.COMMERCIAL):
        assert_problem(await client.get(url, headers=people[who][1]), 404)
        assert_problem(await client.post(url, json={"body": "x"}, headers=people[who][1]), 404)
    assert_problem(
        await client.get("/api/leads/999999/comments", headers=people[Role.ADMIN][1]), 404
    )
    # A comment id of another lead is not found under this lead.
    assert_problem(
        await client.patch(f"{url}/999999", json={"body": "x"}, headers=people[Role.OPS][1]), 404
    )


async def test_activity_last_100_then_paginated(client, ctx, db_url) -> None:
    people, lid = ctx
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO activity_log (lead_id, action, entity, entity_id, created_at)"
            " SELECT %s, 'note', 'lead', %s, now() - make_interval(secs => g)"
            " FROM generate_series(1, 150) g",
            (lid, lid),
        )
        total = conn.execute(
            "SELECT count(*) FROM activity_log WHERE lead_id=%s", (lid,)
        ).fetchone()[0]
    h = people[Role.MANAGER][1]
    p1 = (await client.get(f"/api/leads/{lid}/activity", headers=h)).json()
    assert len(p1["items"]) == 100 and p1["total"] == total and p1["page_size"] == 100
    p2 = (await client.get(f"/api/leads/{lid}/activity", params={"page": 2}, headers=h)).json()
    assert len(p2["items"]) == total - 100
    times = [a["created_at"] for a in p1["items"] + p2["items"]]
    assert times == sorted(times, reverse=True)
    assert not {a["id"] for a in p1["items"]} & {a["id"] for a in p2["items"]}
    detail = (await client.get(f"/api/leads/{lid}", headers=h)).json()
    assert len(detail["activity"]) == 100
    assert_problem(
        await client.get(f"/api/leads/{lid}/activity", params={"page_size": 500}, headers=h), 422
    )
