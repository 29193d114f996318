"""Notifications (assigned to me, status changed, mentioned) and @mentions in comments."""

from __future__ import annotations

import psycopg
import pytest

from api.schemas.team import MentionCandidate
from api.services.notifications import find_mentions
from geo.models import Role
from tests.conftest import assert_problem
from tests.lead_fixtures import mark_enriched, square, sync_url


@pytest.fixture(scope="module")
async def people(make_user, auth_headers):
    specs = {
        "admin": (Role.ADMIN, "Alice Martin"),
        "manager": (Role.MANAGER, "Marc Durand"),
        "ops": (Role.OPS, "Élodie Bernard"),
        "ops2": (Role.OPS, "Jean Dupont"),
        "ops3": (Role.OPS, "Jean Dupontel"),
        "sales": (Role.COMMERCIAL, "Sophie Petit"),
    }
    out = {}
    for key, (role, name) in specs.items():
        user = await make_user(role, full_name=name)
        out[key] = (user, await auth_headers(user=user))
    return out


_n = iter(range(10_000))


async def new_lead(client, people, who="ops") -> dict:
    i = next(_n)
    r = await client.post(
        "/api/leads",
        json={"geometry": square(4.6 + 0.003 * i, 45.7), "commune_insee": "69114", "name": f"N{i}"},
        headers=people[who][1],
    )
    assert r.status_code == 201, r.text
    return r.json()


async def mine(client, people, who, **params) -> dict:
    r = await client.get("/api/notifications", params=params, headers=people[who][1])
    assert r.status_code == 200, r.text
    return r.json()


def test_find_mentions() -> None:
    c = [
        MentionCandidate(id=1, full_name="Jean Dupont", email="jd@example.fr"),
        MentionCandidate(id=2, full_name="Jean Dupontel", email="jdl@example.fr"),
        MentionCandidate(id=3, full_name="Élodie Bernard", email="eb@example.fr"),
    ]
    assert find_mentions("@Jean Dupontel vois ça", c) == [2]  # the longest name
    assert find_mentions("merci @jean dupont, et @ÉLODIE BERNARD.", c) == [1, 3]
    assert find_mentions("cc @eb@example.fr et @jd@example.fr", c) == [3, 1]
    assert find_mentions("@Jean Duponts n'existe pas, @Paul non plus", c) == []
    assert find_mentions("écrire à jd@example.fr", c) == []  # an address, not a mention
    assert find_mentions("@Jean Dupont @Jean Dupont", c) == [1]


async def test_assignment_and_moves_notify_but_not_the_actor(client, people, db_url) -> None:
    lead = await new_lead(client, people)
    lid = lead["id"]
    before = (await mine(client, people, "ops2"))["unread"]
    r = await client.post(
        f"/api/leads/{lid}/assign",
        json={"assignee_id": people["ops2"][0].id},
        headers=people["manager"][1],
    )
    assert r.status_code == 200, r.text
    got = await mine(client, people, "ops2")
    assert got["unread"] == before + 1
    first = got["items"][0]
    assert (first["kind"], first["lead_id"], first["actor_name"]) == (
        "assigned_to_me",
        lid,
        "Marc Durand",
    )
    assert first["lead_name"] == lead["name"] and first["read_at"] is None
    assert (await mine(client, people, "manager"))["total"] == 0  # never the actor
    # A move: the creator (ops) and the assignee (ops2) are told; the actor (ops2) is not.
    mark_enriched(db_url, lid)
    r = await client.post(
        f"/api/leads/{lid}/transition", json={"status": "ENRICHED"}, headers=people["ops2"][1]
    )
    assert r.status_code == 200, r.text
    creator = await mine(client, people, "ops")
    assert creator["items"][0]["kind"] == "status_changed"
    assert creator["items"][0]["data"] == {"from": "NEW", "to": "ENRICHED"}
    assert [n["kind"] for n in (await mine(client, people, "ops2"))["items"]] == ["assigned_to_me"]
    # A manager's move tells both.
    r = await client.post(
        f"/api/leads/{lid}/transition",
        json={"status": "REJECTED", "reason": "zone humide"},
        headers=people["manager"][1],
    )
    assert r.status_code == 200
    assert (await mine(client, people, "ops2"))["items"][0]["data"]["to"] == "REJECTED"
    # A refused move writes nothing.
    with psycopg.connect(sync_url(db_url)) as conn:
        n = conn.execute("SELECT count(*) FROM notifications WHERE lead_id=%s", (lid,)).fetchone()
    r = await client.post(
        f"/api/leads/{lid}/transition", json={"status": "SOLD"}, headers=people["manager"][1]
    )
    assert_problem(r, 409)
    with psycopg.connect(sync_url(db_url)) as conn:
        assert (
            conn.execute("SELECT count(*) FROM notifications WHERE lead_id=%s", (lid,)).fetchone()
            == n
        )


