"""The site finder's ranking with every fact (issue 17): sites that differ in one factor only.

Seven 12 ha sites of commune 04001, 12 km apart (each in its own 0.05° PVGIS cell), each with
its own poste 1 km north (100 MW available) and a PLU zone under it. They are alike but for one
factor each, so the ranking and the breakdown must move by that factor alone, through the
leads' criteria registry (enrichment/criteria.py) and weights:

- 1 BASE: PLU ``U`` (Ux), PVGIS answer cached for its cell at 1,400 kWh/kWc;
- 2 ENV: a ZNIEFF II over it (a moderate penalty, 0.35);
- 3 PLU: PLU ``A`` (agricultural, no dedicated sector);
- 4 SUN: PVGIS cached at 1,200;
- 5 ESTIMATE: no PVGIS answer cached for its cell: the offline estimate, labelled;
- 6 LOW: PVGIS cached at 1,000: under DOMAIN.md's 1,100 minimum;
- 7 NOENV: outside the protected zones' coverage ("données absentes").

The expected figures come from DOMAIN.md's curves and weights, not from the code under test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from api.services.enrichment import enrichment_config
from api.settings import Settings
from enrichment.pvgis import pvcalc_cache_key
from geo.models import Role
from tests.conftest import make_settings
from tests.enrichment_helpers import add_parcel, add_plu, add_poste, add_zone, ewkt, lonlat, pt
from tests.enrichment_helpers import rect as _rect
from tests.test_site_finder import drain

STEP = 12_000.0  # 12 km apart: one 0.05° cell each
NAMES = ["BASE", "ENV", "PLU", "SUN", "ESTIMATE", "LOW", "NOENV"]
YIELDS = {"BASE": 1_400.0, "ENV": 1_400.0, "PLU": 1_400.0, "SUN": 1_200.0, "LOW": 1_000.0}
YIELDS["NOENV"] = 1_400.0


def site_rect(i: int) -> Any:
    """Site i's parcel: 400 × 300 m (12 ha)."""
    return _rect(i * STEP, 0, i * STEP + 400, 300)


def pid(i: int) -> str:
    return f"04001000AB{i + 1:04d}"


def pvgis_body(e_y: float) -> dict[str, Any]:
    """A PVcalc answer as PVGIS gives it (the fields the enrichment reads)."""
    return {
        "inputs": {
            "meteo_data": {"radiation_db": "PVGIS-SARAH3"},
            "mounting_system": {"fixed": {"slope": {"value": 37}, "azimuth": {"value": 0}}},
        },
        "outputs": {
            "totals": {"fixed": {"E_y": e_y, "H(i)_y": e_y * 1.2, "l_total": -14.0}},
            "monthly": {"fixed": [{"month": m, "E_m": e_y / 12} for m in range(1, 13)]},
        },
    }


