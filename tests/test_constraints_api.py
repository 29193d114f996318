"""POST /api/parcels/constraints and the selection's export (issue 20, "map tools").

Over the demo dataset (data/, as ``leadfactory demo`` loads it): the protected zones and PLU
zones a selection touches (French labels, overlaps measured again here with PostGIS on each
zone alone), the nearest poste source (checked against every poste's distance), the active leads
already holding its parcels (named for who may see them, counted for the others), the total
area; and "données absentes" for parcels of the Eure, outside the demo layers' coverage.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import text

from api.settings import PROJECT_ROOT
from geo.importers.demo import load_demo
from geo.models import Role
from tests.conftest import assert_problem
from tests.importing import GEODATA, run_import

URL = "/api/parcels/constraints"
EURE = GEODATA / "cadastre-27412-extract.geojson"


async def rows(state: Any, sql: str, **params: Any) -> list[Any]:
    async with state.sessions() as session:
        return list((await session.execute(text(sql), params)).all())


@pytest.fixture(scope="module")
async def demo(state: Any) -> dict[str, Any]:
    """The demo data, the Eure extract (no zones, PLU or coverage there), and two parcels of
    69114 that lie under a protected zone and a PLU zone, next to each other."""
    await load_demo(state.sessions, PROJECT_ROOT / "data")
    await run_import(state, "parcels", EURE)
    picked = await rows(
        state,
        """SELECT p.id FROM parcels p
           WHERE p.commune = '69114'
             AND (SELECT count(*) FROM layer_coverage c
                  WHERE c.layer IN ('env_zones', 'urban_zones')
                    AND ST_CoveredBy(p.geom, c.geom)) = 2
             AND EXISTS (SELECT 1 FROM env_zones z WHERE ST_Intersects(z.geom, p.geom)
                         AND ST_Area(ST_Intersection(z.geom, p.geom)::geography) > 100)
             AND EXISTS (SELECT 1 FROM parcels q WHERE q.commune = '69114' AND q.id <> p.id
                         AND ST_Touches(q.geom, p.geom)
                         AND (SELECT count(*) FROM layer_coverage c
                              WHERE c.layer IN ('env_zones', 'urban_zones')
                                AND ST_CoveredBy(q.geom, c.geom)) = 2)
           ORDER BY p.id LIMIT 1""",
    )
    first = picked[0].id
    neighbour = (
        await rows(
            state,
            """SELECT q.id FROM parcels p JOIN parcels q ON ST_Touches(q.geom, p.geom)
               WHERE p.id = :id AND q.commune = '69114'
                 AND (SELECT count(*) FROM layer_coverage c
                      WHERE c.layer IN ('env_zones', 'urban_zones')
                        AND ST_CoveredBy(q.geom, c.geom)) = 2
               ORDER BY q.id LIMIT 1""",
            id=first,
        )
    )[0].id
    eure = (await rows(state, "SELECT id FROM parcels WHERE commune = '27412' ORDER BY id"))[0].id
    return {"pair": sorted([first, neighbour]), "eure": eure}


async def test_requires_authentication(client: Any) -> None:
    assert_problem(await client.post(URL, json={"parcel_ids": ["69114000AA0030"]}), 401)


async def test_bad_input_is_a_422(client: Any, auth_headers: Any, demo: dict) -> None:
    h = await auth_headers(Role.OPS)
    assert_problem(await client.post(URL, headers=h, json={"parcel_ids": []}), 422)
    assert_problem(await client.post(URL, headers=h, json={"parcel_ids": ["nope"]}), 422)
    assert_problem(await client.post(URL, headers=h, json={"ids": demo["pair"]}), 422)
    body = assert_problem(
        await client.post(URL, headers=h, json={"parcel_ids": [*demo["pair"], "69114000ZZ9999"]}),
        422,
    )
    assert body["missing"] == ["69114000ZZ9999"] and body["code"] == "request.invalid"
    too_many = [f"69114000AA{i:04d}" for i in range(501)]
    assert_problem(await client.post(URL, headers=h, json={"parcel_ids": too_many}), 422)


async def test_constraints_of_a_selection(
    client: Any, auth_headers: Any, demo: dict, state: Any, settings: Any
) -> None:
    h = await auth_headers(Role.OPS)
    ids = demo["pair"]
    r = await client.post(URL, headers=h, json={"parcel_ids": ids})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["parcel_count"] == 2

    # Total area: the parcels' own ellipsoidal areas.
    areas = await rows(
        state, "SELECT area_m2, contenance FROM parcels WHERE id = ANY(:ids)", ids=ids
    )
    assert body["area_m2"] == pytest.approx(sum(a.area_m2 for a in areas), abs=0.2)
    if all(a.contenance is not None for a in areas):
        assert body["contenance_m2"] == sum(a.contenance for a in areas)

    # Protected zones: each zone measured alone against the union of the two parcels.
    want = await rows(
        state,
        """WITH sel AS (SELECT ST_Union(geom) g FROM parcels WHERE id = ANY(:ids))
           SELECT z.zone_type, z.code, ST_Area(ST_Intersection(z.geom, sel.g)::geography) AS m2
           FROM env_zones z, sel WHERE ST_Intersects(z.geom, sel.g)""",
        ids=ids,
    )
    want_zones = {(w.zone_type, w.code): w.m2 for w in want if w.m2 > 1.0}
    env = body["env_zones"]
    assert env["status"] == "covered" and env["message"] is None, env
    got = {(z["zone_type"], z["code"]): z for z in env["items"]}
    assert set(got) == set(want_zones) and got
    for key, m2 in want_zones.items():
        assert got[key]["overlap_m2"] == pytest.approx(m2, abs=0.2)
        assert got[key]["share"] == pytest.approx(m2 / body["area_m2"], abs=1e-3)
        # Labels, not codes.
        assert got[key]["label"] != got[key]["zone_type"]
    assert [z["overlap_m2"] for z in env["items"]] == sorted(
        (z["overlap_m2"] for z in env["items"]), reverse=True
    )

    # PLU zones: the demo's synthetic PLU covers every parcel of 69114.
    plu = body["urban_zones"]
    assert plu["status"] == "covered" and plu["items"]
    assert sum(z["overlap_m2"] for z in plu["items"]) == pytest.approx(body["area_m2"], rel=0.02)

    # The nearest poste: every poste's distance to a point inside the selection.
    dist = await rows(
        state,
        """WITH sel AS (SELECT ST_PointOnSurface(ST_Union(geom)) p FROM parcels
                        WHERE id = ANY(:ids))
           SELECT s.id, s.name, s.capacity_available_mw,
                  ST_Distance(s.geom::geography, sel.p::geography) AS d
           FROM substations s, sel ORDER BY d, s.id LIMIT 1""",
        ids=ids,
    )
    poste = body["substations"]
    assert poste["radius_m"] == settings.enrichment.grid_radius_m
    if dist[0].d <= poste["radius_m"]:
        assert poste["nearest"]["id"] == dist[0].id
        assert poste["nearest"]["distance_m"] == pytest.approx(dist[0].d, abs=0.2)
        assert poste["nearest"]["capacity_available_mw"] == dist[0].capacity_available_mw
    else:
        assert poste["nearest"] is None
    assert body["leads"] == [] and body["hidden_leads"] == 0


async def test_parcels_already_in_a_lead(client: Any, auth_headers: Any, demo: dict) -> None:
    ops = await auth_headers(Role.OPS)
    other_ops = await auth_headers(Role.OPS)
    manager = await auth_headers(Role.MANAGER)
    first, second = demo["pair"]
    r = await client.post(
        "/api/leads", headers=ops, json={"parcel_ids": [first], "source": "map", "name": "Déjà"}
    )
    assert r.status_code == 201, r.text
    lead = r.json()
    r = await client.post(URL, headers=ops, json={"parcel_ids": [first, second]})
    body = r.json()
    assert body["hidden_leads"] == 0
    assert body["leads"] == [
        {
            "id": lead["id"],
            "internal_name": lead["internal_name"],
            "name": "Déjà",
            "status": "NEW",
            "parcel_ids": [first],
        }
    ]
    assert (await client.post(URL, headers=manager, json={"parcel_ids": [first]})).json()["leads"][
        0
    ]["id"] == lead["id"]
    # Another OPS user may not see the lead: it is counted, not named.
    hidden = (await client.post(URL, headers=other_ops, json={"parcel_ids": [first]})).json()
    assert hidden["leads"] == [] and hidden["hidden_leads"] == 1
    # The other parcel alone is free.
    free = (await client.post(URL, headers=ops, json={"parcel_ids": [second]})).json()
    assert free["leads"] == [] and free["hidden_leads"] == 0


async def test_no_data_is_said_not_shown_as_nothing(
    client: Any, auth_headers: Any, demo: dict
) -> None:
    h = await auth_headers(Role.OPS)
    body = (await client.post(URL, headers=h, json={"parcel_ids": [demo["eure"]]})).json()
    for part in ("env_zones", "urban_zones"):
        assert body[part]["status"] == "absent", body[part]
        assert body[part]["items"] == []
        assert "données absentes" in body[part]["message"], body[part]
    assert body["area_m2"] > 0 and body["parcel_count"] == 1


async def test_export_selection(client: Any, auth_headers: Any, demo: dict, state: Any) -> None:
    h = await auth_headers(Role.OPS)
    ids = demo["pair"]
    r = await client.post("/api/parcels/export.geojson", headers=h, json={"parcel_ids": ids})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    assert 'filename="selection.geojson"' in r.headers["content-disposition"]
    fc = json.loads(r.content)
    assert [f["id"] for f in fc["features"]] == ids
    assert fc["features"][0]["geometry"]["type"] == "MultiPolygon"
    ref = fc["features"][0]["properties"]["reference"]
    assert ref.startswith("69114 ")

    r = await client.post("/api/parcels/export.kml", headers=h, json={"parcel_ids": ids})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = ET.fromstring(r.content)
    marks = root.findall(".//k:Placemark", ns)
    assert len(marks) == 2
    assert marks[0].findtext("k:name", namespaces=ns) == f"Parcelle {ref}"
    assert marks[0].find(".//k:Polygon", ns) is not None

    assert_problem(
        await client.post(
            "/api/parcels/export.kml", headers=h, json={"parcel_ids": ["27412000ZZ9999"]}
        ),
        422,
    )
    assert_problem(await client.post("/api/parcels/export.geojson", json={"parcel_ids": ids}), 401)
