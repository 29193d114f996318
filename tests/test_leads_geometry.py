"""Creating leads from polygons, parcel ids and points: PostGIS validation checked independently."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from shapely.geometry import mapping, shape
from shapely.ops import unary_union
from shapely.validation import make_valid

from geo.models import Role
from tests.conftest import assert_problem, read_json
from tests.lead_fixtures import (
    COMMUNES,
    LEAD_TABLES,
    area_l93,
    cadastre,
    count_rows,
    load_communes,
    load_parcels,
)

P1, P2, P3 = "69114000AA0030", "69114000AA0022", "69114000AA0001"


@pytest.fixture(scope="module")
def parcels(db_url: str) -> list[str]:
    load_parcels(db_url, [P1, P2, P3])
    return [P1, P2, P3]


@pytest.fixture(scope="module")
async def ops(auth_headers):
    return await auth_headers(Role.OPS)


async def test_polygon_lead_area_and_name(client, ops, parcels) -> None:
    geom = cadastre()[P1]["geometry"]
    r = await client.post(
        "/api/leads", json={"geometry": geom, "commune_insee": "69114", "name": "A"}, headers=ops
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/api/leads/{body['id']}"
    assert r.headers["etag"] == '"1"'
    # Geodesic area (PostGIS) vs Lambert-93 planar area (shapely+pyproj): within 0.5 %.
    assert body["area_m2"] == pytest.approx(area_l93(geom), rel=0.005)
    assert re.fullmatch(r"69-114-\d{4}", body["internal_name"])
    assert body["department"] == "69"
    assert body["status"] == "NEW"
    assert body["enrichment_stale"] is True
    c = shape(geom).centroid
    assert body["centroid"]["lon"] == pytest.approx(c.x, abs=1e-5)
    assert body["centroid"]["lat"] == pytest.approx(c.y, abs=1e-5)


async def test_parcel_union_and_sequence(client, ops, db_url) -> None:
    union = unary_union([shape(cadastre()[p]["geometry"]) for p in (P1, P2)])
    names = []
    # The same parcels twice (and already in this module's other leads): declared duplicates,
    # else 409 lead.parcels_taken (tests/test_pipeline_api.py).
    dup = {"allow_duplicate": True, "duplicate_reason": "variante"}
    for _ in range(2):
        r = await client.post("/api/leads", json={"parcel_ids": [P1, P2], **dup}, headers=ops)
        assert r.status_code == 201, r.text
        names.append(r.json()["internal_name"])
        assert r.json()["area_m2"] == pytest.approx(area_l93(mapping(union)), rel=0.005)
        assert r.json()["commune_insee"] == "69114"
    seqs = [int(n.rsplit("-", 1)[1]) for n in names]
    assert seqs[1] == seqs[0] + 1
    detail = (await client.get(f"/api/leads/{r.json()['id']}", headers=ops)).json()
    assert detail["sourcing"]["parcel_ids"] == [P1, P2]
    assert {p["id"] for p in detail["foncier"]["parcels"]} == {P1, P2}
    assert detail["activity"][0]["action"] == "create"
    assert [h["status"] for h in detail["status_history"]] == ["NEW"]


async def test_unknown_parcels_422_nothing_written(client, ops, db_url) -> None:
    before = count_rows(db_url, *LEAD_TABLES)
    r = await client.post(
        "/api/leads", json={"parcel_ids": [P1, "69114000ZZ9999", "69114000ZZ9998"]}, headers=ops
    )
    body = assert_problem(r, 422)
    assert body["unknown_parcel_ids"] == ["69114000ZZ9999", "69114000ZZ9998"]
    assert count_rows(db_url, *LEAD_TABLES) == before


async def test_point_picks_parcel_under_it(client, ops) -> None:
    inside = shape(cadastre()[P3]["geometry"]).representative_point()
    r = await client.post(
        "/api/leads", json={"point": {"lat": inside.y, "lon": inside.x}}, headers=ops
    )
    assert r.status_code == 201, r.text
    assert r.json()["area_m2"] == pytest.approx(area_l93(cadastre()[P3]["geometry"]), rel=0.005)
    detail = (await client.get(f"/api/leads/{r.json()['id']}", headers=ops)).json()
    assert detail["sourcing"]["parcel_ids"] == [P3]
    r = await client.post("/api/leads", json={"point": {"lat": 45.5, "lon": 4.9}}, headers=ops)
    assert "no known parcel" in assert_problem(r, 422)["detail"]


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[4.650, 45.970], [4.660, 45.980], [4.660, 45.970], [4.650, 45.980], [4.650, 45.970]]
    ],
}


async def test_self_intersection_refused_or_repaired(client, ops, db_url) -> None:
    before = count_rows(db_url, *LEAD_TABLES)
    r = await client.post("/api/leads", json={"geometry": BOWTIE}, headers=ops)
    body = assert_problem(r, 422)
    assert "Self-intersection" in body["detail"]
    assert count_rows(db_url, *LEAD_TABLES) == before
    # Over this module's other drawn leads: a declared duplicate (tests/test_drawn_duplicates.py).
    dup = {"allow_duplicate": True, "duplicate_reason": "test"}
    r = await client.post(
        "/api/leads", json={"geometry": BOWTIE, "repair": True, **dup}, headers=ops
    )
    assert r.status_code == 201, r.text
    repaired = make_valid(shape(BOWTIE))
    assert r.json()["area_m2"] == pytest.approx(area_l93(mapping(repaired)), rel=0.005)
    assert r.json()["geometry"]["type"] == "MultiPolygon"
    assert len(r.json()["geometry"]["coordinates"]) == 2  # the two triangles


def _square(lon: float, lat: float, d: float) -> dict:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.parametrize(
    ("geometry", "needle"),
    [
        (_square(-8.0, 46.0, 0.01), "outside metropolitan France"),  # Atlantic, off the bbox
        (_square(4.65, 45.97, 0.00005), "outside the accepted range"),  # ~ 15 m²
        (_square(4.0, 45.5, 0.6), "outside the accepted range"),  # ~ 3,000 km²
        (
            {
                "type": "Polygon",
                "coordinates": [[[4.65, 45.97], [4.66, 45.97], [4.66, 45.98], [4.65, 45.98]]],
            },
            "not closed",
        ),
    ],
)
async def test_bad_geometries(client, ops, db_url, geometry, needle) -> None:
    before = count_rows(db_url, *LEAD_TABLES)
    r = await client.post("/api/leads", json={"geometry": geometry}, headers=ops)
    assert needle in assert_problem(r, 422)["detail"]
    assert count_rows(db_url, *LEAD_TABLES) == before


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"geometry": _square(4.65, 45.97, 0.001), "point": {"lat": 45.97, "lon": 4.65}},
        {"geometry": {"type": "Point", "coordinates": [4.65, 45.97]}},
        {"parcel_ids": ["not-a-parcel"]},
        {"point": {"lat": 95, "lon": 4.6}},
        {"geometry": _square(4.65, 45.97, 0.001), "source": "telepathy"},
        {"geometry": _square(4.65, 45.97, 0.001), "colour": "red"},
    ],
)
async def test_malformed_bodies_are_422(client, ops, payload) -> None:
    assert_problem(await client.post("/api/leads", json=payload, headers=ops), 422)


async def test_concurrent_creations_get_distinct_sequences(live_server, ops) -> None:
    """Twelve real concurrent POSTs in one commune: twelve consecutive, distinct names."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as c:
        bodies = [
            {"geometry": _square(4.70 + 0.003 * i, 45.90, 0.002), "commune_insee": "69001"}
            for i in range(12)
        ]
        answers = await asyncio.gather(*(c.post("/api/leads", json=b, headers=ops) for b in bodies))
    assert all(r.status_code == 201 for r in answers), [r.text for r in answers]
    seqs = sorted(int(r.json()["internal_name"].rsplit("-", 1)[1]) for r in answers)
    assert seqs == list(range(1, 13))
    assert {r.json()["internal_name"][:6] for r in answers} == {"69-001"}