async def test_mentions_in_comments(client, people) -> None:
    lead = await new_lead(client, people)
    lid = lead["id"]
    # Who may be mentioned: active users who may see the lead (not the sales: a NEW lead).
    r = await client.get(f"/api/leads/{lid}/mentionable", headers=people["ops"][1])
    names = {p["full_name"] for p in r.json()}
    assert {"Alice Martin", "Marc Durand", "Élodie Bernard"} <= names
    assert "Sophie Petit" not in names and "Jean Dupont" not in names  # ops2 can't see it
    r = await client.get(
        f"/api/leads/{lid}/mentionable", params={"q": "mar"}, headers=people["ops"][1]
    )
    assert [p["full_name"] for p in r.json()] == ["Alice Martin", "Marc Durand"]
    body = "@Marc Durand regarde, et @Jean Dupont (ne voit pas le lead), @Inconnu, @Élodie Bernard"
    r = await client.post(
        f"/api/leads/{lid}/comments", json={"body": body}, headers=people["ops"][1]
    )
    assert r.status_code == 201, r.text
    comment_id = r.json()["id"]
    got = (await mine(client, people, "manager", unread_only=True))["items"]
    mention = next(n for n in got if n["kind"] == "mentioned")
    assert mention["lead_id"] == lid and mention["data"]["comment_id"] == comment_id
    assert mention["actor_name"] == "Élodie Bernard"
    assert not [
        n for n in (await mine(client, people, "ops2"))["items"] if n["kind"] == "mentioned"
    ]
    assert not [n for n in (await mine(client, people, "ops"))["items"] if n["kind"] == "mentioned"]
    # An edit tells only the newly mentioned.
    before = (await mine(client, people, "admin"))["total"]
    r = await client.patch(
        f"/api/leads/{lid}/comments/{comment_id}",
        json={"body": body + " et @alice martin"},
        headers=people["ops"][1],
    )
    assert r.status_code == 200, r.text
    assert (await mine(client, people, "admin"))["total"] == before + 1
    manager_mentions = [
        n for n in (await mine(client, people, "manager"))["items"] if n["kind"] == "mentioned"
    ]
    assert len(manager_mentions) == 1


async def test_read_and_read_all(client, people) -> None:
    for _ in range(2):
        lead = await new_lead(client, people)
        await client.post(
            f"/api/leads/{lead['id']}/comments",
            json={"body": "@Alice Martin à voir"},
            headers=people["ops"][1],
        )
    got = await mine(client, people, "admin")
    assert got["unread"] >= 2
    one = got["items"][0]["id"]
    # Another user's notification is not theirs to read: 404.
    assert_problem(
        await client.post(f"/api/notifications/{one}/read", headers=people["manager"][1]), 404
    )
    r = await client.post(f"/api/notifications/{one}/read", headers=people["admin"][1])
    assert r.status_code == 204
    after = await mine(client, people, "admin")
    assert after["unread"] == got["unread"] - 1
    assert next(n for n in after["items"] if n["id"] == one)["read_at"] is not None
    assert all(
        n["read_at"] is None
        for n in (await mine(client, people, "admin", unread_only=True))["items"]
    )
    r = await client.post("/api/notifications/read-all", headers=people["admin"][1])
    assert r.status_code == 204
    assert (await mine(client, people, "admin"))["unread"] == 0
    assert_problem(await client.get("/api/notifications"), 401)
    assert_problem(
        await client.get(
            "/api/notifications", params={"page_size": 500}, headers=people["admin"][1]
        ),
        422,
    )


async def test_bulk_assign_notifies_each_assignee(client, people) -> None:
    leads = [await new_lead(client, people) for _ in range(2)]
    before = (await mine(client, people, "ops3"))["unread"]
    r = await client.post(
        "/api/leads/bulk",
        json={
            "action": "assign",
            "ids": [x["id"] for x in leads],
            "assignee_id": people["ops3"][0].id,
        },
        headers=people["manager"][1],
    )
    assert r.json()["ok"] == 2
    got = await mine(client, people, "ops3")
    assert got["unread"] == before + 2
    assert {n["lead_id"] for n in got["items"][:2]} == {x["id"] for x in leads}


async def test_a_lead_made_for_someone_else_notifies_them(client, people) -> None:
    before = (await mine(client, people, "ops3"))["total"]
    r = await client.post(
        "/api/leads",
        json={
            "geometry": square(4.9, 45.75),
            "commune_insee": "69114",
            "name": "Pour Jean",
            "assignee_id": people["ops3"][0].id,
        },
        headers=people["manager"][1],
    )
    assert r.status_code == 201, r.text
    got = await mine(client, people, "ops3")
    assert got["total"] == before + 1
    assert (got["items"][0]["kind"], got["items"][0]["lead_id"]) == (
        "assigned_to_me",
        r.json()["id"],
    )
    # Made for oneself (OPS): nobody is told.
    lead = await new_lead(client, people)
    assert not [
        n for n in (await mine(client, people, "ops"))["items"] if n["lead_id"] == lead["id"]
    ]
