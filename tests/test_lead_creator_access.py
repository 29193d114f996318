"""An OPS who created a lead keeps read access and its timeline after a reassignment, not the
right to change it — on every surface that reads leads through geo.visibility: REST detail,
list and activity, vector tiles, OGC API Features and the exports."""

from __future__ import annotations

import csv
import io

import mapbox_vector_tile
import morecantile

from geo.models import Role
from tests.conftest import assert_problem
from tests.lead_fixtures import square

LON, LAT = 4.7012, 45.8123  # a square of its own, away from the other modules' leads
TMS = morecantile.tms.get("WebMercatorQuad")


def _tile_ids(content: bytes) -> set[int]:
    if not content:
        return set()
    layer = mapbox_vector_tile.decode(content).get("leads", {"features": []})
    return {f["id"] for f in layer["features"]}


async def test_creator_keeps_read_access_after_reassignment(
    client, make_user, auth_headers
) -> None:
    creator, other, stranger = [await make_user(Role.OPS) for _ in range(3)]
    manager = await auth_headers(Role.MANAGER)
    h_creator = await auth_headers(user=creator)
    h_stranger = await auth_headers(user=stranger)
    r = await client.post(
        "/api/leads",
        json={"geometry": square(LON, LAT), "commune_insee": "69114", "name": "Créé par A"},
        headers=h_creator,
    )
    assert r.status_code == 201, r.text
    lead = r.json()
    lid = lead["id"]
    r = await client.post(
        f"/api/leads/{lid}/assign", json={"assignee_id": other.id}, headers=manager
    )
    assert r.status_code == 200, r.text

    # REST: the detail with its timeline, the activity, the list — read only.
    d = await client.get(f"/api/leads/{lid}", headers=h_creator)
    assert d.status_code == 200, d.text
    body = d.json()
    assert body["assignee_id"] == other.id and body["allowed_transitions"] == []
    assert any(a["action"] == "assign" for a in body["activity"])
    act = await client.get(f"/api/leads/{lid}/activity", headers=h_creator)
    assert act.status_code == 200 and act.json()["total"] >= 2
    listed = (await client.get("/api/leads", headers=h_creator)).json()["items"]
    assert lid in {x["id"] for x in listed}
    body = assert_problem(
        await client.patch(f"/api/leads/{lid}", json={"name": "x"}, headers=h_creator), 403
    )
    assert body["code"] == "lead.not_assigned"
    body = assert_problem(
        await client.post(
            f"/api/leads/{lid}/transition",
            json={"status": "REJECTED", "reason": "x"},
            headers=h_creator,
        ),
        403,
    )
    assert body["code"] == "lead.not_assigned"
    # Another OPS neither created it nor has it: nothing, anywhere.
    assert_problem(await client.get(f"/api/leads/{lid}", headers=h_stranger), 404)

    # Tiles.
    t = TMS.tile(LON + 0.001, LAT + 0.001, 14)
    url = f"/tiles/leads/{t.z}/{t.x}/{t.y}.mvt"
    assert lid in _tile_ids((await client.get(url, headers=h_creator)).content)
    assert lid not in _tile_ids((await client.get(url, headers=h_stranger)).content)

    # OGC API Features.
    item = f"/ogc/collections/leads/items/{lid}"
    r = await client.get(item, headers=h_creator)
    assert r.status_code == 200 and r.json()["id"] == lid
    assert_problem(await client.get(item, headers=h_stranger), 404)

    # Exports.
    for h, seen in ((h_creator, True), (h_stranger, False)):
        r = await client.get("/api/leads/export.csv", headers=h)
        assert r.status_code == 200, r.text
        text = r.content.decode("utf-8-sig")
        assert (lead["internal_name"] in text) is seen
        rows = list(csv.reader(io.StringIO(text), delimiter=";" if ";" in text[:200] else ","))
        assert len(rows) >= 1