async def test_commune_layer_derives_commune_and_refuses_sea(client, ops, db_url) -> None:
    # From now on the communes layer has rows (this test runs last in the module).
    load_communes(db_url)
    geom = cadastre()[P1]["geometry"]
    dup = {"allow_duplicate": True, "duplicate_reason": "test"}  # P1 is in earlier leads
    r = await client.post("/api/leads", json={"geometry": geom, **dup}, headers=ops)
    assert r.status_code == 201, r.text
    # 69114 merged after 2018: the COG-2018 layer has its land in 69159 (largest overlap).
    communes = {
        f["properties"]["code"]: shape(f["geometry"]) for f in read_json(COMMUNES)["features"]
    }
    lead = shape(geom)
    best = max(communes, key=lambda c: communes[c].intersection(lead).area)
    assert r.json()["commune_insee"] == best
    assert r.json()["commune_name"]
    assert r.json()["internal_name"].startswith(f"69-{best[2:]}-")
    # A polygon in the Gulf of Lion: inside the France bbox, on no commune.
    before = count_rows(db_url, *LEAD_TABLES)
    r = await client.post("/api/leads", json={"geometry": _square(4.0, 43.0, 0.01)}, headers=ops)
    assert "not on land" in assert_problem(r, 422)["detail"]
    assert count_rows(db_url, *LEAD_TABLES) == before


@pytest.mark.parametrize("repair", [False, True])
async def test_positions_of_two_and_three_dimensions_in_one_ring(client, ops, repair) -> None:
    # GeoJSON allows an altitude; a ring mixing [x, y] and [x, y, z] made the Python validity
    # check fail (shapely's ValueError, a 500) before PostGIS saw the geometry.
    ring = [[4.6512, 45.9768], [4.6543, 45.9763, 210.0], [4.6538, 45.9751], [4.6512, 45.9768, 5.0]]
    r = await client.post(
        "/api/leads",
        json={
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "repair": repair,
            # Both runs draw the same ring: the second is a declared duplicate.
            "allow_duplicate": True,
            "duplicate_reason": "test",
        },
        headers=ops,
    )
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:
        assert_problem(r, 422)
    r = await client.post(
        "/api/site-searches",
        json={"name": "alt", "territory": {"polygon": {"type": "Polygon", "coordinates": [ring]}}},
        headers=ops,
    )
    assert r.status_code in (201, 403, 422), r.text
