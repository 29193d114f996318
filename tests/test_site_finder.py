"""The site finder on hand-built layouts: assembly, exclusions with buffers, postes, coverage,
RBAC and sites → leads.

Shapes are drawn in Lambert-93 metres (tests/enrichment_helpers.py); the right answers come from
the layout itself or from shapely + pyproj (geodesic areas), never from PostGIS. Each scenario
has its own commune code and place, so the module's one database holds them all:

- 03001 (x 0): parcels 3 m apart (one site) and a third 20 m away (another);
- 03002 (x 10 km): an APPB zone cutting a parcel, 50 m buffer;
- 03003 (x 20 km): the nearest poste 6 km north (the next, 03005's, 7.2 km east);
- 03006 (x 5 km): a 4 × 3 grid of touching 1 ha parcels, over a 4-parcel cap (this module's);
- 03007 (x 7 km): PLU zones U, A, Npv2 and none, the PLU complete only around them;
- 03005 (x 27 km): two sites turned into leads;
- 03004 (x 40 km): outside the zones' and postes' coverage;
- 03009 (x 60 km): a commune without parcels;
- 03010 | 03011 (x 80 km): a 6 ha site of two 3 ha parcels on either side of a commune border.

Runs go through the real queue: POST queues the run's chunks (one commune each here:
``chunk_parcels`` 1) and :func:`drain` runs a procrastinate worker in process until the queue is
empty, so every multi-commune run here is a chunked run merged at the end.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import mapping
from sqlalchemy import text

from api.queue import make_queue
from api.services.site_searches import SITE_QUEUE, run_chunk
from api.settings import Settings
from enrichment.site_finder import CommuneCount, chunk_communes
from geo.models import Role
from tests.conftest import make_settings
from tests.enrichment_helpers import (
    TO_WGS84,
    add_commune,
    add_parcel,
    add_plu,
    add_poste,
    add_zone,
    ewkt,
    make_lead,
    pt,
    rect,
)

GEOD = Geod(ellps="GRS80")
ABSENT = "données absentes pour cette zone"
COVERED = rect(-5_000, -5_000, 30_000, 15_000)  # zones and postes are complete here only

A1, A2, A3 = rect(0, 0, 200, 300), rect(203, 0, 400, 300), rect(420, 0, 600, 300)
B = rect(10_000, 0, 10_500, 400)
B_ZONE = rect(10_200, 300, 10_300, 600)  # crosses B's north edge
C = rect(20_000, 0, 20_300, 300)
E1, E2 = rect(27_000, 0, 27_300, 300), rect(27_400, 0, 27_700, 300)
D = rect(40_000, 0, 40_300, 300)
GRID = {  # 03006: (column, row) → 100 m squares, touching
    (i, j): rect(5_000 + 100 * i, 100 * j, 5_100 + 100 * i, 100 * (j + 1))
    for i in range(4)
    for j in range(3)
}
G = [rect(7_000 + 400 * i, 0, 7_300 + 400 * i, 300) for i in range(4)]  # U, A, Npv2, none
CAP = 4
MAX_PARCELS = 15  # every scenario's commune holds fewer; the département more
TIMEOUT_MS = 1_500  # every run here takes a few tens of ms
F1, F2 = rect(80_000, 0, 80_150, 200), rect(80_152, 0, 80_302, 200)  # 3 ha each, 2 m apart


@pytest.fixture(scope="module")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small site cap (a 12-parcel plain is cut), a small territory bound, a short timeout."""
    tmp: Path = tmp_path_factory.mktemp("sf")
    limits = {
        "max_site_parcels": CAP,
        "max_territory_parcels": MAX_PARCELS,
        "statement_timeout_ms": TIMEOUT_MS,
        "chunk_parcels": 1,  # one chunk per commune
    }
    SETTINGS[:] = [make_settings(db_url, tmp, site_finder=limits)]
    return SETTINGS[0]


SETTINGS: list[Settings] = []  # the module's settings, for drain()


def geodesic_m2(geom: Any) -> float:
    """Area on the GRS80 ellipsoid of a Lambert-93 shape (vertices every 50 m, as inserted)."""
    g = shapely.transform(
        geom.segmentize(50.0), lambda c: np.column_stack(TO_WGS84.transform(c[:, 0], c[:, 1]))
    )
    return abs(GEOD.geometry_area_perimeter(g)[0])


async def _coverage(sessions: Any, layer: str, geom: Any) -> None:
    """An import of ``layer`` that recorded ``geom`` as its coverage."""
    async with sessions() as session, session.begin():
        import_id = await session.scalar(
            text(
                "INSERT INTO imports (layer, file_name, checksum, status) "
                "VALUES (:l, 'test', 'x', 'succeeded') RETURNING id"
            ),
            {"l": layer},
        )
        await session.execute(
            text(
                "INSERT INTO layer_coverage (import_id, layer, method, areas, geom) "
                "VALUES (:i, :l, 'declared', '{\"kind\": \"file\"}', ST_GeomFromEWKT(:g))"
            ),
            {"i": import_id, "l": layer, "g": ewkt(geom)},
        )


