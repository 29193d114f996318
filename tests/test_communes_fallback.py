"""The lead's commune when outlines are missing or tie: the request's code, then one tie rule.

Real data: the cadastre of 69114 (a commune created after the 2018 communes file) and the two
outlines its parcels fall in, 2018's 69159 and the synthetic outline of 69114 (data/).
"""

from __future__ import annotations

import pytest
from shapely.geometry import shape

from geo.models import Role
from tests.conftest import DATA, read_json
from tests.importing import run_import
from tests.lead_fixtures import DUP, cadastre

RHONE = DATA / "communes-69-rhone.geojson.gz"
OUTLINE_69114 = DATA / "commune-69114-synthetic.geojson"


@pytest.fixture(scope="module")
async def ops(auth_headers):
    return await auth_headers(Role.OPS)


def _parcel_inside_69159() -> str:
    """A 69114 parcel wholly inside 2018's 69159 and the 69114 outline (equal overlaps)."""
    old = next(
        shape(f["geometry"])
        for f in read_json(RHONE)["features"]
        if f["properties"]["code"] == "69159"
    )
    new = shape(read_json(OUTLINE_69114)["features"][0]["geometry"])
    for pid, f in sorted(cadastre().items()):
        g = shape(f["geometry"])
        if g.area > 2e-7 and old.buffer(-1e-4).contains(g) and new.contains(g):
            return pid
    raise AssertionError("no parcel inside both outlines")


# Runs first: the communes layer is still empty here.
async def test_commune_insee_when_no_land_data_is_loaded(client, ops) -> None:
    geom = cadastre()["69114000AA0030"]["geometry"]
    r = await client.post(
        "/api/leads", json={**DUP, "geometry": geom, "commune_insee": "69114"}, headers=ops
    )
    assert r.status_code == 201, r.text
    assert (r.json()["commune_insee"], r.json()["department"]) == ("69114", "69")
    r = await client.post("/api/leads", json={**DUP, "geometry": geom}, headers=ops)
    assert r.status_code == 201, r.text
    assert r.json()["commune_insee"] is None  # unknown, not guessed


async def test_equal_overlaps_go_to_the_newest_outline_everywhere(
    client, ops, state, auth_headers
) -> None:
    await run_import(state, "communes", RHONE)
    await run_import(state, "communes", OUTLINE_69114, source="synthetic")
    pid = _parcel_inside_69159()
    geom = cadastre()[pid]["geometry"]
    r = await client.post("/api/leads", json={**DUP, "geometry": geom}, headers=ops)
    assert r.status_code == 201, r.text
    lead = r.json()
    assert lead["commune_insee"] == "69114"  # imported after 69159: the newer vintage
    # Enrichment lists the communes in the same order: the lead's commune first.
    admin = await auth_headers(Role.ADMIN)
    r = await client.post(f"/api/enrichment/{lead['id']}", headers=admin)
    assert r.status_code == 200, r.text
    communes = r.json()["parts"]["urbanism"]["data"]["communes"]
    assert [c["insee"] for c in communes[:2]] == ["69114", "69159"]
    assert communes[0]["overlap_m2"] == pytest.approx(communes[1]["overlap_m2"], abs=1.0)
