"""Pipeline over HTTP: moves per role, refusals listing allowed moves, concurrency, Kanban."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from geo.models import Role
from tests.conftest import assert_problem, login
from tests.lead_fixtures import count_rows, load_parcels, mark_enriched, square, sync_url


@pytest.fixture(scope="module")
async def people(make_user, auth_headers):
    users = {r: await make_user(r) for r in (Role.ADMIN, Role.MANAGER, Role.OPS, Role.COMMERCIAL)}
    users["ops2"] = await make_user(Role.OPS)
    return {k: (u, await auth_headers(user=u)) for k, u in users.items()}


_n = iter(range(10_000))


async def new_lead(client, people) -> dict:
    i = next(_n)
    r = await client.post(
        "/api/leads",
        json={
            "geometry": square(4.5 + 0.003 * (i % 50), 45.5 + 0.003 * (i // 50)),
            "commune_insee": "69114",
            "name": f"L{i}",
        },
        headers=people[Role.OPS][1],
    )
    assert r.status_code == 201, r.text
    return r.json()


async def move(client, people, role, lead_id, status, **kw):
    return await client.post(
        f"/api/leads/{lead_id}/transition", json={"status": status, **kw}, headers=people[role][1]
    )


async def test_full_path_by_roles(client, people, db_url) -> None:
    lead = await new_lead(client, people)
    lid = lead["id"]
    mark_enriched(db_url, lid)
    for role, status in [
        (Role.OPS, "ENRICHED"),
        (Role.OPS, "QUALIFIED"),
        (Role.OPS, "IN_REVIEW"),
        (Role.MANAGER, "QUALIFIED"),
        (Role.OPS, "IN_REVIEW"),
        (Role.MANAGER, "CLIENT_READY"),
        (Role.COMMERCIAL, "SOLD"),
    ]:
        r = await move(client, people, role, lid, status)
        assert r.status_code == 200, (status, r.text)
        assert r.json()["status"] == status
    d = (await client.get(f"/api/leads/{lid}", headers=people[Role.ADMIN][1])).json()
    hist = d["status_history"]
    assert [h["status"] for h in hist] == [
        "NEW",
        "ENRICHED",
        "QUALIFIED",
        "IN_REVIEW",
        "QUALIFIED",
        "IN_REVIEW",
        "CLIENT_READY",
        "SOLD",
    ]
    assert all(h["left_at"] is not None for h in hist[:-1]) and hist[-1]["left_at"] is None
    for a, b in zip(hist, hist[1:], strict=False):
        assert a["left_at"] == b["entered_at"]
    transitions = [a for a in d["activity"] if a["action"] == "transition"]
    assert len(transitions) == 7
    assert transitions[0]["before"] == {"status": "CLIENT_READY"}
    assert transitions[0]["after"] == {"status": "SOLD"}


async def test_refusals_say_what_is_allowed(client, people, db_url) -> None:
    lead = await new_lead(client, people)
    lid = lead["id"]
    body = assert_problem(await move(client, people, Role.OPS, lid, "SOLD"), 409)
    assert set(body["allowed_transitions"]) == {"ENRICHED", "REJECTED"}  # the table's moves
    assert body["current_status"] == "NEW"
    body = assert_problem(await move(client, people, Role.OPS, lid, "ARCHIVED"), 403)
    assert "ENRICHED" in body["allowed_transitions"]
    # Reject needs a reason; the lead does not move.
    assert_problem(await move(client, people, Role.OPS, lid, "REJECTED"), 422)
    assert_problem(await move(client, people, Role.OPS, lid, "REJECTED", reason="  "), 422)
    assert_problem(await move(client, people, Role.OPS, lid, "FINISHED"), 422)
    # The commercial does not even see a NEW lead; another OPS neither.
    assert_problem(await move(client, people, Role.COMMERCIAL, lid, "ENRICHED"), 404)
    assert_problem(await move(client, people, "ops2", lid, "ENRICHED"), 404)
    assert_problem(await move(client, people, Role.OPS, 987654, "ENRICHED"), 404)
    with psycopg.connect(sync_url(db_url)) as conn:
        n = conn.execute(
            "SELECT count(*) FROM lead_status_history WHERE lead_id=%s", (lid,)
        ).fetchone()[0]
        status = conn.execute("SELECT status FROM leads WHERE id=%s", (lid,)).fetchone()[0]
    assert (n, status) == (1, "NEW")
    r = await move(client, people, Role.OPS, lid, "REJECTED", reason="zone humide")
    assert r.status_code == 200
    d = (await client.get(f"/api/leads/{lid}", headers=people[Role.OPS][1])).json()
    assert d["rejection_reason"] == "zone humide" and d["allowed_transitions"] == []


async def test_stale_if_match_on_transition(client, people) -> None:
    lead = await new_lead(client, people)
    r = await client.post(
        f"/api/leads/{lead['id']}/transition",
        json={"status": "ENRICHED"},
        headers={**people[Role.OPS][1], "If-Match": '"99"'},
    )
    assert_problem(r, 412)


async def test_concurrent_transitions_one_wins(live_server, people, db_url) -> None:
    """Two real HTTP requests on two connections move the same lead at once: exactly one wins."""
    async with (
        httpx.AsyncClient(base_url=live_server.url, timeout=20) as a,
        httpx.AsyncClient(base_url=live_server.url, timeout=20) as b,
    ):
        ops_token = await login(a, people[Role.OPS][0].email)
        mgr_token = await login(b, people[Role.MANAGER][0].email)
        ha = {"Authorization": f"Bearer {ops_token}"}
        hb = {"Authorization": f"Bearer {mgr_token}"}
        outcomes = []
        for round_ in range(6):
            lead = await new_lead(a, {Role.OPS: (None, ha)})
            lid = lead["id"]
            mark_enriched(db_url, lid)
            if round_ % 2 == 0:  # the same move twice
                ra, rb = await asyncio.gather(
                    a.post(f"/api/leads/{lid}/transition", json={"status": "ENRICHED"}, headers=ha),
                    b.post(f"/api/leads/{lid}/transition", json={"status": "ENRICHED"}, headers=hb),
                )
            else:  # two different moves, both carrying the version they read
                ra, rb = await asyncio.gather(
                    a.post(
                        f"/api/leads/{lid}/transition",
                        json={"status": "ENRICHED"},
                        headers={**ha, "If-Match": '"1"'},
                    ),
                    b.post(
                        f"/api/leads/{lid}/transition",
                        json={"status": "REJECTED", "reason": "doublon"},
                        headers={**hb, "If-Match": '"1"'},
                    ),
                )
            codes = sorted([ra.status_code, rb.status_code])
            assert codes[0] == 200 and codes[1] in (409, 412), (ra.text, rb.text)
            loser = ra if ra.status_code != 200 else rb
            assert loser.headers["content-type"].startswith("application/problem+json")
            winner = ra if ra.status_code == 200 else rb
            outcomes.append(codes[1])
            with psycopg.connect(sync_url(db_url)) as conn:
                rows = conn.execute(
                    "SELECT status, left_at IS NULL FROM lead_status_history WHERE lead_id=%s"
                    " ORDER BY entered_at, id",
                    (lid,),
                ).fetchall()
                lead_row = conn.execute(
                    "SELECT status, version FROM leads WHERE id=%s", (lid,)
                ).fetchone()
                moves = conn.execute(
                    "SELECT count(*) FROM activity_log WHERE lead_id=%s AND action='transition'",
                    (lid,),
                ).fetchone()[0]
            assert rows == [("NEW", False), (winner.json()["status"], True)]
            assert lead_row == (winner.json()["status"], 2)
            assert moves == 1
        assert set(outcomes) <= {409, 412}


async def test_pipeline_kanban(client, people) -> None:
    r = await client.get("/api/pipeline", headers=people[Role.MANAGER][1])
    assert r.status_code == 200, r.text
    cols = {c["status"]: c for c in r.json()["columns"]}
    assert list(cols) == [
        "NEW",
        "ENRICHED",
        "QUALIFIED",
        "IN_REVIEW",
        "CLIENT_READY",
        "SOLD",
        "REJECTED",
    ]
    listed = (
        await client.get("/api/leads", params={"page_size": 200}, headers=people[Role.MANAGER][1])
    ).json()["items"]
    for status, col in cols.items():
        assert col["count"] == sum(1 for x in listed if x["status"] == status)
        assert len(col["cards"]) == min(col["count"], 20)
        for card in col["cards"]:
            assert card["days_in_status"] >= 0
    small = (
        await client.get("/api/pipeline", params={"per_status": 1}, headers=people[Role.MANAGER][1])
    ).json()
    assert all(len(c["cards"]) <= 1 for c in small["columns"])
    sales = (await client.get("/api/pipeline", headers=people[Role.COMMERCIAL][1])).json()
    assert [c["status"] for c in sales["columns"]] == ["CLIENT_READY", "SOLD"]
    assert sales["columns"][1]["count"] == cols["SOLD"]["count"]
    other = (await client.get("/api/pipeline", headers=people["ops2"][1])).json()
    assert sum(c["count"] for c in other["columns"]) == 0
    assert_problem(
        await client.get(
            "/api/pipeline", params={"per_status": 500}, headers=people[Role.MANAGER][1]
        ),
        422,
    )


async def test_enriched_needs_enrichment_qualified_needs_score(client, people, db_url) -> None:
    lid = (await new_lead(client, people))["id"]
    ops = people[Role.OPS][1]
    detail = (await client.get(f"/api/leads/{lid}", headers=ops)).json()
    assert detail["allowed_transitions"] == ["REJECTED"]  # no enrichment: ENRICHED not offered
    body = assert_problem(await move(client, people, Role.OPS, lid, "ENRICHED"), 409)
    assert body["code"] == "transition.needs_enrichment"
    assert body["target_status"] == "ENRICHED"
    # Enriched but with no score (a failed scoring): ENRICHED yes, QUALIFIED no.
    mark_enriched(db_url, lid, score=None)
    detail = (await client.get(f"/api/leads/{lid}", headers=ops)).json()
    assert set(detail["allowed_transitions"]) == {"ENRICHED", "REJECTED"}
    assert (await move(client, people, Role.OPS, lid, "ENRICHED")).status_code == 200
    detail = (await client.get(f"/api/leads/{lid}", headers=ops)).json()
    assert detail["allowed_transitions"] == ["REJECTED"]
    body = assert_problem(await move(client, people, Role.MANAGER, lid, "QUALIFIED"), 409)
    assert body["code"] == "transition.needs_score"
    mark_enriched(db_url, lid, score=61.5)
    detail = (await client.get(f"/api/leads/{lid}", headers=ops)).json()
    assert set(detail["allowed_transitions"]) == {"QUALIFIED", "REJECTED"}
    # The Kanban card carries the same moves (drag targets and the ⇄ menu).
    board = (await client.get("/api/pipeline", params={"per_status": 100}, headers=ops)).json()
    card = next(c for col in board["columns"] for c in col["cards"] if c["id"] == lid)
    assert set(card["allowed_transitions"]) == {"QUALIFIED", "REJECTED"}
    assert (await move(client, people, Role.OPS, lid, "QUALIFIED")).status_code == 200
    # Every move the detail offers is accepted by the server, and only those.
    mgr = people[Role.MANAGER][1]
    offered = (await client.get(f"/api/leads/{lid}", headers=mgr)).json()["allowed_transitions"]
    assert set(offered) == {"IN_REVIEW", "REJECTED", "ARCHIVED"}


async def test_rejection_reason_shown_then_reopen_and_archive(client, people, db_url) -> None:
    lid = (await new_lead(client, people))["id"]
    mark_enriched(db_url, lid)
    assert (await move(client, people, Role.OPS, lid, "ENRICHED")).status_code == 200
    r = await move(client, people, Role.OPS, lid, "REJECTED", reason="zone Natura 2000 ZPS")
    assert r.status_code == 200
    mgr, ops = people[Role.MANAGER][1], people[Role.OPS][1]
    d = (await client.get(f"/api/leads/{lid}", headers=mgr)).json()
    assert d["rejection_reason"] == "zone Natura 2000 ZPS"
    assert d["status_history"][-1]["reason"] == "zone Natura 2000 ZPS"  # the timeline
    assert set(d["allowed_transitions"]) == {"NEW", "ENRICHED", "QUALIFIED", "ARCHIVED"}
    board = (await client.get("/api/pipeline", params={"per_status": 100}, headers=mgr)).json()
    card = next(c for col in board["columns"] for c in col["cards"] if c["id"] == lid)
    assert card["rejection_reason"] == "zone Natura 2000 ZPS"  # the card
    # The OPS can't reopen; the manager reopens to a prospecting stage.
    assert (await client.get(f"/api/leads/{lid}", headers=ops)).json()["allowed_transitions"] == []
    body = assert_problem(await move(client, people, Role.OPS, lid, "ENRICHED"), 403)
    assert body["code"] == "transition.role_refused"
    assert_problem(await move(client, people, Role.MANAGER, lid, "IN_REVIEW"), 409)
    r = await move(client, people, Role.MANAGER, lid, "ENRICHED", reason="PLU révisé")
    assert r.status_code == 200 and r.json()["status"] == "ENRICHED"
    d = (await client.get(f"/api/leads/{lid}", headers=mgr)).json()
    assert d["rejection_reason"] is None  # reopened; the reason stays in the history
    assert [h["reason"] for h in d["status_history"]][-2:] == ["zone Natura 2000 ZPS", "PLU révisé"]
    # Rejected again, then archived for good (the ADMIN's DELETE too takes a rejected lead).
    await move(client, people, Role.MANAGER, lid, "REJECTED", reason="propriétaire refuse")
    r = await client.delete(f"/api/leads/{lid}", headers=people[Role.ADMIN][1])
    assert r.status_code == 204, r.text
    d = (await client.get(f"/api/leads/{lid}", headers=mgr)).json()
    assert d["status"] == "ARCHIVED" and d["allowed_transitions"] == []
    assert d["rejection_reason"] == "propriétaire refuse"


async def parcel_props(client, parcel_id: str, headers) -> dict:
    r = await client.get(f"/api/reference/parcels/{parcel_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["properties"]


DUP_PARCELS = ["69114000AA0005", "69114000AA0006", "69114000AA0007"]


async def test_duplicate_parcels_need_a_reason(client, people, db_url) -> None:
    load_parcels(db_url, DUP_PARCELS)
    ops, mgr = people[Role.OPS][1], people[Role.MANAGER][1]
    first = await client.post("/api/leads", json={"parcel_ids": DUP_PARCELS[:2]}, headers=ops)
    assert first.status_code == 201, first.text
    first_id = first.json()["id"]
    # A neighbour sharing an edge only is no duplicate.
    r = await client.post("/api/leads", json={"parcel_ids": DUP_PARCELS[2:]}, headers=ops)
    assert r.status_code == 201, r.text
    third = r.json()["id"]
    before = count_rows(db_url, "leads")
    body = assert_problem(
        await client.post("/api/leads", json={"parcel_ids": DUP_PARCELS[1:2]}, headers=mgr), 409
    )
    assert body["code"] == "lead.parcels_taken"
    assert [o["id"] for o in body["other_leads"]] == [first_id]
    assert body["other_leads"][0]["parcel_ids"] == [DUP_PARCELS[1]]
    assert body["other_leads"][0]["internal_name"] == first.json()["internal_name"]
    assert count_rows(db_url, "leads") == before  # nothing written
    # Proceeding needs a reason.
    assert_problem(
        await client.post(
            "/api/leads",
            json={"parcel_ids": DUP_PARCELS[1:], "allow_duplicate": True},
            headers=mgr,
        ),
        422,
    )
    r = await client.post(
        "/api/leads",
        json={
            "parcel_ids": DUP_PARCELS[1:],
            "allow_duplicate": True,
            "duplicate_reason": "variante avec le voisin",
        },
        headers=mgr,
    )
    assert r.status_code == 201, r.text
    dup = (await client.get(f"/api/leads/{r.json()['id']}", headers=mgr)).json()
    created = next(a for a in dup["activity"] if a["action"] == "create")
    assert created["after"]["duplicate_of"] == [first_id, third]
    assert created["after"]["duplicate_reason"] == "variante avec le voisin"
    # The parcel panel says which leads hold the parcel: those the caller may see by name, the
    # others counted.
    props = await parcel_props(client, DUP_PARCELS[1], mgr)
    assert [x["id"] for x in props["leads"]] == [first_id, r.json()["id"]]
    assert props["hidden_leads"] == 0
    props = await parcel_props(client, DUP_PARCELS[1], ops)
    assert [x["id"] for x in props["leads"]] == [first_id] and props["hidden_leads"] == 1
    assert props["leads"][0]["internal_name"] == first.json()["internal_name"]
    # A rejected lead no longer holds its parcels.
    await move(client, people, Role.MANAGER, first_id, "REJECTED", reason="abandon")
    await move(client, people, Role.MANAGER, third, "REJECTED", reason="abandon")
    await move(client, people, Role.MANAGER, r.json()["id"], "REJECTED", reason="abandon")
    r = await client.post("/api/leads", json={"parcel_ids": DUP_PARCELS[:1]}, headers=ops)
    assert r.status_code == 201, r.text
    props = await parcel_props(client, DUP_PARCELS[1], mgr)
    assert props["leads"] == [] and props["hidden_leads"] == 0


async def test_pipeline_takes_the_list_filters(client, people, db_url) -> None:
    lead = await new_lead(client, people)
    mark_enriched(db_url, lead["id"], score=77.0)
    mgr = people[Role.MANAGER][1]
    board = (
        await client.get("/api/pipeline", params={"q": lead["name"], "score_min": 70}, headers=mgr)
    ).json()
    cards = [c for col in board["columns"] for c in col["cards"]]
    listed = (
        await client.get(
            "/api/leads", params={"q": lead["name"], "score_min": 70, "page_size": 200}, headers=mgr
        )
    ).json()["items"]
    assert {c["id"] for c in cards} == {x["id"] for x in listed} and lead["id"] in {
        c["id"] for c in cards
    }
    none = (
        await client.get("/api/pipeline", params={"q": lead["name"], "score_min": 80}, headers=mgr)
    ).json()
    assert sum(c["count"] for c in none["columns"]) == 0
    assert_problem(await client.get("/api/pipeline", params={"q": "a\nb"}, headers=mgr), 422)


async def test_enrichment_outdated_only_when_outline_or_reference_changed(
    client, people, db_url
) -> None:
    lead = await new_lead(client, people)
    lid, ops = lead["id"], people[Role.OPS][1]

    async def outdated():
        return (await client.get(f"/api/leads/{lid}", headers=ops)).json()["enrichment_outdated"]

    assert await outdated() is None  # never enriched: "pas encore enrichi", not "à refaire"
    mark_enriched(db_url, lid)
    assert await outdated() == []  # just enriched: nothing to redo
    # The outline changes: redo, and why.
    r = await client.patch(
        f"/api/leads/{lid}", json={"geometry": square(5.9, 44.1, 0.003)}, headers=ops
    )
    assert r.status_code == 200, r.text
    reasons = await outdated()
    assert [x["reason"] for x in reasons] == ["geometry"] and reasons[0]["at"].endswith("Z")
    # A name edit is no reason.
    mark_enriched(db_url, lid)
    await client.patch(f"/api/leads/{lid}", json={"name": "renommé"}, headers=ops)
    assert await outdated() == []
    # A reference layer the enrichment reads is reloaded after it: redo, naming the layer.
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO layer_versions AS v (layer, version) VALUES ('env_zones', 1) "
            "ON CONFLICT (layer) DO UPDATE SET version = v.version + 1, "
            "updated_at = clock_timestamp()"
        )
        conn.execute(  # a layer it does not read changes nothing
            "INSERT INTO layer_versions AS v (layer, version) VALUES ('parcels', 1) "
            "ON CONFLICT (layer) DO UPDATE SET version = v.version + 1, "
            "updated_at = clock_timestamp()"
        )
    reasons = await outdated()
    assert [(x["reason"], x["layer"]) for x in reasons] == [("reference", "env_zones")]
    mark_enriched(db_url, lid)  # enriched again since
    assert await outdated() == []


async def test_pipeline_totals_kept_until_a_lead_write(client, people, db_url) -> None:
    """The column totals are kept per (filters, viewer scope) with the leads-layer version, like
    the list's total: a write through the API (which bumps it) shows at once; a change that does
    not bump it stays unseen in the totals until the next bump, while the cards are read afresh
    on every call."""
    mgr = people[Role.MANAGER][1]
    tag = f"totaux{next(_n)}x"
    a, b = (await new_lead(client, people))["id"], (await new_lead(client, people))["id"]
    for lid in (a, b):
        r = await client.patch(f"/api/leads/{lid}", json={"name": tag}, headers=people[Role.OPS][1])
        assert r.status_code == 200, r.text

    async def board() -> dict[str, dict]:
        r = await client.get("/api/pipeline", params={"q": tag}, headers=mgr)
        assert r.status_code == 200, r.text
        return {c["status"]: c for c in r.json()["columns"]}

    first = await board()
    assert (first["NEW"]["count"], first["REJECTED"]["count"]) == (2, 0)
    assert first["NEW"]["mwc_total"] is None and first["NEW"]["mwc_known"] == 0
    area_b = next(c["area_m2"] for c in first["NEW"]["cards"] if c["id"] == b)
    # Kept per viewer scope: another OPS, who sees neither lead, is not served these totals.
    r = await client.get("/api/pipeline", params={"q": tag}, headers=people["ops2"][1])
    assert sum(c["count"] for c in r.json()["columns"]) == 0
    # A move through the API: counts and areas follow at once.
    assert (await move(client, people, Role.OPS, a, "REJECTED", reason="talus")).status_code == 200
    moved = await board()
    assert (moved["NEW"]["count"], moved["REJECTED"]["count"]) == (1, 1)
    assert moved["NEW"]["area_m2_total"] == pytest.approx(area_b)
    assert [c["id"] for c in moved["REJECTED"]["cards"]] == [a]
    # Changed behind the API's back (no version bump): the kept totals are served, the cards
    # are not kept.
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute("INSERT INTO lead_technical (lead_id, installable_mwc) VALUES (%s, 2.5)", (b,))
        conn.execute("UPDATE leads SET name = %s WHERE id = %s", (f"{tag} bis", b))
    kept = await board()
    assert kept["NEW"]["mwc_total"] is None and kept["NEW"]["mwc_known"] == 0
    assert [c["name"] for c in kept["NEW"]["cards"]] == [f"{tag} bis"]
    # The next lead write (any lead's) bumps the version: the totals are aggregated again.
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute("UPDATE layer_versions SET version = version + 1 WHERE layer = 'leads'")
    fresh = await board()
    assert (fresh["NEW"]["mwc_total"], fresh["NEW"]["mwc_known"]) == (2.5, 1)
    assert (fresh["NEW"]["count"], fresh["REJECTED"]["count"]) == (1, 1)
    # No cards asked: the columns still carry their totals.
    r = await client.get("/api/pipeline", params={"q": tag, "per_status": 0}, headers=mgr)
    bare = {c["status"]: c for c in r.json()["columns"]}
    assert all(c["cards"] == [] for c in bare.values()) and r.json()["cards_per_status"] == 0
    assert (bare["NEW"]["count"], bare["NEW"]["mwc_total"], bare["REJECTED"]["count"]) == (
        1,
        2.5,
        1,
    )