async def _declare(sessions: Any, layer: str, geom: Any) -> None:
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
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One chunk per commune (04001 is one commune: one chunk)."""
    return make_settings(
        db_url, tmp_path_factory.mktemp("sfscore"), site_finder={"chunk_parcels": 1}
    )


@pytest.fixture(scope="module")
async def layout(state: Any, settings: Settings) -> None:
    s = state.sessions
    pvgis = enrichment_config(settings).pvgis
    for i, name in enumerate(NAMES):
        g = site_rect(i)
        await add_parcel(s, pid(i), g)
        await add_poste(s, f"P{i}", pt(i * STEP + 200, 1_150), 100.0)
        zone = ("A", "A") if name == "PLU" else ("U", "Ux")
        await add_plu(
            s, f"plu-{i}", zone[0], zone[1], _rect(i * STEP - 50, -50, i * STEP + 450, 350)
        )
        if name == "ENV":
            await add_zone(
                s, "znieff2", "ZN2-ENV", _rect(i * STEP - 100, -100, i * STEP + 500, 400)
            )
        if name in YIELDS:
            lon, lat = lonlat(g.centroid)
            async with s() as session, session.begin():
                await session.execute(
                    text("INSERT INTO pvgis_cache (key, response) VALUES (:k, CAST(:b AS jsonb))"),
                    {
                        "k": pvcalc_cache_key(pvgis, lat, lon),
                        "b": json.dumps(pvgis_body(YIELDS[name])),
                    },
                )
    # Chunk edges: 04002's X touches (2 m) 04003's Y under an A zone (refused), and 04004's Z
    # touches 04005's W, free (no PLU zone: RNU, admitted).
    await add_parcel(s, "04002000AC0001", _rect(50_000, 2_000, 50_300, 2_300))
    await add_parcel(s, "04003000AC0002", _rect(50_302, 2_000, 50_600, 2_300))
    await add_plu(s, "plu-y", "A", "A", _rect(50_301, 1_950, 50_650, 2_350))
    await add_parcel(s, "04004000AC0003", _rect(60_000, 2_000, 60_300, 2_300))
    await add_parcel(s, "04005000AC0004", _rect(60_302, 2_000, 60_600, 2_300))
    everything = _rect(-5_000, -5_000, len(NAMES) * STEP + 5_000, 5_000)
    await _declare(s, "env_zones", _rect(-5_000, -5_000, 6 * STEP - 1_000, 5_000))  # not NOENV
    await _declare(s, "substations", everything)
    await _declare(s, "urban_zones", everything)


# Nothing filters but what a test asks: every site is kept (the PLU is read, not checked).
OPEN = {"min_buildable_ha": 1, "plu_allowed_types": None, "max_poste_distance_m": 5_000}


async def _run(client: Any, settings: Settings, h: dict[str, str], **criteria: Any) -> dict:
    body = {"name": "score", "territory": {"communes": ["04001"]}, "criteria": criteria}
    r = await client.post("/api/site-searches", json=body, headers=h)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = await client.post(f"/api/site-searches/{sid}/runs", json={}, headers=h)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    await drain(settings, 1)
    run = (await client.get(f"/api/site-searches/{sid}/runs/{run_id}", headers=h)).json()
    assert run["status"] == "succeeded", run
    r = await client.get(f"/api/site-searches/{sid}/runs/{run_id}/sites", headers=h)
    by_name = {NAMES[int(s["parcel_ids"][0][-4:]) - 1]: s for s in r.json()["items"]}
    return {"run": run, "sites": by_name, "order": [s["parcel_ids"][0] for s in r.json()["items"]]}


def lin(x: float, x0: float, x1: float, y0: float, y1: float) -> float:
    return y0 + (y1 - y0) * (min(max(x, x0), x1) - x0) / (x1 - x0)


# DOMAIN.md's weights, and the site-only terrain criterion's (docs/site-finder.md).
W = {"grid": 30, "surface": 20, "sun": 15, "environment": 20, "urbanism": 10, "owners": 5}
W_TERRAIN = 10
TOTAL = sum(W.values()) + W_TERRAIN


async def test_each_factor_moves_the_score_and_its_breakdown_alone(
    layout: None, client: Any, auth_headers: Any, settings: Settings
) -> None:
    h = await auth_headers(Role.OPS)
    out = await _run(client, settings, h, **OPEN, min_specific_yield=None)
    sites = out["sites"]
    assert set(sites) == set(NAMES), out["run"]["counts"]
    base = sites["BASE"]
    b = base["facts"]["breakdown"]
    # Every factor real but owners (never known for a site) and terrain (no model loaded).
    assert {k: c["data"] for k, c in b.items()} == {
        "grid": "real",
        "surface": "real",
        "sun": "real",
        "environment": "real",
        "urbanism": "real",
        "owners": "missing",
        "terrain": "missing",
    }
    assert [b[k]["value"] for k in ("grid", "surface", "sun", "environment", "urbanism")] == [
        1.0
    ] * 5
    expected = sum(W[k] for k in ("grid", "surface", "sun", "environment", "urbanism"))
    expected += 0.5 * W["owners"] + 0.5 * W_TERRAIN
    assert base["score"] == pytest.approx(100 * expected / TOTAL, abs=0.05)
    assert base["completeness"] == pytest.approx(95 / TOTAL, abs=1e-4)
    assert base["facts"]["sun"]["source"] == "pvgis"
    assert base["facts"]["sun"]["label"] == "PVGIS, maille de 0,05°"
    assert base["facts"]["plu_zones"][0]["label"] == "Ux"

    # What each variant changes, and only that.
    changed = {
        "ENV": ("environment", 1 - 0.35, "real"),
        "PLU": ("urbanism", 0.0, "real"),
        "SUN": ("sun", lin(1_200, 1_100, 1_400, 0.5, 1.0), "real"),
        "LOW": ("sun", lin(1_000, 950, 1_100, 0.0, 0.5), "real"),
        "NOENV": ("environment", 0.5, "missing"),
    }
    for name, (key, value, data) in changed.items():
        v = sites[name]["facts"]["breakdown"]
        assert v[key]["value"] == pytest.approx(value, abs=1e-3), (name, v[key])
        assert v[key]["data"] == data, (name, v[key])
        for other in b:
            if other != key:
                assert v[other]["value"] == b[other]["value"], (name, other)
                assert v[other]["data"] == b[other]["data"], (name, other)
        lost = (1.0 - value) * W[key] * 100 / TOTAL
        assert sites[name]["score"] == pytest.approx(base["score"] - lost, abs=0.1), name
    assert "ZNIEFF" in sites["ENV"]["facts"]["breakdown"]["environment"]["reason"]
    assert sites["ENV"]["facts"]["env_zones"][0]["overlap_pct"] == pytest.approx(100, abs=0.01)
    assert "interdit" in sites["PLU"]["facts"]["breakdown"]["urbanism"]["reason"]
    assert sites["NOENV"]["completeness"] == pytest.approx(75 / TOTAL, abs=1e-4)

    # The estimate: a real yield figure, labelled, and not backed by data in the completeness.
    est = sites["ESTIMATE"]
    assert est["facts"]["sun"]["source"] == "estimate"
    assert est["facts"]["sun"]["label"] == "estimation hors ligne"
    assert est["facts"]["breakdown"]["sun"]["data"] == "estimated"
    assert "estimation hors ligne" in est["facts"]["breakdown"]["sun"]["reason"]
    assert est["completeness"] == pytest.approx(80 / TOTAL, abs=1e-4)

    # The ranking follows the scores: BASE first, LOW (the least sun) below SUN.
    ranks = {n: s["rank"] for n, s in sites.items()}
    assert ranks["BASE"] == 1
    assert ranks["SUN"] < ranks["LOW"]
    by_rank = [sites[n]["score"] for n in sorted(sites, key=lambda n: ranks[n])]
    assert by_rank == sorted(by_rank, reverse=True)


async def test_minimum_specific_yield_removes_and_counts(
    layout: None, client: Any, auth_headers: Any, settings: Settings
) -> None:
    h = await auth_headers(Role.OPS)
    out = await _run(client, settings, h, **OPEN)  # the default minimum: 1,100
    counts = out["run"]["counts"]
    assert out["run"]["criteria"]["min_specific_yield"] == 1_100
    assert counts["removed_yield"] == 1 and counts["sites_kept"] == len(NAMES) - 1
    assert "LOW" not in out["sites"]
    assert out["sites"]["SUN"]["facts"]["verdicts"]["yield"] == {
        "verdict": "pass",
        "reason": "Productible 1\u00a0200 kWh/kWc/an ≥ 1\u00a0100 (PVGIS, maille de 0,05°)",
    }
    est = out["sites"]["ESTIMATE"]["facts"]["verdicts"]["yield"]["reason"]
    assert est.endswith("(estimation hors ligne)")
    # A higher minimum removes the sun-poor SUN too, and the estimate's figure is judged too.
    est_yield = out["sites"]["ESTIMATE"]["facts"]["sun"]["specific_yield_kwh_kwc"]
    out = await _run(client, settings, h, **OPEN, min_specific_yield=1_300)
    assert "SUN" not in out["sites"] and "BASE" in out["sites"]
    assert ("ESTIMATE" in out["sites"]) == (est_yield >= 1_300)
    assert out["run"]["counts"]["removed_yield"] == 2 + (est_yield < 1_300)


@pytest.mark.parametrize("bad", [499, 2_001, "beaucoup", -1])
async def test_minimum_yield_out_of_range_is_422(
    layout: None, client: Any, auth_headers: Any, bad: Any
) -> None:
    h = await auth_headers(Role.OPS)
    body = {
        "name": "bad",
        "territory": {"communes": ["04001"]},
        "criteria": {"min_specific_yield": bad},
    }
    r = await client.post("/api/site-searches", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_defaults_list_the_yield_and_the_site_score_criteria(
    client: Any, auth_headers: Any
) -> None:
    h = await auth_headers(Role.OPS)
    r = await client.get("/api/site-searches/defaults", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["criteria"]["min_specific_yield"] == 1_100
    items = r.json()["score_criteria"]
    assert [i["key"] for i in items] == [*W, "terrain"]
    assert {i["key"]: i["weight"] for i in items} == {**W, "terrain": W_TERRAIN}
    assert items[-1]["label"] == "Relief (pente et exposition)"


async def test_only_a_free_neighbour_sets_a_cluster_aside(
    layout: None, client: Any, auth_headers: Any, settings: Settings
) -> None:
    # A neighbour in another chunk that its chunk refuses (PLU A) can't carry a site across:
    # X is assembled in its own chunk, nothing goes to the merge; Z and W (both free) do.
    h = await auth_headers(Role.OPS)
    crit = {
        "min_buildable_ha": 1,
        "max_poste_distance_m": None,
        "min_capacity_mw": None,
        "min_specific_yield": None,  # Z and W lie in LOW's PVGIS cell
    }
    body = {"name": "edges", "territory": {"communes": ["04002", "04003", "04004", "04005"]}}
    r = await client.post("/api/site-searches", json={**body, "criteria": crit}, headers=h)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = await client.post(f"/api/site-searches/{sid}/runs", json={}, headers=h)
    assert r.status_code == 202 and r.json()["progress"]["chunks_total"] == 4, r.text
    run_id = r.json()["id"]
    await drain(settings, 1)
    run = (await client.get(f"/api/site-searches/{sid}/runs/{run_id}", headers=h)).json()
    assert run["status"] == "succeeded", run
    assert run["counts"]["parcels_plu_not_allowed"] == 1  # Y
    assert run["counts"]["parcels_at_chunk_edges"] == 2, run["counts"]  # Z and W only
    r = await client.get(f"/api/site-searches/{sid}/runs/{run_id}/sites", headers=h)
    assert sorted(s["parcel_ids"] for s in r.json()["items"]) == [
        ["04002000AC0001"],
        ["04004000AC0003", "04005000AC0004"],  # one site across the border, from the merge
    ]
