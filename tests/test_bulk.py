"""Bulk actions (assign, move, export a selection) and the Kanban's per-column totals."""

from __future__ import annotations

import io

import psycopg
import pytest
from openpyxl import load_workbook

from geo.models import Role
from tests.conftest import assert_problem
from tests.lead_fixtures import mark_enriched, square, sync_url


@pytest.fixture(scope="module")
async def people(make_user, auth_headers):
    users = {r: await make_user(r) for r in (Role.ADMIN, Role.MANAGER, Role.OPS, Role.COMMERCIAL)}
    users["ops2"] = await make_user(Role.OPS)
    return {k: (u, await auth_headers(user=u)) for k, u in users.items()}


_n = iter(range(10_000))


async def new_lead(client, people, department_shift: float = 0.0) -> dict:
    i = next(_n)
    r = await client.post(
        "/api/leads",
        json={
            "geometry": square(4.5 + 0.003 * (i % 50) + department_shift, 45.5 + 0.003 * (i // 50)),
            "commune_insee": "69114",
            "name": f"B{i}",
        },
        headers=people[Role.OPS][1],
    )
    assert r.status_code == 201, r.text
    return r.json()


def lead_rows(db_url: str, ids: list[int]) -> dict[int, tuple]:
    with psycopg.connect(sync_url(db_url)) as conn:
        rows = conn.execute(
            "SELECT id, status, assignee_id FROM leads WHERE id = ANY(%s)", (ids,)
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


async def test_bulk_assign_and_ops_forbidden(client, people, db_url) -> None:
    leads = [await new_lead(client, people) for _ in range(3)]
    ids = [x["id"] for x in leads]
    ops2 = people["ops2"][0]
    body = {"action": "assign", "ids": ids, "assignee_id": ops2.id}
    # OPS and COMMERCIAL may not use bulk actions at all.
    for role in (Role.OPS, Role.COMMERCIAL):
        assert_problem(
            await client.post("/api/leads/bulk", json=body, headers=people[role][1]), 403
        )
    assert {a for _, a in lead_rows(db_url, ids).values()} == {people[Role.OPS][0].id}
    r = await client.post("/api/leads/bulk", json=body, headers=people[Role.MANAGER][1])
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["ok"], out["failed"]) == (3, 0)
    assert [x["id"] for x in out["results"]] == ids
    assert {a for _, a in lead_rows(db_url, ids).values()} == {ops2.id}
    # Each assignment is logged like the single-lead route's.
    with psycopg.connect(sync_url(db_url)) as conn:
        n = conn.execute(
            "SELECT count(*) FROM activity_log WHERE action = 'assign' AND lead_id = ANY(%s)",
            (ids,),
        ).fetchone()[0]
    assert n == 3


async def test_one_refusal_does_not_undo_the_others(client, people, db_url) -> None:
    leads = [await new_lead(client, people) for _ in range(3)]
    ids = [x["id"] for x in leads]
    mark_enriched(db_url, ids[0])
    mark_enriched(db_url, ids[2])
    # The middle lead has no enrichment: ENRICHED is refused for it (409), not for the others;
    # an unknown id is a 404 result, not a failed request.
    r = await client.post(
        "/api/leads/bulk",
        json={"action": "transition", "ids": [*ids, 987654], "status": "ENRICHED"},
        headers=people[Role.MANAGER][1],
    )
    assert r.status_code == 200, r.text
    out = r.json()
    by_id = {x["id"]: x for x in out["results"]}
    assert (out["ok"], out["failed"]) == (2, 2)
    assert by_id[ids[0]]["ok"] and by_id[ids[2]]["ok"]
    refused = by_id[ids[1]]
    assert (refused["ok"], refused["status"], refused["code"]) == (
        False,
        409,
        "transition.needs_enrichment",
    )
    assert "enrichi" in refused["message"]
    assert by_id[987654]["status"] == 404 and by_id[987654]["code"] == "lead.not_found"
    assert by_id[987654]["message"].startswith("Lead introuvable")
    rows = lead_rows(db_url, ids)
    assert [rows[i][0] for i in ids] == ["ENRICHED", "NEW", "ENRICHED"]
    with psycopg.connect(sync_url(db_url)) as conn:
        moves = conn.execute(
            "SELECT lead_id FROM activity_log WHERE action = 'transition' AND lead_id = ANY(%s)",
            (ids,),
        ).fetchall()
    assert sorted(m[0] for m in moves) == sorted([ids[0], ids[2]])
    # The workflow's own rules: a rejection needs a reason for each lead (422 per lead).
    r = await client.post(
        "/api/leads/bulk",
        json={"action": "transition", "ids": ids[:1], "status": "REJECTED"},
        headers=people[Role.ADMIN][1],
    )
    assert r.json()["results"][0]["code"] == "transition.reason_required"
    r = await client.post(
        "/api/leads/bulk",
        json={"action": "transition", "ids": ids[:2], "status": "REJECTED", "reason": "doublon"},
        headers=people[Role.ADMIN][1],
    )
    assert r.json()["ok"] == 2
    assert [lead_rows(db_url, ids)[i][0] for i in ids] == ["REJECTED", "REJECTED", "ENRICHED"]


async def test_bulk_input_refused(client, people) -> None:
    h = people[Role.MANAGER][1]
    lead = await new_lead(client, people)
    too_many = {"action": "assign", "ids": list(range(1, 502)), "assignee_id": None}
    assert_problem(await client.post("/api/leads/bulk", json=too_many, headers=h), 422)
    empty = {"action": "assign", "ids": [], "assignee_id": None}
    assert_problem(await client.post("/api/leads/bulk", json=empty, headers=h), 422)
    unknown = {"action": "delete", "ids": [lead["id"]]}
    assert_problem(await client.post("/api/leads/bulk", json=unknown, headers=h), 422)
    bad_status = {"action": "transition", "ids": [lead["id"]], "status": "FINISHED"}
    assert_problem(await client.post("/api/leads/bulk", json=bad_status, headers=h), 422)
    # A sales user can't take leads: one 422 for the request, no lead touched.
    sales = people[Role.COMMERCIAL][0].id
    body = {"action": "assign", "ids": [lead["id"]], "assignee_id": sales}
    assert_problem(await client.post("/api/leads/bulk", json=body, headers=h), 422)
    assert_problem(await client.post("/api/leads/bulk", json=body), 401)


async def test_bulk_export_of_the_selection(client, people) -> None:
    leads = [await new_lead(client, people) for _ in range(3)]
    ids = [leads[0]["id"], leads[2]["id"]]
    h = people[Role.MANAGER][1]
    r = await client.post("/api/leads/bulk/export", json={"ids": ids}, headers=h)
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert sorted(row[0] for row in rows[1:]) == sorted(ids)
    r = await client.post(
        "/api/leads/bulk/export", json={"ids": ids, "format": "csv", "dialect": "fr"}, headers=h
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 3 and ";" in lines[0]
    assert_problem(
        await client.post("/api/leads/bulk/export", json={"ids": ids}, headers=people[Role.OPS][1]),
        403,
    )


async def test_column_totals(client, people, db_url) -> None:
    h = people[Role.MANAGER][1]
    a, b = await new_lead(client, people), await new_lead(client, people)
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute("UPDATE leads SET department = '01' WHERE id = ANY(%s)", ([a["id"], b["id"]],))
        conn.execute(
            "INSERT INTO lead_technical (lead_id, installable_mwc) VALUES (%s, 2.5)", (a["id"],)
        )
        conn.execute("SELECT 1")
    r = await client.get("/api/pipeline", params={"department": "01"}, headers=h)
    assert r.status_code == 200, r.text
    new = next(c for c in r.json()["columns"] if c["status"] == "NEW")
    assert new["count"] == 2
    assert new["area_m2_total"] == pytest.approx(a["area_m2"] + b["area_m2"])
    assert (new["mwc_total"], new["mwc_known"]) == (2.5, 1)
    enriched = next(c for c in r.json()["columns"] if c["status"] == "ENRICHED")
    assert (enriched["count"], enriched["area_m2_total"], enriched["mwc_total"]) == (0, 0, None)


async def test_board_sorted_like_the_list(client, people, db_url) -> None:
    h = people[Role.MANAGER][1]
    a, b = await new_lead(client, people), await new_lead(client, people)
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute("UPDATE leads SET department = '02' WHERE id = ANY(%s)", ([a["id"], b["id"]],))
        conn.execute("UPDATE leads SET quality_score = 80 WHERE id = %s", (a["id"],))
        conn.execute("UPDATE leads SET quality_score = 20 WHERE id = %s", (b["id"],))

    async def order(sort: str) -> list[int]:
        r = await client.get("/api/pipeline", params={"department": "02", "sort": sort}, headers=h)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["columns"][0]["cards"]]

    assert await order("-quality_score") == [a["id"], b["id"]]
    assert await order("quality_score") == [b["id"], a["id"]]
    bad = await client.get("/api/pipeline", params={"sort": "password"}, headers=h)
    assert_problem(bad, 422)
