"""The demo commune 69114 with the site finder's DEFAULT criteria (issue 17, "Done when").

The demo data of a fresh ``make run`` (``geo.importers.demo.load_demo`` over data/: the real
cadastre and postes, the synthetic PLU of data/generate_synthetic.py) are loaded once; a search
over 69114 that leaves every criterion to its default must keep ranked candidates with their
reasons, and three of them must become leads in one request, with their enrichment queued.

The independent answer for the sites: data/generate_synthetic.py cuts three sectors (Ui, Aenr,
Npv; 6.6–9.2 ha) out of agricultural sections within 4.8 km of AMPÈRE (8.9 MW available), so
each is a site between the 5 ha minimum and what AMPÈRE takes (8.9 MW × 1.5 ha/MWc = 13.35 ha).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from api.schemas.site_searches import CriteriaIn
from api.settings import PROJECT_ROOT, Settings
from geo.importers.demo import load_demo
from geo.models import Role
from tests.test_site_finder import drain

# The demo PLU's sectors near AMPÈRE, as data/generate_synthetic.py writes them.
SECTORS = {"Ui", "Aenr", "Npv"}


@pytest.fixture(scope="module")
async def demo(state: Any) -> None:
    """The demo dataset, as `leadfactory demo` loads it."""
    await load_demo(state.sessions, PROJECT_ROOT / "data")


async def _sector_of(state: Any, parcel_ids: list[str]) -> set[str]:
    """The PLU labels under the site's parcels (by a point on each parcel's surface)."""
    async with state.sessions() as session:
        rows = await session.scalars(
            text(
                "SELECT DISTINCT z.label FROM parcels p JOIN urban_zones z "
                "ON ST_Intersects(z.geom, ST_PointOnSurface(p.geom)) WHERE p.id = ANY(:ids)"
            ),
            {"ids": parcel_ids},
        )
        return set(rows)


async def test_69114_default_criteria_give_ranked_candidates_that_become_leads(
    demo: None, client: Any, auth_headers: Any, settings: Settings, state: Any
) -> None:
    h = await auth_headers(Role.OPS)
    body = {"name": "69114 par défaut", "territory": {"communes": ["69114"]}}
    r = await client.post("/api/site-searches", json=body, headers=h)
    assert r.status_code == 201, r.text
    search = r.json()
    assert search["criteria"] == CriteriaIn().model_dump(mode="json")  # nothing but defaults
    r = await client.post(f"/api/site-searches/{search['id']}/runs", json={}, headers=h)
    assert r.status_code == 202, r.text
    run_url = f"/api/site-searches/{search['id']}/runs/{r.json()['id']}"
    await drain(settings)
    run = (await client.get(run_url, headers=h)).json()
    assert run["status"] == "succeeded", run
    counts = run["counts"]
    assert counts["parcels_scanned"] == 6032
    assert counts["sites_kept"] >= 3, counts

    r = await client.get(f"{run_url}/sites?page_size=200", headers=h)
    assert r.status_code == 200, r.text
    sites = r.json()["items"]
    assert len(sites) == counts["sites_kept"]
    assert [s["rank"] for s in sites] == list(range(1, len(sites) + 1))
    scores = [s["score"] for s in sites]
    assert scores == sorted(scores, reverse=True) and all(0 < x <= 100 for x in scores)
    for s in sites:
        ha = s["buildable_m2"] / 10_000
        assert 5.0 <= ha <= 8.9 * 1.5, s  # the default minimum; what AMPÈRE's 8.9 MW take
        verdicts = s["facts"]["verdicts"]
        assert verdicts["plu"]["verdict"] == "pass" and verdicts["plu"]["reason"]
        assert verdicts["poste"]["verdict"] == "pass", verdicts["poste"]
        assert verdicts["poste"]["reason"].startswith("Poste AMP"), verdicts["poste"]
        assert s["facts"]["chosen_poste"]["capacity_available_mw"] == 8.9
        breakdown = s["facts"]["breakdown"]
        rows = breakdown.values() if isinstance(breakdown, dict) else breakdown
        assert rows and all(b["reason"] for b in rows), breakdown
    # The three sectors of the synthetic PLU, one site each.
    labels = [await _sector_of(state, s["parcel_ids"]) for s in sites[:3]]
    assert sorted(x for ls in labels for x in ls) == sorted(SECTORS), labels

    r = await client.post(f"{run_url}/leads", json={"ranks": [1, 2, 3]}, headers=h)
    assert r.status_code == 201, r.text
    made = r.json()
    assert [c["rank"] for c in made["created"]] == [1, 2, 3] and made["skipped"] == []
    job = await client.get(f"/api/enrichment/jobs/{made['enrichment_job_id']}", headers=h)
    assert job.status_code == 200 and job.json()["total"] == 3
    for c in made["created"]:
        lead = (await client.get(f"/api/leads/{c['lead_id']}", headers=h)).json()
        assert "surface constructible min. 5 ha" in lead["notes"]
        assert "Npv" in lead["notes"] and "Ui" in lead["notes"]  # the PLU default, by label
