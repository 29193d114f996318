"""The criteria registry (enrichment/criteria.py): one entry is all a new criterion needs.

A criterion registered in-process flows to the enrichment's score breakdown (its points computed
here from the weights), the stored lead, ``GET /api/reference/criteria`` (which the web ScoreCard
reads) and the dossier's criteria, without any other change.
"""

from __future__ import annotations

import csv
import io

import pytest

from api.settings import ScoreSettings
from enrichment import criteria as cr
from enrichment.score import Criterion
from enrichment.wording import num
from geo.models import Role
from reports.facts import parse_breakdown
from tests.enrichment_helpers import add_commune, add_poste, ewkt, make_lead, pt, rect

SITE = rect(0, 0, 500, 300)  # 15 ha
TARGET_M2 = 200_000.0


def _size(x: cr.ScoreInput) -> Criterion:
    """A test criterion: the site's area against a 20-ha target."""
    ha = x.facts.area_m2 / 10_000
    return Criterion(min(1.0, x.facts.area_m2 / TARGET_M2), f"{num(ha, 1)} ha sur 20 ha visés")


SIZE = cr.CriterionDef(
    key="size",
    label="Taille du site",
    weight=10.0,
    section="surface",
    unit="ha",
    absent="",
    evaluate=_size,
    description="Test criterion.",
)


SLOPE = cr.CriterionDef(
    key="slope",
    label="Pente",
    weight=0.0,  # shown, counted nowhere: the other criteria's points are unchanged
    section="surface",
    unit="%",
    absent="Pente : données absentes pour cette zone",
    evaluate=lambda x: Criterion(0.5, SLOPE.absent, "missing"),
    description="Test criterion without data.",
)


def test_settings_weights_are_the_registry_defaults() -> None:
    """Each weight setting names a criterion and defaults to its registry weight."""
    s = ScoreSettings()
    fields = {k[len("weight_") :] for k in ScoreSettings.model_fields if k.startswith("weight_")}
    assert fields <= set(cr.CRITERIA)
    for key in fields:
        assert getattr(s, f"weight_{key}") == cr.CRITERIA[key].weight


async def test_criteria_endpoint_lists_the_registry(client, auth_headers, make_user) -> None:
    sales = await make_user(Role.COMMERCIAL)  # every role sees the ScoreCard
    r = await client.get("/api/reference/criteria", headers=await auth_headers(user=sales))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    keys = ["grid", "surface", "sun", "environment", "urbanism", "owners"]
    assert [i["key"] for i in items] == keys
    assert items[0]["label"] == "Réseau (distance et capacité)" and items[0]["weight"] == 30.0
    assert items[2]["absent"] == "Pas de données d'ensoleillement"
    r = await client.get("/api/reference/criteria")
    assert r.status_code == 401


async def test_a_registered_criterion_flows_everywhere(
    client, state, auth_headers, make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(cr.CRITERIA, "size", SIZE)
    monkeypatch.setitem(cr.CRITERIA, "slope", SLOPE)
    s = state.sessions
    await add_commune(s, "03001", "Testville", rect(-10_000, -10_000, 10_000, 10_000))
    await add_poste(s, "P1", pt(250 + 1800, 150), 50.0)
    ops = await make_user(Role.OPS)
    lead_id = await make_lead(s, ewkt(SITE), assignee_id=ops.id, user_id=ops.id)
    headers = await auth_headers(user=ops)

    r = await client.post(f"/api/enrichment/{lead_id}", headers=headers)
    assert r.status_code == 200, r.text
    score = r.json()["score"]
    crits = score["criteria"]
    assert list(crits) == list(cr.CRITERIA)  # the registry's order: size and slope last
    assert list(crits)[-2:] == ["size", "slope"]
    assert crits["slope"] == {
        "value": 0.5,
        "weight": 0.0,
        "points": 0.0,
        "reason": "Pente : données absentes pour cette zone",
        "data": "missing",
    }
    size = crits["size"]
    total_w = 30 + 20 + 15 + 20 + 10 + 5 + 10
    value = SITE.area / TARGET_M2  # shapely, Lambert-93 (≈ the geodesic area here)
    assert size["value"] == pytest.approx(value, rel=0.005)
    assert size["weight"] == 10.0 and size["data"] == "real"
    assert size["points"] == pytest.approx(value * 10 * 100 / total_w, rel=0.005)
    assert size["reason"] == "15,0 ha sur 20 ha visés"
    assert score["weights"]["size"] == 10.0
    # Every other criterion now shares the score with it: points = value × weight / 110.
    for c in crits.values():
        assert c["points"] == pytest.approx(c["value"] * c["weight"] * 100 / total_w, abs=0.01)
    assert score["score"] == pytest.approx(sum(c["points"] for c in crits.values()), abs=0.1)

    r = await client.get(f"/api/leads/{lead_id}", headers=headers)
    assert r.status_code == 200, r.text
    stored = r.json()["score_breakdown"]
    assert stored["criteria"]["size"] == size

    r = await client.get("/api/reference/criteria", headers=headers)
    size_info = r.json()["items"][-2]
    assert (size_info["key"], size_info["label"], size_info["weight"]) == (
        "size",
        "Taille du site",
        10.0,
    )
    assert r.json()["items"][-1]["absent"] == SLOPE.absent

    # The dossier: its criteria in the registry's order with their labels (JSONB reorders keys).
    rows, exclusion = parse_breakdown(stored)
    assert exclusion is None
    assert [(c.key, c.label) for c in rows][-2:] == [("size", "Taille du site"), ("slope", "Pente")]
    assert rows[0].label == "Réseau (distance et capacité)"

    # The export's "données absentes" column carries the new criterion's wording.
    r = await client.get("/api/leads/export.csv", headers=headers)
    assert r.status_code == 200, r.text
    rows_csv = {row["id"]: row for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
    assert SLOPE.absent in rows_csv[str(lead_id)]["missing_data"].split(" ; ")