@pytest.fixture(scope="module")
async def layout(state: Any) -> None:
    """Every scenario's reference rows, once."""
    s = state.sessions
    for insee, x in (("03001", 0), ("03002", 10_000), ("03003", 20_000), ("03005", 27_000)):
        await add_commune(s, insee, f"Commune {insee}", rect(x - 500, -500, x + 2_000, 1_500))
    await add_commune(s, "03004", "Hors couverture", rect(39_500, -500, 42_000, 1_500))
    await add_commune(s, "03009", "Sans parcelles", rect(60_000, 0, 62_000, 2_000))
    for i, g in enumerate((A1, A2, A3), start=1):
        await add_parcel(s, f"03001000AA{i:04d}", g)
    await add_parcel(s, "03002000AB0001", B)
    await add_parcel(s, "03003000AC0001", C)
    await add_parcel(s, "03004000AD0001", D)
    await add_parcel(s, "03005000AE0001", E1)
    await add_parcel(s, "03005000AE0002", E2)
    for (i, j), g in GRID.items():
        await add_parcel(s, f"03006000AF{10 * i + j:04d}", g)
    for i, g in enumerate(G, start=1):
        await add_parcel(s, f"03007000AG{i:04d}", g)
    await add_plu(s, "u", "U", "Ux", G[0].buffer(20))
    await add_plu(s, "a", "A", "A", G[1].buffer(20))
    await add_plu(s, "npv", "N", "Npv2", G[2].buffer(20))
    await add_zone(s, "appb", "APPB-B", B_ZONE)
    await add_zone(s, "znieff1", "ZN-A", rect(0, 0, 600, 300))  # a penalty: never cuts
    await add_poste(s, "PA", pt(300, 500), 50.0)
    await add_poste(s, "PB", pt(10_250, 600), 50.0)
    await add_poste(s, "PC", pt(20_150, 6_150), 100.0)
    await add_poste(s, "PE", pt(27_350, 350), 100.0)
    await add_poste(s, "PD", pt(40_100, 400), 100.0)  # outside the postes' coverage
    await add_commune(s, "03010", "Bord ouest", rect(79_000, -500, 80_151, 1_500))
    await add_commune(s, "03011", "Bord est", rect(80_151, -500, 81_500, 1_500))
    await add_parcel(s, "03010000AH0001", F1)
    await add_parcel(s, "03011000AH0002", F2)
    await _coverage(s, "env_zones", COVERED)
    await _coverage(s, "substations", COVERED)
    await _coverage(s, "urban_zones", rect(6_500, -500, 9_000, 1_000))  # only 03007's parcels


async def drain(settings: Settings, concurrency: int = 2) -> None:
    """Run the site finder's queued chunks with a procrastinate worker in process until none is
    left (the worker's code: api.queue)."""
    queue = make_queue(settings, concurrency)
    async with queue.open_async():
        await queue.run_worker_async(
            queues=[SITE_QUEUE],
            concurrency=concurrency,
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
            delete_jobs="successful",
        )
    await queue.close_context()


async def _start(client: Any, headers: dict[str, str], territory: dict, **criteria: Any) -> dict:
    """Save a search and queue a run: (search id, run as queued)."""
    body = {"name": "test", "territory": territory, "criteria": criteria}
    r = await client.post("/api/site-searches", json=body, headers=headers)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = await client.post(f"/api/site-searches/{sid}/runs", json={}, headers=headers)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/api/site-searches/{sid}/runs/{r.json()['id']}"
    assert r.json()["status"] == "queued"
    return {"search_id": sid, "run": r.json()}


