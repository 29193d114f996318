"""List totals: a ``count(*)`` cached per (filters, viewer scope) on the leads-layer version.

The total must be exact after every kind of lead write through the API (creation, move in the
pipeline, assignment, edit, archive), for every role and several filter shapes, and a count
cached before a write is never served after it: checked against the page's own items (every
matching lead fits in one page here). The cache must also serve a repeated page without
counting again while nothing was written.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from api.services.leads_query import LeadFilters
from api.state import AppState
from tests.lead_fixtures import mark_enriched, square

SHAPES: list[dict[str, Any]] = [
    {},
    {"status": ["NEW"]},
    {"status": ["NEW", "ENRICHED", "SOLD"]},
    {"status": ["ARCHIVED"]},
    {"department": "69"},
    {"department": "01", "status": ["NEW"]},
    {"q": "Comptage"},
]


async def _check_totals(client: Any, people: dict[str, Any]) -> set[int]:
    """Every role × shape: total == the matching items (all on one page); the totals seen."""
    totals = set()
    for (_user, headers), shape in itertools.product(people.values(), SHAPES):
        r = await client.get("/api/leads", params={**shape, "page_size": 200}, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["total"] == len(page["items"]) < 200, shape
        totals.add(page["total"])
    return totals


@pytest.fixture
async def made(client: Any, people: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i in range(6):
        body = {
            "geometry": square(4.8 + i * 0.01, 45.6),
            "name": f"Comptage {i}",
            "commune_insee": "69114" if i % 2 else "01053",
            "is_public": i % 3 == 0,
            # Made again for each test, at the same spots: declared duplicates.
            "allow_duplicate": True,
            "duplicate_reason": "test",
        }
        r = await client.post("/api/leads", json=body, headers=people["manager"][1])
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


async def test_totals_follow_every_write(
    client: Any, people: dict[str, Any], made: list[dict[str, Any]], db_url: str
) -> None:
    admin, manager = people["admin"][1], people["manager"][1]
    seen = await _check_totals(client, people)
    first, second, third = made[0], made[1], made[2]
    mark_enriched(db_url, first["id"])  # ENRICHED needs an enrichment
    # A move in the pipeline (status), an assignment (OPS visibility), an edit (search text),
    # an archive (leaves the default list), a creation.
    r = await client.post(
        f"/api/leads/{first['id']}/transition", json={"status": "ENRICHED"}, headers=manager
    )
    assert r.status_code == 200, r.text
    seen |= await _check_totals(client, people)
    r = await client.post(
        f"/api/leads/{second['id']}/assign",
        json={"assignee_id": people["ops"][0].id},
        headers=manager,
    )
    assert r.status_code == 200, r.text
    seen |= await _check_totals(client, people)
    r = await client.patch(f"/api/leads/{third['id']}", json={"name": "Autre"}, headers=manager)
    assert r.status_code == 200, r.text
    seen |= await _check_totals(client, people)
    assert (await client.delete(f"/api/leads/{first['id']}", headers=admin)).status_code == 204
    seen |= await _check_totals(client, people)
    r = await client.post(
        "/api/leads",
        json={"geometry": square(4.95, 45.65), "name": "Comptage 9", "commune_insee": "69114"},
        headers=manager,
    )
    assert r.status_code == 201, r.text
    seen |= await _check_totals(client, people)
    # The matrix has teeth: many different totals, empty ones included.
    assert 0 in seen and len(seen) >= 5


async def test_a_repeated_page_reuses_its_count(
    client: Any, people: dict[str, Any], state: AppState, made: list[dict[str, Any]]
) -> None:
    """While nothing is written the total is counted once per (filters, scope); a write counts
    it again."""
    h = people["manager"][1]
    params = {"department": "69", "q": "Comptage"}
    first = (await client.get("/api/leads", params=params, headers=h)).json()["total"]
    key = ("count", LeadFilters(department="69", q="Comptage").key(), "all")
    cached = await state.analytics.peek(key)
    assert cached is not None and cached[1] == first
    # A marker in its place, at the same version: the next page shows it, so it was not counted.
    await state.analytics.put(key, cached[0], 123456)
    again = (await client.get("/api/leads", params=params, headers=h)).json()["total"]
    assert again == 123456
    r = await client.post(
        "/api/leads",
        json={"geometry": square(4.97, 45.66), "name": "Comptage 10", "commune_insee": "69114"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    after = (await client.get("/api/leads", params=params, headers=h)).json()["total"]
    assert after == first + 1
