"""Lead CRUD: list filters, paging, detail, GeoJSON, PATCH with ETag, assign, archive, foncier."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.conftest import assert_problem
from tests.lead_fixtures import (
    LEAD_TABLES,
    cadastre,
    count_rows,
    load_parcels,
    square,
    sync_url,
)

PARCELS = ["69114000AA0030", "69114000AA0022", "69114000AA0001", "69114000AA0002"]


@pytest.fixture(scope="module")
async def leads(client, people, db_url):
    """Six leads with known attributes, statuses and scores set in SQL."""
    load_parcels(db_url, PARCELS)
    ops_h = people["ops"][1]
    mgr_h = people["manager"][1]
    made = []
    specs = [
        (ops_h, {"parcel_ids": PARCELS[:2], "name": "Les Grandes Terres", "notes": "friche"}),
        (ops_h, {"geometry": square(4.60, 45.96), "name": "Bois Joli", "commune_insee": "69114"}),
        (mgr_h, {"geometry": square(4.85, 45.75), "name": "Lyon Sud", "commune_insee": "69123"}),
        (
            mgr_h,
            {
                "geometry": square(2.30, 48.80),
                "name": "Paris Est",
                "commune_insee": "75112",
                "is_public": True,
            },
        ),
        (mgr_h, {"geometry": square(4.62, 45.97), "name": "Vendu", "commune_insee": "69114"}),
        (mgr_h, {"geometry": square(4.63, 45.98), "name": "Prêt", "commune_insee": "69114"}),
    ]
    for headers, body in specs:
        r = await client.post("/api/leads", json=body, headers=headers)
        assert r.status_code == 201, r.text
        made.append(r.json())
    ids = [m["id"] for m in made]
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        for lead_id, score in zip(ids, [80, 40, 65, 20, 90, 55], strict=True):
            conn.execute("UPDATE leads SET quality_score=%s WHERE id=%s", (score, lead_id))
        conn.execute("UPDATE leads SET status='SOLD' WHERE id=%s", (ids[4],))
        conn.execute("UPDATE leads SET status='CLIENT_READY' WHERE id=%s", (ids[5],))
    return made


async def _list(client, headers, **params):
    r = await client.get("/api/leads", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _names(page: dict) -> set[str]:
    return {i["name"] for i in page["items"]}


async def test_rbac_in_the_list(client, people, leads) -> None:
    everyone = {m["name"] for m in leads}
    assert _names(await _list(client, people["admin"][1])) == everyone
    assert _names(await _list(client, people["manager"][1])) == everyone
    # OPS: the leads assigned to them (they created two) plus the public one.
    assert _names(await _list(client, people["ops"][1])) == {
        "Les Grandes Terres",
        "Bois Joli",
        "Paris Est",
    }
    assert _names(await _list(client, people["ops2"][1])) == {"Paris Est"}
    assert _names(await _list(client, people["sales"][1])) == {"Vendu", "Prêt"}
    assert (await _list(client, people["sales"][1]))["total"] == 2


async def test_filters(client, people, leads) -> None:
    h = people["admin"][1]
    assert _names(await _list(client, h, status=["SOLD", "CLIENT_READY"])) == {"Vendu", "Prêt"}
    assert _names(await _list(client, h, score_min=60)) == {
        "Les Grandes Terres",
        "Lyon Sud",
        "Vendu",
    }
    assert _names(await _list(client, h, score_min=40, score_max=60)) == {"Bois Joli", "Prêt"}
    assert _names(await _list(client, h, department="75")) == {"Paris Est"}
    assert _names(await _list(client, h, commune="69123")) == {"Lyon Sud"}
    assert _names(await _list(client, h, bbox="2.0,48.5,2.5,49.0")) == {"Paris Est"}
    assert _names(await _list(client, h, q="grandes")) == {"Les Grandes Terres"}
    assert _names(await _list(client, h, q="friche")) == {"Les Grandes Terres"}
    assert _names(await _list(client, h, q="%")) == set()  # LIKE wildcards are literal
    ops_id = people["ops"][0].id
    assert _names(await _list(client, h, assignee_id=ops_id)) == {"Les Grandes Terres", "Bois Joli"}
    assert (await _list(client, h, created_from="2000-01-01T00:00:00Z"))["total"] == 6
    assert (await _list(client, h, created_to="2000-01-01T00:00:00Z"))["total"] == 0


async def test_sort_and_paging(client, people, leads) -> None:
    h = people["admin"][1]
    page = await _list(client, h, sort="-quality_score", page_size=2)
    assert [i["quality_score"] for i in page["items"]] == [90, 80]
    assert page["total"] == 6
    page3 = await _list(client, h, sort="-quality_score", page_size=2, page=3)
    assert [i["quality_score"] for i in page3["items"]] == [40, 20]
    asc = await _list(client, h, sort="area_m2")
    areas = [i["area_m2"] for i in asc["items"]]
    assert areas == sorted(areas)


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 201},
        {"page_size": 0},
        {"page": 0},
        {"status": "DONE"},
        {"sort": "name; DROP TABLE leads"},
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "181,45,4,46"},  # out of range (the corners may come in any order)
        {"department": "999"},
        {"commune": "6911"},
        {"score_min": 80, "score_max": 20},
        {"score_min": 120},
        {"created_from": "yesterday"},
        {"colour": "red"},
    ],
)
async def test_bad_list_parameters_are_422(client, people, leads, params) -> None:
    r = await client.get("/api/leads", params=params, headers=people["admin"][1])
    assert_problem(r, 422)


async def test_detail_and_geojson(client, people, leads) -> None:
    lead = leads[0]
    h = people["ops"][1]
    r = await client.get(f"/api/leads/{lead['id']}", headers=h)
    assert r.status_code == 200
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    d = r.json()
    assert d["assignee_name"] == "Olga Ops"
    # Not enriched yet: ENRICHED is not offered (geo.pipeline.check_ready).
    assert d["allowed_transitions"] == ["REJECTED"]
    for part in ("sourcing", "foncier", "documents", "comments", "activity", "status_history"):
        assert part in d
    r = await client.get(
        f"/api/leads/{lead['id']}", headers={**h, "Accept": "application/geo+json"}
    )
    assert r.headers["content-type"].startswith("application/geo+json")
    feature = r.json()
    assert feature["type"] == "Feature" and feature["id"] == lead["id"]
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["internal_name"] == lead["internal_name"]
    # A lead the caller may not see is a 404, exactly like one that does not exist.
    assert_problem(await client.get(f"/api/leads/{lead['id']}", headers=people["ops2"][1]), 404)
    assert_problem(await client.get(f"/api/leads/{lead['id']}", headers=people["sales"][1]), 404)
    assert_problem(await client.get("/api/leads/999999", headers=h), 404)
    assert_problem(await client.get("/api/leads/abc", headers=h), 404)  # no lead has that path


async def test_patch_with_etag(client, people, leads, db_url) -> None:
    lead = leads[1]
    h = people["ops"][1]
    r = await client.get(f"/api/leads/{lead['id']}", headers=h)
    etag = r.headers["etag"]
    r = await client.patch(
        f"/api/leads/{lead['id']}", json={"name": "Bois Joli Nord"}, headers={**h, "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    new_etag = r.headers["etag"]
    assert new_etag != etag and r.json()["name"] == "Bois Joli Nord"
    # The old ETag is stale now: 412, nothing written.
    before = count_rows(db_url, *LEAD_TABLES)
    r = await client.patch(
        f"/api/leads/{lead['id']}", json={"name": "Lost update"}, headers={**h, "If-Match": etag}
    )
    body = assert_problem(r, 412)
    assert body["current_version"] == int(new_etag.strip('"'))
    assert count_rows(db_url, *LEAD_TABLES) == before
    got = (await client.get(f"/api/leads/{lead['id']}", headers=h)).json()
    assert got["name"] == "Bois Joli Nord"
    # Without If-Match the write is accepted (documented), and still bumps the version.
    r = await client.patch(
        f"/api/leads/{lead['id']}", json={"notes": "accès par le nord"}, headers=h
    )
    assert r.status_code == 200 and r.json()["version"] == got["version"] + 1


async def test_patch_geometry_marks_stale(client, people, leads, db_url) -> None:
    lead = leads[1]
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute("UPDATE leads SET enrichment_stale=false WHERE id=%s", (lead["id"],))
    h = people["ops"][1]
    geom = cadastre()["69114000AA0002"]["geometry"]
    r = await client.patch(f"/api/leads/{lead['id']}", json={"geometry": geom}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["enrichment_stale"] is True
    assert r.json()["area_m2"] != lead["area_m2"]
    bad = {
        "type": "Polygon",
        "coordinates": [
            [[4.65, 45.97], [4.66, 45.98], [4.66, 45.97], [4.65, 45.98], [4.65, 45.97]]
        ],
    }
    r = await client.patch(f"/api/leads/{lead['id']}", json={"geometry": bad}, headers=h)
    assert_problem(r, 422)


@pytest.mark.parametrize("field", ["is_public", "geometry"])
async def test_patch_null_for_a_non_nullable_field_is_422(client, people, leads, db_url, field):
    # It reached the NOT NULL constraint (a 409 "conflicts with existing data") or, for the
    # geometry, was silently ignored: a validation error naming the field, nothing written.
    lead = leads[1]
    before = count_rows(db_url, *LEAD_TABLES)
    r = await client.patch(f"/api/leads/{lead['id']}", json={field: None}, headers=people["ops"][1])
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == [f"body.{field}"]
    assert count_rows(db_url, *LEAD_TABLES) == before
    # The fields a lead may lack are cleared with null.
    r = await client.patch(
        f"/api/leads/{lead['id']}", json={"notes": None}, headers=people["ops"][1]
    )
    assert r.status_code == 200, r.text
    detail = (await client.get(f"/api/leads/{lead['id']}", headers=people["ops"][1])).json()
    assert detail["notes"] is None


def test_patch_schemas_declare_no_null_for_non_nullable_columns(app) -> None:
    # Every PATCH body of the OpenAPI document: a property that accepts null must map to a
    # nullable column (the three lead fields a lead may lack); the others say they can't.
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    nullable = {}
    for item in spec["paths"].values():
        op = item.get("patch")
        if not op or "requestBody" not in op:
            continue
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[-1]
        for prop, sub in schemas[name]["properties"].items():
            if any(alt.get("type") == "null" for alt in sub.get("anyOf", [])):
                nullable.setdefault(name, set()).add(prop)
    assert nullable == {"LeadUpdate": {"name", "notes", "commune_insee"}}


async def test_patch_permissions(client, people, leads) -> None:
    public = leads[3]  # public, assigned to nobody: OPS see it but may not edit it
    seen = await client.get(f"/api/leads/{public['id']}", headers=people["ops"][1])
    assert seen.status_code == 200 and seen.json()["allowed_transitions"] == []
    assert_problem(
        await client.post(
            f"/api/leads/{public['id']}/transition",
            json={"status": "ENRICHED"},
            headers=people["ops"][1],
        ),
        403,
    )
    assert_problem(
        await client.patch(
            f"/api/leads/{public['id']}", json={"name": "x"}, headers=people["ops"][1]
        ),
        403,
    )
    assert_problem(
        await client.patch(
            f"/api/leads/{leads[5]['id']}", json={"name": "x"}, headers=people["sales"][1]
        ),
        403,
    )
    assert_problem(
        await client.patch(
            f"/api/leads/{leads[0]['id']}", json={"name": "x"}, headers=people["ops2"][1]
        ),
        404,
    )
    assert_problem(
        await client.patch(
            f"/api/leads/{leads[0]['id']}", json={"status": "SOLD"}, headers=people["admin"][1]
        ),
        422,
    )


async def test_assign(client, people, leads) -> None:
    lead = leads[2]
    ops2 = people["ops2"][0]
    r = await client.post(
        f"/api/leads/{lead['id']}/assign",
        json={"assignee_id": ops2.id},
        headers=people["manager"][1],
    )
    assert r.status_code == 200 and r.json()["assignee_name"] == "Oscar Ops"
    assert "Lyon Sud" in _names(await _list(client, people["ops2"][1]))
    r = await client.post(
        f"/api/leads/{lead['id']}/assign",
        json={"assignee_id": people["sales"][0].id},
        headers=people["manager"][1],
    )
    assert_problem(r, 422)
    r = await client.post(
        f"/api/leads/{lead['id']}/assign", json={"assignee_id": ops2.id}, headers=people["ops"][1]
    )
    assert_problem(r, 403)
    activity = (
        await client.get(f"/api/leads/{lead['id']}/activity", headers=people["manager"][1])
    ).json()["items"]
    assert activity[0]["action"] == "assign"
    assert activity[0]["after"] == {"assignee_id": ops2.id}


async def test_foncier_owners_encrypted_and_hidden_from_sales(
    client, people, leads, db_url
) -> None:
    lead = leads[5]  # CLIENT_READY: the commercial sees it
    owners = [
        {"name": "Jeanne Martin", "type": "private", "contact": "06 00 00 00 00"},
        {"name": "Commune de Theizé", "type": "public"},
    ]
    r = await client.put(
        f"/api/leads/{lead['id']}/foncier",
        json={"owners": owners, "agreement_status": "contacted"},
        headers=people["manager"][1],
    )
    assert r.status_code == 200, r.text
    assert r.json()["owner_count"] == 2 and r.json()["owners"][0]["name"] == "Jeanne Martin"
    with psycopg.connect(sync_url(db_url)) as conn:
        raw = conn.execute(
            "SELECT owners_encrypted FROM lead_foncier WHERE lead_id=%s", (lead["id"],)
        ).fetchone()[0]
        log = conn.execute(
            "SELECT after::text FROM activity_log WHERE lead_id=%s", (lead["id"],)
        ).fetchall()
    assert "Jeanne" not in raw and raw.startswith("v1:")
    assert not any("Jeanne" in (row[0] or "") for row in log)
    mgr = (await client.get(f"/api/leads/{lead['id']}", headers=people["manager"][1])).json()
    assert mgr["foncier"]["owners"][1]["name"] == "Commune de Theizé"
    sales = await client.get(f"/api/leads/{lead['id']}", headers=people["sales"][1])
    assert sales.json()["foncier"]["owners"] is None
    assert sales.json()["foncier"]["owner_count"] == 2
    assert "Jeanne" not in sales.text
    r = await client.put(
        f"/api/leads/{lead['id']}/foncier",
        json={"owners": [], "agreement_status": "none"},
        headers=people["sales"][1],
    )
    assert_problem(r, 403)
    r = await client.put(
        f"/api/leads/{lead['id']}/foncier",
        json={"owners": [{"name": "X", "type": "alien"}], "agreement_status": "none"},
        headers=people["manager"][1],
    )
    assert_problem(r, 422)


async def test_delete_archives(client, people, leads, db_url) -> None:
    lead = leads[3]
    assert_problem(
        await client.delete(f"/api/leads/{lead['id']}", headers=people["manager"][1]), 403
    )
    r = await client.delete(f"/api/leads/{lead['id']}", headers=people["admin"][1])
    assert r.status_code == 204
    assert "Paris Est" not in _names(await _list(client, people["admin"][1]))
    assert _names(await _list(client, people["admin"][1], status="ARCHIVED")) == {"Paris Est"}
    d = (await client.get(f"/api/leads/{lead['id']}", headers=people["admin"][1])).json()
    assert d["status"] == "ARCHIVED"
    assert [h["status"] for h in d["status_history"]] == ["NEW", "ARCHIVED"]
    assert d["status_history"][0]["left_at"] is not None
    # Idempotent; a sold lead is not archived; unknown ids are 404.
    assert (
        await client.delete(f"/api/leads/{lead['id']}", headers=people["admin"][1])
    ).status_code == 204
    assert_problem(
        await client.delete(f"/api/leads/{leads[4]['id']}", headers=people["admin"][1]), 409
    )
    assert_problem(await client.delete("/api/leads/424242", headers=people["admin"][1]), 404)


async def test_layer_version_bumped_on_writes(client, people, leads, db_url) -> None:
    def version() -> int:
        with psycopg.connect(sync_url(db_url)) as conn:
            return conn.execute(
                "SELECT version FROM layer_versions WHERE layer='leads'"
            ).fetchone()[0]

    v = version()
    r = await client.patch(
        f"/api/leads/{leads[0]['id']}", json={"is_public": True}, headers=people["ops"][1]
    )
    assert r.status_code == 200
    assert version() == v + 1
    assert json.loads(json.dumps(r.json()))["is_public"] is True