async def _run(client: Any, headers: dict[str, str], territory: dict, **criteria: Any) -> dict:
    """Save a search, run it through the queue: (search id, run, sites)."""
    started = await _start(client, headers, territory, **criteria)
    sid, run_id = started["search_id"], started["run"]["id"]
    await drain(SETTINGS[0])
    r = await client.get(f"/api/site-searches/{sid}/runs/{run_id}", headers=headers)
    run = r.json()
    assert run["status"] == "succeeded", run
    assert run["progress"]["percent"] == 100.0
    r = await client.get(
        f"/api/site-searches/{sid}/runs/{run_id}/sites?geometry=true&page_size=200",
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return {"search_id": sid, "run": run, "sites": r.json()["items"]}


NO_PLU = {"plu_allowed_types": None}


async def test_assembly_across_a_ditch_not_a_gap(layout: None, client: Any, auth_headers: Any):
    h = await auth_headers(Role.OPS)
    out = await _run(client, h, {"communes": ["03001"]}, **NO_PLU)
    sites = {tuple(s["parcel_ids"]): s for s in out["sites"]}
    # 3 m ditch (≤ 5 m): one site; 20 m: another.
    assert set(sites) == {("03001000AA0001", "03001000AA0002"), ("03001000AA0003",)}
    assert out["run"]["counts"]["sites_found"] == 2
    pair = sites[("03001000AA0001", "03001000AA0002")]
    assert pair["area_m2"] == pytest.approx(geodesic_m2(A1) + geodesic_m2(A2), rel=1e-4)
    # Only a hard exclusion cuts: the ZNIEFF I over the whole site leaves it whole.
    assert pair["buildable_m2"] == pytest.approx(pair["area_m2"], rel=1e-6)
    assert pair["facts"]["verdicts"]["poste"]["verdict"] == "pass"
    assert pair["facts"]["verdicts"]["plu"]["verdict"] == "off"
    assert pair["geometry"]["type"] == "MultiPolygon"
    # The ZNIEFF I over the site is in its score, as for a lead: a strong penalty (0.7).
    env = pair["facts"]["breakdown"]["environment"]
    assert env["value"] == pytest.approx(0.3) and env["data"] == "real"
    assert "ZNIEFF" in env["reason"] and "ZN-A" in env["reason"], env
    assert pair["facts"]["env_zones"][0]["overlap_pct"] == pytest.approx(100.0, abs=0.01)
    pair_grid = pair["facts"]["breakdown"]["grid"]["value"]
    # With 03003's site (9 ha, its poste 6 km away: a lower grid score, but no zone), rank and
    # area differ: the ZNIEFF costs the pair and the third 0.7 × 20 of 110 weight points.
    out2 = await _run(
        client, h, {"communes": ["03001", "03003"]}, max_poste_distance_m=6_500, **NO_PLU
    )
    base = f"/api/site-searches/{out2['search_id']}/runs/{out2['run']['id']}/sites"
    pair, third, c = "03001000AA0001", "03001000AA0003", "03003000AC0001"
    assert [s["parcel_ids"][0] for s in out2["sites"]] == [c, pair, third]  # by score
    top = out2["sites"][0]["facts"]["breakdown"]
    assert top["environment"]["value"] == 1.0 and top["grid"]["value"] < pair_grid
    r = await client.get(f"{base}?sort=-buildable_m2", headers=h)
    assert [s["parcel_ids"][0] for s in r.json()["items"]] == [pair, c, third]  # 12, 9, 5.4 ha
    r = await client.get(f"{base}?sort=-buildable_m2&page=2&page_size=1", headers=h)
    assert [s["parcel_ids"][0] for s in r.json()["items"]] == [c]
    assert r.json()["total"] == 3
    r = await client.get(f"{base}?sort=poste_distance", headers=h)
    # The pair's centroid is 364 m from PA, the third's 408 m, 03003's 6 km from PC.
    d = [s["facts"]["chosen_poste"]["distance_m"] for s in r.json()["items"]]
    assert d == [pytest.approx(364, abs=3), pytest.approx(408, abs=3), pytest.approx(6_000, abs=50)]
    assert (await client.get(f"{base}?sort=name", headers=h)).status_code == 422
    # A 25 m gap joins all three.
    out = await _run(client, h, {"communes": ["03001"]}, gap_m=25, **NO_PLU)
    assert [s["parcel_ids"] for s in out["sites"]] == [
        ["03001000AA0001", "03001000AA0002", "03001000AA0003"]
    ]


async def test_exclusion_buffer_cuts_the_buildable_area(
    layout: None, client: Any, auth_headers: Any
):
    h = await auth_headers(Role.MANAGER)
    out = await _run(client, h, {"communes": ["03002"]}, excluded_zones={"appb": 50}, **NO_PLU)
    (site,) = out["sites"]
    expected = geodesic_m2(B.segmentize(50.0).difference(B_ZONE.segmentize(50.0).buffer(50)))
    assert site["buildable_m2"] == pytest.approx(expected, rel=1e-3)
    assert site["area_m2"] - site["buildable_m2"] > 15_000  # the cut is real: ~1.9 ha
    zones = site["facts"]["excluded_zones"]
    assert [(z["type"], z["code"], z["buffer_m"]) for z in zones] == [("appb", "APPB-B", 50.0)]
    # With no zone excluded, the whole parcel is buildable.
    out = await _run(client, h, {"communes": ["03002"]}, excluded_zones={}, **NO_PLU)
    assert out["sites"][0]["buildable_m2"] == pytest.approx(geodesic_m2(B), rel=1e-4)
    # A minimum above what is left removes the site, counted by that reason.
    out = await _run(
        client,
        h,
        {"communes": ["03002"]},
        min_buildable_ha=19,
        excluded_zones={"appb": 50},
        **NO_PLU,
    )
    assert out["sites"] == []
    assert out["run"]["counts"]["removed_min_buildable_area"] == 1


async def test_poste_too_far_then_in_range(layout: None, client: Any, auth_headers: Any):
    h = await auth_headers(Role.OPS)
    out = await _run(client, h, {"communes": ["03003"]}, **NO_PLU)
    assert out["sites"] == []
    assert out["run"]["counts"]["removed_poste_distance"] == 1
    out = await _run(client, h, {"communes": ["03003"]}, max_poste_distance_m=6_500, **NO_PLU)
    (site,) = out["sites"]
    chosen = site["facts"]["chosen_poste"]
    assert chosen["code"] == "PC"
    assert chosen["distance_m"] == pytest.approx(6_000, abs=50)  # L93 scale ≈ 0.999 here
    # A capacity the poste does not have removes it, counted.
    out = await _run(
        client,
        h,
        {"communes": ["03003"]},
        max_poste_distance_m=6_500,
        min_capacity_mw=150,
        **NO_PLU,
    )
    assert out["sites"] == []
    assert out["run"]["counts"]["removed_poste_capacity"] == 1


async def test_outside_coverage_is_absent_not_a_pass(layout: None, client: Any, auth_headers: Any):
    h = await auth_headers(Role.OPS)
    out = await _run(client, h, {"communes": ["03004"]})
    run = out["run"]
    assert run["coverage"]["env_zones"] == "absent"
    assert run["coverage"]["substations"] == "absent"
    assert run["coverage"]["urban_zones"] == "absent"  # never imported
    assert any(ABSENT in m for m in run["messages"])
    (site,) = out["sites"]  # kept, but nothing is claimed about it
    verdicts = site["facts"]["verdicts"]
    assert verdicts["poste"]["verdict"] == "absent"
    assert verdicts["excluded_zones"]["verdict"] == "absent"
    assert verdicts["plu"]["verdict"] == "absent"
    assert site["facts"]["chosen_poste"] is None  # PD is there, but the list is not complete
    assert site["facts"]["breakdown"]["grid"]["data"] == "missing"
    assert site["completeness"] < 1
    # A territory without parcels says so.
    out = await _run(client, h, {"communes": ["03009"]})
    assert out["sites"] == []
    assert any("Cadastre" in m for m in out["run"]["messages"])


async def test_rbac(layout: None, client: Any, auth_headers: Any, make_user: Any):
    owner = await make_user(Role.OPS)
    h_owner = await auth_headers(user=owner)
    body = {"name": "mine", "territory": {"communes": ["03001"]}}
    r = await client.post(
        "/api/site-searches", json=body, headers=await auth_headers(Role.COMMERCIAL)
    )
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post("/api/site-searches", json=body, headers=h_owner)
    assert r.status_code == 201
    sid = r.json()["id"]
    assert r.json()["owner_id"] == owner.id
    other = await auth_headers(Role.OPS)
    assert (await client.get(f"/api/site-searches/{sid}", headers=other)).status_code == 404
    assert (await client.post(f"/api/site-searches/{sid}/runs", headers=other)).status_code == 404
    r = await client.get("/api/site-searches", headers=other)
    assert sid not in [s["id"] for s in r.json()["items"]]
    commercial = await auth_headers(Role.COMMERCIAL)
    assert (await client.get("/api/site-searches", headers=commercial)).status_code == 403
    manager = await auth_headers(Role.MANAGER)
    r = await client.get("/api/site-searches", headers=manager)
    assert sid in [s["id"] for s in r.json()["items"]]
    r = await client.patch(f"/api/site-searches/{sid}", json={"name": "renamed"}, headers=h_owner)
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    r = await client.delete(f"/api/site-searches/{sid}", headers=await auth_headers(Role.ADMIN))
    assert r.status_code == 204
    assert (await client.get(f"/api/site-searches/{sid}", headers=h_owner)).status_code == 404


async def test_invalid_criteria_and_territory_are_422(layout: None, client: Any, auth_headers: Any):
    h = await auth_headers(Role.OPS)
    for body in (
        {"name": "x", "territory": {"communes": ["03001"]}, "criteria": {"gap_m": 100}},
        {
            "name": "x",
            "territory": {"communes": ["03001"]},
            "criteria": {"excluded_zones": {"appb": -1}},
        },
        {"name": "x", "territory": {"communes": ["03001"], "departements": ["03"]}},
        {
            "name": "x",
            "territory": {
                "polygon": {
                    "type": "Polygon",
                    "coordinates": [[[3, 46], [3.1, 46.1], [3.1, 46], [3, 46.1], [3, 46]]],
                }
            },
        },  # self-crossing
        {
            "name": "x",
            "territory": {
                "polygon": {
                    "type": "Polygon",
                    "coordinates": [[[13, 46], [13.1, 46], [13.1, 46.1], [13, 46]]],
                }
            },
        },  # valid, outside France
        {"name": "x", "territory": {"communes": ["03001"]}, "criteria": {"min_capacity_mw": -1}},
        {
            "name": "x",
            "territory": {"communes": ["03001"]},
            "criteria": {"excluded_zones": {"volcano": 50}},
        },
    ):
        r = await client.post("/api/site-searches", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_sites_to_leads_skip_and_report(
    layout: None, client: Any, auth_headers: Any, make_user: Any, state
):
    ops = await make_user(Role.OPS)
    h = await auth_headers(user=ops)
    out = await _run(client, h, {"communes": ["03005"]}, **NO_PLU)
    assert sorted(tuple(s["parcel_ids"]) for s in out["sites"]) == [
        ("03005000AE0001",),
        ("03005000AE0002",),
    ]
    sid, run_id = out["search_id"], out["run"]["id"]
    by_parcel = {s["parcel_ids"][0]: s["rank"] for s in out["sites"]}
    r1, r2 = by_parcel["03005000AE0001"], by_parcel["03005000AE0002"]
    url = f"/api/site-searches/{sid}/runs/{run_id}/leads"
    # Someone drew a lead over E2 since the run: E2 is skipped and named, E1 becomes a lead.
    await make_lead(state.sessions, ewkt(E2), user_id=ops.id, assignee_id=ops.id)
    r = await client.post(url, json={"ranks": [r1, r2]}, headers=h)
    assert r.status_code == 201, r.text
    (made,) = r.json()["created"]
    assert made["rank"] == r1
    assert r.json()["skipped"] == [
        {
            "rank": r2,
            "reason": "parcels_in_active_lead",
            "detail": "1 parcelle(s) déjà dans un lead actif : 03005000AE0002",
            "parcel_ids": ["03005000AE0002"],
            "lead_id": None,
        }
    ]
    job = await client.get(f"/api/enrichment/jobs/{r.json()['enrichment_job_id']}", headers=h)
    assert job.status_code == 200 and job.json()["total"] == 1
    lead = (await client.get(f"/api/leads/{made['lead_id']}", headers=h)).json()
    assert lead["assignee_id"] == ops.id
    assert f"(#{sid}), exécution #{run_id}, site n° {r1}" in lead["notes"]
    assert "surface constructible min. 5 ha" in lead["notes"]  # the run's criteria
    async with state.sessions() as session:
        row = (
            await session.execute(
                text("SELECT source, parcel_ids FROM lead_sourcing WHERE lead_id = :i"),
                {"i": made["lead_id"]},
            )
        ).one()
    assert row.source == "site_finder" and row.parcel_ids == ["03005000AE0001"]
    # The same site again: skipped as already a lead (200: nothing made, no job).
    r = await client.post(url, json={"ranks": [r1]}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == [] and r.json()["enrichment_job_id"] is None
    (skip,) = r.json()["skipped"]
    assert skip["reason"] == "already_lead" and skip["lead_id"] == made["lead_id"]
    async with state.sessions() as session:
        n = await session.scalar(
            text(
                "SELECT count(*) FROM site_search_results WHERE run_id = :r AND lead_id IS NOT NULL"
            ),
            {"r": run_id},
        )
    assert n == 1
    # A new run leaves out the parcels now in open leads.
    out = await _run(client, h, {"communes": ["03005"]}, **NO_PLU)
    assert out["sites"] == []
    assert out["run"]["counts"]["parcels_in_active_leads"] == 2
    # Unknown rank: 404, nothing made.
    r = await client.post(url, json={"ranks": [r2, 99]}, headers=h)
    assert r.status_code == 404


async def test_a_plain_over_the_cap_is_cut_into_connected_sites(
    layout: None, client: Any, auth_headers: Any
):
    h = await auth_headers(Role.OPS)
    out = await _run(
        client,
        h,
        {"communes": ["03006"]},
        min_buildable_ha=None,
        max_poste_distance_m=None,
        **NO_PLU,
    )
    sites = [s["parcel_ids"] for s in out["sites"]]
    assert sorted(p for ids in sites for p in ids) == sorted(
        f"03006000AF{10 * i + j:04d}" for i, j in GRID
    )
    assert len(sites) >= 3  # ceil(12 / 4)
    for s in out["sites"]:
        ids = s["parcel_ids"]
        cells = [GRID[(int(p[-4:]) // 10, int(p[-4:]) % 10)] for p in ids]
        # Connected: the union of the site's squares is one piece.
        assert shapely.union_all([c.buffer(0.5) for c in cells]).geom_type == "Polygon"
        assert s["facts"]["over_cap"] == (len(ids) > CAP)


async def test_plu_zones_allowed_unknown_and_refused(layout: None, client: Any, auth_headers):
    h = await auth_headers(Role.OPS)
    common = {"min_buildable_ha": 1, "max_poste_distance_m": None}
    out = await _run(client, h, {"communes": ["03007"]}, **common)
    kept = {s["parcel_ids"][0]: s["facts"]["verdicts"]["plu"]["verdict"] for s in out["sites"]}
    # U and the Npv sector pass, no zone passes by default; the A zone is refused.
    assert kept == {"03007000AG0001": "pass", "03007000AG0003": "pass", "03007000AG0004": "pass"}
    assert out["run"]["counts"]["parcels_plu_not_allowed"] == 1
    assert out["run"]["coverage"]["urban_zones"] == "covered"
    out = await _run(client, h, {"communes": ["03007"]}, plu_unknown_passes=False, **common)
    assert {s["parcel_ids"][0] for s in out["sites"]} == {"03007000AG0001", "03007000AG0003"}
    assert out["run"]["counts"]["parcels_plu_not_allowed"] == 2


async def test_a_drawn_polygon_finds_the_same_sites(layout: None, client: Any, auth_headers):
    h = await auth_headers(Role.OPS)
    area = shapely.transform(
        rect(-50, -50, 650, 350).segmentize(50.0),
        lambda c: np.column_stack(TO_WGS84.transform(c[:, 0], c[:, 1])),
    )
    polygon = json.loads(json.dumps(mapping(area)))
    out = await _run(client, h, {"polygon": polygon}, **NO_PLU)
    assert sorted(s["parcel_ids"] for s in out["sites"]) == [
        ["03001000AA0001", "03001000AA0002"],
        ["03001000AA0003"],
    ]


async def test_a_territory_over_the_parcel_bound_is_422(layout: None, client: Any, auth_headers):
    h = await auth_headers(Role.OPS)
    body = {"name": "Allier", "territory": {"departements": ["03"]}}
    r = await client.post("/api/site-searches", json=body, headers=h)
    sid = r.json()["id"]
    r = await client.post(f"/api/site-searches/{sid}/runs", headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["limit"] == "max_territory_parcels" and r.json()["max"] == MAX_PARCELS
    assert (await client.get(f"/api/site-searches/{sid}/runs", headers=h)).json() == []


async def test_a_run_over_the_time_limit_writes_only_a_failed_run(
    layout: None, client: Any, auth_headers: Any, state: Any
):
    h = await auth_headers(Role.OPS)
    started = await _start(client, h, {"communes": ["03001", "03003"]})
    sid, run_id = started["search_id"], started["run"]["id"]
    # A writer holding the parcels makes the chunks wait past their statement timeout.
    locked, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with state.sessions() as session, session.begin():
            await session.execute(text("LOCK TABLE parcels IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await locked.wait()
    try:
        await drain(SETTINGS[0])
    finally:
        release.set()
        await holder
    run = (await client.get(f"/api/site-searches/{sid}/runs/{run_id}", headers=h)).json()
    assert run["status"] == "failed" and "1.5 s" in run["error"], run
    assert await _rows(state, run_id) == (0, 0, 0)
    # Once the parcels are free, the same search runs.
    r = await client.post(f"/api/site-searches/{sid}/runs", headers=h)
    assert r.status_code == 202
    await drain(SETTINGS[0])
    r = await client.get(r.headers["location"], headers=h)
    assert r.json()["status"] == "succeeded"


async def _chunk_of(state: Any, run_id: int, commune: str) -> int:
    """The index of the chunk of a run holding ``commune`` (chunks follow the communes'
    positions, not their codes)."""
    async with state.sessions() as session:
        return await session.scalar(
            text(
                "SELECT idx FROM site_search_chunks WHERE run_id = :r "
                "AND communes @> CAST(:c AS jsonb)"
            ),
            {"r": run_id, "c": json.dumps([commune])},
        )


async def _rows(state: Any, run_id: int) -> tuple[int, int, int]:
    """A run's (results, staged sites, edge parcels)."""
    async with state.sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM site_search_results WHERE run_id = :r), "
                    "(SELECT count(*) FROM site_search_staged WHERE run_id = :r), "
                    "(SELECT count(*) FROM site_search_edge_parcels WHERE run_id = :r)"
                ),
                {"r": run_id},
            )
        ).one()
    return (row[0], row[1], row[2])


async def test_a_site_across_a_commune_border_is_merged_from_two_chunks(
    layout: None, client: Any, auth_headers: Any
):
    h = await auth_headers(Role.OPS)
    both = {"communes": ["03010", "03011"]}
    out = await _run(client, h, both, max_poste_distance_m=None, **NO_PLU)
    # Two 3 ha halves, each under the 5 ha minimum alone: one 6 ha site.
    (site,) = out["sites"]
    assert site["parcel_ids"] == ["03010000AH0001", "03011000AH0002"]
    assert site["area_m2"] == pytest.approx(geodesic_m2(F1) + geodesic_m2(F2), rel=1e-4)
    counts = out["run"]["counts"]
    assert counts["chunks"] == 2 and counts["parcels_at_chunk_edges"] == 2
    assert counts["sites_found"] == 1 and counts["removed_min_buildable_area"] == 0
    assert out["run"]["progress"]["chunks_done"] == 2
    # Each commune alone: its half is too small.
    for code in ("03010", "03011"):
        alone = await _run(client, h, {"communes": [code]}, max_poste_distance_m=None, **NO_PLU)
        assert alone["sites"] == [] and alone["run"]["counts"]["removed_min_buildable_area"] == 1
    # The same across chunks of a drawn polygon.
    area = shapely.transform(
        rect(79_900, -100, 80_400, 300).segmentize(50.0),
        lambda c: np.column_stack(TO_WGS84.transform(c[:, 0], c[:, 1])),
    )
    out = await _run(
        client,
        h,
        {"polygon": json.loads(json.dumps(mapping(area)))},
        max_poste_distance_m=None,
        **NO_PLU,
    )
    assert [s["parcel_ids"] for s in out["sites"]] == [["03010000AH0001", "03011000AH0002"]]
    assert out["run"]["counts"]["chunks"] == 2


async def test_progress_and_chunks_shared_by_workers(
    layout: None, client: Any, auth_headers: Any, state: Any
):
    h = await auth_headers(Role.OPS)
    territory = {"communes": ["03001", "03003", "03005", "03007"]}
    started = await _start(client, h, territory, max_poste_distance_m=None, **NO_PLU)
    run = started["run"]
    assert run["progress"] == {
        "chunks_total": 4,
        "chunks_done": 0,
        "parcels_total": 3 + 1 + 2 + 4,
        "parcels_scanned": 0,
        "sites_found": 0,
        "percent": 0.0,
    }
    sid, run_id = started["search_id"], run["id"]
    # Two workers on one chunk: one does it, the other waits for it and finds it done.
    first = await _chunk_of(state, run_id, "03001")
    outcomes = await asyncio.gather(
        run_chunk(state.sessions, SETTINGS[0], run_id, first),
        run_chunk(state.sessions, SETTINGS[0], run_id, first),
    )
    assert sorted(outcomes) == ["done", "skipped"], outcomes  # the second waited, found it done
    r = await client.get(f"/api/site-searches/{sid}/runs/{run_id}", headers=h)
    assert r.json()["status"] == "running"
    progress = r.json()["progress"]
    assert progress["chunks_done"] == 1 and progress["parcels_scanned"] == 3
    assert progress["percent"] == 30.0
    assert await _rows(state, run_id) == (0, 2, 0)  # staged, not yet results
    await drain(SETTINGS[0], concurrency=2)  # the other chunks, two at a time
    run = (await client.get(f"/api/site-searches/{sid}/runs/{run_id}", headers=h)).json()
    assert run["status"] == "succeeded" and run["progress"]["percent"] == 100.0
    assert run["counts"]["parcels_scanned"] == 10 and run["counts"]["chunks"] == 4
    assert await _rows(state, run_id) == (run["counts"]["sites_returned"], 0, 0)
    # The same sites as the communes run one by one.
    r = await client.get(f"/api/site-searches/{sid}/runs/{run_id}/sites?page_size=200", headers=h)
    chunked = sorted(tuple(s["parcel_ids"]) for s in r.json()["items"])
    single = []
    for code in territory["communes"]:
        one = await _run(client, h, {"communes": [code]}, max_poste_distance_m=None, **NO_PLU)
        single += [tuple(s["parcel_ids"]) for s in one["sites"]]
    assert chunked == sorted(single) and len(chunked) >= 2 + 1 + 4  # 03005: leads maybe


async def test_a_run_cancelled_midway_leaves_no_results(
    layout: None, client: Any, auth_headers: Any, state: Any
):
    h = await auth_headers(Role.OPS)
    started = await _start(client, h, {"communes": ["03001", "03003", "03005"]}, **NO_PLU)
    sid, run_id = started["search_id"], started["run"]["id"]
    base = f"/api/site-searches/{sid}/runs/{run_id}"
    first = await _chunk_of(state, run_id, "03001")
    held = await _chunk_of(state, run_id, "03003")
    assert await run_chunk(state.sessions, SETTINGS[0], run_id, first) == "done"
    assert (await _rows(state, run_id))[1] > 0  # 03001's sites are staged
    # Chunk 1 is held midway (a writer holds the postes) while the run is cancelled.
    locked, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with state.sessions() as session, session.begin():
            await session.execute(text("LOCK TABLE substations IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await locked.wait()
    chunk = asyncio.create_task(run_chunk(state.sessions, SETTINGS[0], run_id, held))
    try:
        async with state.sessions() as session:
            for _ in range(100):  # until the chunk waits for the postes
                waiting = await session.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted "
                        "AND relation = 'substations'::regclass"
                    )
                )
                await session.rollback()
                if waiting:
                    break
                await asyncio.sleep(0.01)
        assert waiting, "the chunk never reached the postes"
        r = await client.post(f"{base}/cancel", headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
    finally:
        release.set()
        await holder
    assert await chunk == "skipped"  # its work was rolled back at its end
    await drain(SETTINGS[0])  # the third chunk: nothing to do
    run = (await client.get(base, headers=h)).json()
    assert run["status"] == "cancelled" and run["counts"] is None
    assert await _rows(state, run_id) == (0, 0, 0)
    async with state.sessions() as session:
        states = (
            (
                await session.execute(
                    text(
                        "SELECT status FROM site_search_chunks WHERE run_id = :r "
                        "ORDER BY idx <> :first, idx"
                    ),
                    {"r": run_id, "first": first},
                )
            )
            .scalars()
            .all()
        )
    assert states == ["done", "pending", "pending"]  # 03001's, then the others
    # An ended run can't be cancelled; another's run is a 404.
    assert (await client.post(f"{base}/cancel", headers=h)).status_code == 409
    other = await auth_headers(Role.OPS)
    assert (await client.post(f"{base}/cancel", headers=other)).status_code == 404


def ogrinfo(path: Path) -> str:
    """GDAL's own summary of a file (an independent reader)."""
    out = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


async def test_exports_read_by_gdal_excel_and_geojson(
    layout: None, client: Any, auth_headers: Any, tmp_path: Path
):
    h = await auth_headers(Role.OPS)
    out = await _run(client, h, {"communes": ["03001"]}, **NO_PLU)
    base = f"/api/site-searches/{out['search_id']}/runs/{out['run']['id']}/export"
    by_rank = {s["rank"]: s for s in out["sites"]}
    assert len(by_rank) == 2
    # GeoJSON: the sites with their outline and facts, and the run's criteria.
    r = await client.get(f"{base}?format=geojson", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert "attachment" in r.headers["content-disposition"]
    fc = r.json()
    assert [f["properties"]["rank"] for f in fc["features"]] == [1, 2]
    for f in fc["features"]:
        site = by_rank[f["properties"]["rank"]]
        assert f["properties"]["parcel_ids"] == " ".join(site["parcel_ids"])
        assert f["properties"]["buildable_ha"] == round(site["buildable_m2"] / 10_000, 2)
        assert shapely.geometry.shape(f["geometry"]).equals_exact(
            shapely.geometry.shape(site["geometry"]), 1e-6
        )
    assert fc["metadata"]["run"]["criteria"]["gap_m"] == 5.0
    # CSV for French Excel: BOM, ';' and decimal commas.
    r = await client.get(f"{base}?format=csv", headers=h)
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    head = rows[0]
    assert head[:3] == ["rank", "score", "completeness"] and head[-2:] == ["latitude", "longitude"]
    assert len(rows) == 3 and all(len(row) == len(head) for row in rows)
    first = dict(zip(head, rows[1], strict=True))
    assert first["rank"] == "1" and "," in first["area_ha"] and "." not in first["area_ha"]
    assert float(first["latitude"].replace(",", ".")) == pytest.approx(46.5, abs=0.5)
    # GeoPackage and KML: read back by GDAL's ogrinfo.
    for fmt, driver in (("gpkg", "GPKG"), ("kml", "KML")):  # noqa: B007
        r = await client.get(f"{base}?format={fmt}", headers=h)
        assert r.status_code == 200, r.text
        path = tmp_path / f"sites.{fmt}"
        path.write_bytes(r.content)
        info = ogrinfo(path)
        assert f"{driver}' successful" in info, info  # KML: read by LIBKML, or KML
        assert "Feature Count: 2" in info, info
        if fmt == "gpkg":  # KML layers have no geometry type of their own
            assert "Geometry: Multi Polygon" in info, info
        assert "buildable_ha" in info and "parcel_ids" in info, info
    # Nothing to export before the run succeeds; the search's RBAC holds.
    started = await _start(client, h, {"communes": ["03001"]}, **NO_PLU)
    queued = f"/api/site-searches/{started['search_id']}/runs/{started['run']['id']}/export"
    assert (await client.get(queued, headers=h)).status_code == 409
    await drain(SETTINGS[0])
    other = await auth_headers(Role.OPS)
    assert (await client.get(f"{base}?format=csv", headers=other)).status_code == 404
    commercial = await auth_headers(Role.COMMERCIAL)
    assert (await client.get(f"{base}?format=csv", headers=commercial)).status_code == 403
    assert (await client.get(f"{base}?format=shp", headers=h)).status_code == 422


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The WebMercatorQuad tile (x, y) holding a point."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


async def test_candidates_layer_and_collection_follow_the_search_rbac(
    layout: None, client: Any, auth_headers: Any, make_user: Any, live_server: Any
):
    owner = await make_user(Role.OPS)
    h = await auth_headers(user=owner)
    out = await _run(client, h, {"communes": ["03001"]}, **NO_PLU)
    run_id = out["run"]["id"]
    ranks = sorted(s["rank"] for s in out["sites"])
    items = f"/ogc/collections/candidates/items?run_id={run_id}"
    # OGC API Features: the owner and a manager see the run's sites; another OPS and a
    # COMMERCIAL user see none of them.
    r = await client.get(items, headers=h)
    assert r.status_code == 200, r.text
    assert sorted(f["properties"]["rank"] for f in r.json()["features"]) == ranks
    assert {f["properties"]["run_id"] for f in r.json()["features"]} == {run_id}
    manager = await auth_headers(Role.MANAGER)
    assert len((await client.get(items, headers=manager)).json()["features"]) == len(ranks)
    for role in (Role.OPS, Role.COMMERCIAL):
        r = await client.get(items, headers=await auth_headers(role))
        assert r.status_code == 200 and r.json()["features"] == [], role
    # GDAL's OAPIF driver opens the collection (as QGIS does) with the owner's token.
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {h['Authorization'][7:]}"}
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{live_server.url}/ogc", "candidates"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert info.returncode == 0, info.stderr
    assert f"Feature Count: {len(ranks)}" in info.stdout, info.stdout  # the owner's only run
    assert "score: " in info.stdout and "buildable_ha: Real" in info.stdout, info.stdout
    # Vector tiles: the candidates with their score, for the owner's tile token only.
    site = out["sites"][0]
    lon, lat = shapely.geometry.shape(site["geometry"]).representative_point().coords[0]
    x, y = _tile_of(lon, lat, 14)
    path = f"/tiles/candidates/14/{x}/{y}.pbf"
    token = (await client.post("/api/auth/tile-token", headers=h)).json()["token"]
    r = await client.get(f"{path}?token={token}")
    assert r.status_code == 200, r.text
    layer = mapbox_vector_tile.decode(r.content)["candidates"]
    mine = [f["properties"] for f in layer["features"] if f["properties"]["run_id"] == run_id]
    assert site["rank"] in [p["rank"] for p in mine]
    assert {p["rank"]: p["score"] for p in mine}[site["rank"]] == pytest.approx(site["score"])
    other = await make_user(Role.OPS)
    h_other = await auth_headers(user=other)
    token = (await client.post("/api/auth/tile-token", headers=h_other)).json()["token"]
    r = await client.get(f"{path}?token={token}")
    assert r.status_code == 204 or not [
        f
        for f in mapbox_vector_tile.decode(r.content).get("candidates", {}).get("features", [])
        if f["properties"]["run_id"] == run_id
    ]
    assert (await client.get(path)).status_code == 401  # no token, no candidates


async def test_a_merge_over_the_time_limit_fails_the_run_with_nothing_written(
    layout: None, client: Any, auth_headers: Any, state: Any
):
    h = await auth_headers(Role.OPS)
    started = await _start(
        client, h, {"communes": ["03010", "03011"]}, max_poste_distance_m=None, **NO_PLU
    )
    sid, run_id = started["search_id"], started["run"]["id"]
    # Both halves of the border site are set aside: the chunks stage no site, and the merge is
    # the first to write one — held past its statement timeout by a lock on the staging table,
    # released after 3 s (the run's failure then drops what was staged).
    locked = asyncio.Event()

    async def hold() -> None:
        async with state.sessions() as session, session.begin():
            await session.execute(text("LOCK TABLE site_search_staged IN SHARE MODE"))
            locked.set()
            await asyncio.sleep(3)

    holder = asyncio.create_task(hold())
    await locked.wait()
    try:
        assert await run_chunk(state.sessions, SETTINGS[0], run_id, 0) == "done"
        assert await run_chunk(state.sessions, SETTINGS[0], run_id, 1) == "failed"
    finally:
        await holder
    run = (await client.get(f"/api/site-searches/{sid}/runs/{run_id}", headers=h)).json()
    assert run["status"] == "failed" and "across chunk edges" in run["error"], run
    assert await _rows(state, run_id) == (0, 0, 0)


def test_chunks_are_neighbouring_communes() -> None:
    # A 4 × 4 grid of communes of 10 parcels each, coded row by row: code order would make
    # chunks of 4 a row each (every commune on an edge); along the Hilbert curve each chunk is
    # a 2 × 2 block.
    grid = [
        CommuneCount(f"99{4 * j + i:03d}", 10, 4.0 + 0.1 * i, 45.0 + 0.1 * j)
        for j in range(4)
        for i in range(4)
    ]
    chunks = chunk_communes(list(reversed(grid)), 40)
    assert [n for _, n in chunks] == [40, 40, 40, 40]
    blocks = []
    for codes, _ in chunks:
        cells = {(int(c[2:]) % 4, int(c[2:]) // 4) for c in codes}
        xs, ys = {x for x, _ in cells}, {y for _, y in cells}
        blocks.append(len(xs) == 2 and len(ys) == 2 and min(xs) % 2 == 0 and min(ys) % 2 == 0)
    assert all(blocks), chunks
    # A commune larger than the target is a chunk alone; none is lost.
    big = [*grid[:3], CommuneCount("99999", 100, 4.05, 45.05)]
    out = chunk_communes(big, 40)
    assert sorted(c for codes, _ in out for c in codes) == sorted(c.code for c in big)
    assert (["99999"], 100) in out
    assert chunk_communes([], 40) == []
