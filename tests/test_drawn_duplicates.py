"""A drawn outline gets the duplicate check of a parcel lead (issue 20): overlapping an active
lead by more than a small share of the smaller area is a 409 ``lead.overlaps`` naming the
other leads, unless the request allows it with a reason; slivers along an edge are no
duplicate; a rejected lead holds nothing; two drawings at once see each other."""

from __future__ import annotations

import asyncio

import pytest

from api.services.leads import DRAWN_OVERLAP_SHARE
from tests.conftest import assert_problem
from tests.lead_fixtures import count_rows, square

# A spot of its own, far from the other modules' squares (each module has its database anyway).
LON, LAT = 4.80, 45.70
D = 0.002  # about 156 m x 222 m


@pytest.fixture(scope="module")
async def heads(auth_headers):
    from geo.models import Role

    return {
        "ops": await auth_headers(Role.OPS),
        "mgr": await auth_headers(Role.MANAGER),
    }


async def _create(client, headers, geometry, **kw):
    return await client.post("/api/leads", json={"geometry": geometry, **kw}, headers=headers)


async def test_an_overlapping_drawing_is_refused_naming_the_lead(client, heads, db_url) -> None:
    first = await _create(client, heads["ops"], square(LON, LAT, D))
    assert first.status_code == 201, first.text
    first_id, first_name = first.json()["id"], first.json()["internal_name"]
    before = count_rows(db_url, "leads")
    # Shifted by a third of its side: two thirds of it on the first lead.
    r = await _create(client, heads["mgr"], square(LON + D / 3, LAT, D))
    body = assert_problem(r, 409)
    assert body["code"] == "lead.overlaps"
    [other] = body["other_leads"]
    assert (other["id"], other["internal_name"], other["status"]) == (first_id, first_name, "NEW")
    assert other["share"] == pytest.approx(2 / 3, abs=0.01)
    assert other["shared_m2"] > 10_000
    assert count_rows(db_url, "leads") == before  # nothing written
    # Inside the first one, small: all of it is shared (the smaller area counts).
    r = await _create(client, heads["mgr"], square(LON + D / 4, LAT + D / 4, D / 4))
    assert assert_problem(r, 409)["code"] == "lead.overlaps"
    # Around it, large: all of the first lead is inside.
    r = await _create(client, heads["mgr"], square(LON - D, LAT - D, 3 * D))
    assert assert_problem(r, 409)["other_leads"][0]["share"] == pytest.approx(1.0, abs=0.01)
    # Proceeding needs a reason, which the activity keeps.
    r = await _create(client, heads["mgr"], square(LON + D / 3, LAT, D), allow_duplicate=True)
    assert_problem(r, 422)
    r = await _create(
        client,
        heads["mgr"],
        square(LON + D / 3, LAT, D),
        allow_duplicate=True,
        duplicate_reason="variante plus à l'est",
    )
    assert r.status_code == 201, r.text
    lead = (await client.get(f"/api/leads/{r.json()['id']}", headers=heads["mgr"])).json()
    created = next(a for a in lead["activity"] if a["action"] == "create")
    assert created["after"]["duplicate_of"] == [first_id]
    assert created["after"]["duplicate_reason"] == "variante plus à l'est"


async def test_a_sliver_along_an_edge_is_no_duplicate(client, heads) -> None:
    lon = LON + 0.02
    assert (await _create(client, heads["ops"], square(lon, LAT, D))).status_code == 201
    # Overlapping by 2 % of the side: below the share.
    sliver = 0.02
    assert sliver < DRAWN_OVERLAP_SHARE
    r = await _create(client, heads["ops"], square(lon + D * (1 - sliver), LAT, D))
    assert r.status_code == 201, r.text
    # A neighbour sharing only the edge.
    r = await _create(client, heads["ops"], square(lon - D, LAT, D))
    assert r.status_code == 201, r.text


async def test_a_rejected_lead_holds_nothing(client, heads) -> None:
    lon = LON + 0.04
    first = await _create(client, heads["ops"], square(lon, LAT, D))
    assert first.status_code == 201
    r = await client.post(
        f"/api/leads/{first.json()['id']}/transition",
        json={"status": "REJECTED", "reason": "abandon"},
        headers=heads["mgr"],
    )
    assert r.status_code == 200, r.text
    assert (await _create(client, heads["ops"], square(lon, LAT, D))).status_code == 201


async def test_two_drawings_at_once_see_each_other(client, heads) -> None:
    lon = LON + 0.06
    a, b = await asyncio.gather(
        _create(client, heads["ops"], square(lon, LAT, D)),
        _create(client, heads["mgr"], square(lon + D / 4, LAT, D)),
    )
    assert sorted([a.status_code, b.status_code]) == [201, 409], (a.text, b.text)
