"""One lead's enrichment on PostGIS with known geometries (answers computed with shapely in
Lambert-93), PVGIS from the stand-in; score, economics, transition, activity, idempotence."""

from __future__ import annotations

import json
import math
import re

import pytest
from sqlalchemy import func, select

from geo.models import (
    ActivityLog,
    EnrichmentJob,
    Lead,
    LeadFoncier,
    LeadNetwork,
    LeadStatus,
    Role,
)
from tests.conftest import assert_problem
from tests.enrichment_helpers import (
    add_commune,
    add_parcel,
    add_plu,
    add_poste,
    add_zone,
    ewkt,
    make_lead,
    pt,
    pvgis_fixtures,
    rect,
)
from tests.pvgis_standin import RECORDED, SEA_MESSAGE, latitude_factor

REL = 0.005  # Lambert-93 vs the ellipsoid: < 0.1 % here; 0.5 % leaves room

LEAD_A = rect(0, 0, 500, 300)  # 15 ha
ZNIEFF1_IN = rect(-200, -100, 100, 400)
ZSC_NEAR = rect(1500, 0, 2500, 300)
ZNIEFF1_FAR = rect(3500, 0, 4000, 300)
ZNIEFF2_OUT = rect(6000, 0, 7000, 300)  # beyond 5 km
POSTES = {  # code: (point, available MW)
    "P1": (pt(250 + 1800, 150), 50.0),
    "P2": (pt(250, 150 - 3000), 80.0),
    "P3": (pt(250 - 1000, 150 + 1000), 1.0),
    "P4": (pt(250 + 8000, 150), 100.0),
}
PLU_U = rect(-100, -50, 200, 350)
PLU_A = rect(200, -50, 600, 350)
PARCELS = {
    "03001000AB0001": rect(0, 0, 250, 300),
    "03001000AB0002": rect(250, 0, 500, 300),
    "03001000AB0003": rect(500, 0, 800, 300),  # adjacent: shares an edge only
}
LEAD_B = rect(20_000, 0, 20_300, 300)  # 9 ha, half under an APPB
APPB = rect(19_900, -50, 20_150, 350)
COMMUNE = rect(-10_000, -10_000, 30_000, 10_000)


standin, settings = pvgis_fixtures("enr", pvgis={"retries": 2, "backoff_s": 0.01})


@pytest.fixture(scope="module")
async def world(state) -> dict[str, int]:
    s = state.sessions
    await add_commune(s, "03001", "Testville", COMMUNE)
    await add_zone(s, "znieff1", "Z1IN", ZNIEFF1_IN)
    await add_zone(s, "natura2000_zsc", "ZSC1", ZSC_NEAR)
    await add_zone(s, "znieff1", "Z1FAR", ZNIEFF1_FAR)
    await add_zone(s, "znieff2", "Z2OUT", ZNIEFF2_OUT)
    await add_zone(s, "appb", "APPB1", APPB)
    for code, (geom, avail) in POSTES.items():
        await add_poste(s, code, geom, avail)
    await add_plu(s, "u1", "U", "Ux", PLU_U)
    await add_plu(s, "a1", "A", "A", PLU_A)
    for pid, geom in PARCELS.items():
        await add_parcel(s, pid, geom)
    return {}


async def test_one_lead_enriched_with_right_answers(
    client, state, auth_headers, make_user, world, standin
) -> None:
    ops = await make_user(Role.OPS)
    lead_id = await make_lead(state.sessions, ewkt(LEAD_A), assignee_id=ops.id, user_id=ops.id)
    headers = await auth_headers(user=ops)
    r = await client.post(f"/api/enrichment/{lead_id}", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    parts = body["parts"]
    assert body["status"] == "ENRICHED"

    # Environment: the ZNIEFF I under the lead, 100 m × 300 m = 3 ha = 20 %.
    zones = parts["environment"]["data"]["zones"]
    assert [z["code"] for z in zones] == ["Z1IN"]
    expected = ZNIEFF1_IN.intersection(LEAD_A).area
    assert zones[0]["overlap_m2"] == pytest.approx(expected, rel=REL)
    assert zones[0]["overlap_pct"] == pytest.approx(100 * expected / LEAD_A.area, rel=REL)
    # Nearest of each type within 5 km, not overlapping: ZSC at 1 km, the other ZNIEFF I at 3 km.
    nearby = {n["type"]: n for n in parts["environment"]["data"]["nearby"]}
    assert set(nearby) == {"natura2000_zsc", "znieff1"}
    assert nearby["natura2000_zsc"]["distance_m"] == pytest.approx(
        ZSC_NEAR.distance(LEAD_A), rel=REL
    )
    assert nearby["znieff1"]["code"] == "Z1FAR"
    assert nearby["znieff1"]["distance_m"] == pytest.approx(ZNIEFF1_FAR.distance(LEAD_A), rel=REL)
    assert parts["environment"]["data"]["verdict"] == "penalty"
    # The reason names the zone, its code and its share of the site, in French.
    (reason,) = parts["environment"]["data"]["reasons"]
    m = re.fullmatch(
        r"Pénalité forte \(0,7\) : ZNIEFF de type I « Zone Z1IN » \(Z1IN\) "
        r"recouvre (\d+(?:,\d)?) % du site",
        reason,
    )
    assert m, reason
    assert float(m[1].replace(",", ".")) == pytest.approx(20.0, abs=0.1)
    assert body["score"]["criteria"]["environment"]["reason"] == reason

    # Grid: the 3 nearest postes by exact distance from the centroid, P3 (1.41 km) first.
    centroid = LEAD_A.centroid
    nearest = parts["grid"]["data"]["nearest"]
    want = sorted(POSTES, key=lambda c: POSTES[c][0].distance(centroid))[:3]
    assert [p["code"] for p in nearest] == want == ["P3", "P1", "P2"]
    for p in nearest:
        assert p["distance_m"] == pytest.approx(POSTES[p["code"]][0].distance(centroid), rel=REL)
    # P3 has 1 MW for 10 MWc: the chosen poste is P1, the nearest with capacity.
    grid = parts["grid"]["data"]
    assert grid["installable_mwc"] == pytest.approx(10.0, rel=REL)
    assert grid["chosen"]["code"] == "P1" and grid["capacity_ok"] is True
    assert body["score"]["criteria"]["grid"]["reason"] == (
        "Poste P1 à 1,8 km, 50 MW disponibles pour 10,0 MWc"
    )
    assert set(body["score"]["criteria"]["urbanism"]["reason"].split(" ; ")) == {
        "Zone Ux (U, 40 % du site) : peut autoriser le photovoltaïque au sol",
        "Zone A (A, 60 % du site) : photovoltaïque au sol interdit sans secteur dédié",
    }
    assert body["score"]["criteria"]["owners"]["reason"] == "Propriétaires pas encore renseignés"

    # Urbanism: U on 200 m × 300 m (40 %), A on 300 m × 300 m (60 %); the commune; parcels 1, 2.
    plu = {z["label"]: z for z in parts["urbanism"]["data"]["plu_zones"]}
    assert plu["A"]["share_pct"] == pytest.approx(
        100 * PLU_A.intersection(LEAD_A).area / LEAD_A.area, rel=REL
    )
    assert plu["Ux"]["share_pct"] == pytest.approx(40.0, rel=REL)
    assert [c["insee"] for c in parts["urbanism"]["data"]["communes"]] == ["03001"]
    parcels = parts["urbanism"]["data"]["parcels"]
    assert [p["id"] for p in parcels] == ["03001000AB0001", "03001000AB0002"]
    assert parcels[0]["overlap_m2"] == pytest.approx(250 * 300, rel=REL)
    assert parts["surface"]["data"]["surface_m2"] == pytest.approx(LEAD_A.area, rel=REL)
    assert parts["surface"]["data"]["usable_surface_m2"] == pytest.approx(LEAD_A.area, rel=REL)

    # Sun: the stand-in's figure for the rounded centroid, sent with PVGIS' parameters.
    call = standin.calls[-1]
    assert {
        k: call[k]
        for k in (
            "peakpower",
            "mountingplace",
            "optimalangles",
            "outputformat",
            "pvtechchoice",
            "loss",
        )
    } == {
        "peakpower": "1",
        "mountingplace": "free",
        "optimalangles": "1",
        "outputformat": "json",
        "pvtechchoice": "crystSi",
        "loss": "14.0",
    }
    recorded = json.loads(RECORDED.read_text())
    e_y = recorded["outputs"]["totals"]["fixed"]["E_y"] * latitude_factor(float(call["lat"])) * 1.15
    sun = parts["sun"]["data"]
    assert sun["source"] == "pvgis" and sun["specific_yield_kwh_kwc"] == pytest.approx(
        e_y, abs=0.01
    )
    assert sun["optimal_tilt_deg"] == 35 and len(sun["monthly"]) == 12

    # Economics, from DOMAIN.md's formulas written another way (annuity factors for the LCOE).
    eco = parts["economics"]["data"]
    mwc, mwh = 10.0, 10.0 * e_y
    dist_km = POSTES["P1"][0].distance(centroid) / 1000
    assert eco["capex_eur"] == pytest.approx(mwc * 700_000, rel=REL)
    assert eco["connection_cost_eur"] == pytest.approx(dist_km * 150_000 + 40 * 10_000, rel=REL)
    assert eco["annual_revenue_eur"] == pytest.approx(mwh * 79, rel=REL)
    opex = mwc * 17_500 + 6 * mwh
    rent = 15 * 3000
    assert eco["land_rent_eur_yr"] == pytest.approx(rent, rel=REL)
    invest = mwc * 700_000 + dist_km * 150_000 + 400_000
    assert eco["simple_payback_years"] == pytest.approx(invest / (mwh * 79 - opex - rent), rel=REL)
    r, d, n = 0.05, 0.004, 30
    q = (1 - d) / (1 + r)
    energy = mwh / (1 + r) * (1 - q**n) / (1 - q)
    annuity = (1 - (1 + r) ** -n) / r
    assert eco["lcoe_eur_mwh"] == pytest.approx(
        (invest + (opex + rent) * annuity) / energy, rel=REL
    )
    assert eco["assumptions"]["tariff_eur_per_mwh"] == 79

    # Score: grid 1 (P1 at 1.8 km with capacity), surface 1, environment 1 − 0.7, urbanism
    # 40 % × 1 + 60 % × 0, owners unknown 0.5, sun on the 1,100–1,400 ramp.
    sun_v = 0.5 + 0.5 * (e_y - 1100) / 300 if e_y > 1100 else (e_y - 950) / 300
    sun_v = min(max(sun_v, 0.0), 1.0)
    expected_score = 30 + 20 + 15 * sun_v + 20 * 0.3 + 10 * 0.4 + 5 * 0.5
    assert body["quality_score"] == pytest.approx(expected_score, abs=0.06)
    assert body["completeness"] == pytest.approx(0.95)
    assert body["partial"] == []

    # Stored: status, activity entry, network row, foncier parcels.
    async with state.sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead.status is LeadStatus.ENRICHED and lead.enrichment_stale is False
        assert lead.commune_insee == "03001"
        assert lead.score_breakdown["criteria"]["grid"]["value"] == 1.0
        net = await session.get(LeadNetwork, lead_id)
        assert net.connection_voltage == "HTA"
        fon = await session.get(LeadFoncier, lead_id)
        assert [p["id"] for p in fon.parcels] == ["03001000AB0001", "03001000AB0002"]
        n = await session.scalar(
            select(func.count())
            .select_from(ActivityLog)
            .where(ActivityLog.lead_id == lead_id, ActivityLog.action == "enrich")
        )
        assert n == 1

    # Re-enriching: same figures, served from the PVGIS cache (no new call).
    calls = len(standin.calls)
    again = (await client.post(f"/api/enrichment/{lead_id}", headers=headers)).json()
    assert len(standin.calls) == calls
    for name in ("environment", "grid", "urbanism", "surface", "economics"):
        assert again["parts"][name] == parts[name], name
    assert again["quality_score"] == body["quality_score"]
    assert again["parts"]["sun"]["data"]["specific_yield_kwh_kwc"] == sun["specific_yield_kwh_kwc"]


async def test_hard_exclusion_scores_zero(client, state, auth_headers, world) -> None:
    headers = await auth_headers(Role.MANAGER)
    lead_id = await make_lead(state.sessions, ewkt(LEAD_B))
    r = await client.post(f"/api/enrichment/{lead_id}", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["quality_score"] == 0
    assert body["score"]["excluded"] is True
    (reason,) = body["score"]["exclusion_reasons"]
    m = re.fullmatch(
        r"Exclusion : Arrêté de protection de biotope \(APPB\) « Zone APPB1 » \(APPB1\) "
        r"recouvre (\d+(?:,\d)?) % du site",
        reason,
    )
    assert m, reason
    assert float(m[1].replace(",", ".")) == pytest.approx(50.0, abs=0.3)  # 150 m of 300 m
    assert body["parts"]["environment"]["data"]["reasons"] == [reason]
    env = body["parts"]["environment"]["data"]
    assert env["verdict"] == "exclusion"
    excluded = APPB.intersection(LEAD_B).area
    surf = body["parts"]["surface"]["data"]
    assert surf["excluded_m2"] == pytest.approx(excluded, rel=REL)
    assert surf["usable_surface_m2"] == pytest.approx(LEAD_B.area - excluded, rel=REL)


async def test_lead_outside_france_says_so(client, state, auth_headers, world) -> None:
    headers = await auth_headers(Role.ADMIN)
    # In the Atlantic off Brittany: no commune, PVGIS says "over the sea".
    sea = "SRID=4326;MULTIPOLYGON(((-8 47,-7.99 47,-7.99 47.01,-8 47.01,-8 47)))"
    lead_id = await make_lead(state.sessions, sea)
    r = await client.post(f"/api/enrichment/{lead_id}", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    parts = body["parts"]
    outside = (
        "Site hors de France (aucune commune sous le site) : nos couches n'y contiennent aucune "
        "donnée"
    )
    for name in ("environment", "grid", "urbanism"):
        assert parts[name]["partial"] is True
        assert outside in parts[name]["messages"]
    assert parts["environment"]["data"]["zones"] == [] and parts["grid"]["data"]["nearest"] == []
    assert parts["sun"]["partial"] is True
    # PVGIS' own message, quoted as received after a French lead-in.
    assert parts["sun"]["messages"] == [
        f"PVGIS a refusé le point : « {SEA_MESSAGE} » ; "
        "pas de données d'ensoleillement pour ce point"
    ]
    assert body["score"]["criteria"]["sun"]["reason"] == "Pas de données d'ensoleillement"
    assert body["score"]["criteria"]["urbanism"]["reason"] == "PLU inconnu"
    assert parts["economics"]["messages"] == [
        "Pas de chiffres de production : pas de données d'ensoleillement",
        "Coût de raccordement, LCOE et temps de retour non calculables : données des postes "
        "sources absentes pour cette zone",
    ]
    assert parts["sun"]["data"]["source"] is None
    assert body["enrichment_stale"] is True
    assert body["completeness"] < 0.5


async def test_roles_and_visibility(client, state, auth_headers, make_user, world) -> None:
    lead_id = await make_lead(state.sessions, ewkt(rect(100, 1000, 300, 1200)))
    r = await client.post(f"/api/enrichment/{lead_id}", headers=await auth_headers(Role.COMMERCIAL))
    assert_problem(r, 403)
    r = await client.post(f"/api/enrichment/{lead_id}", headers=await auth_headers(Role.OPS))
    assert_problem(r, 404)  # not assigned to them: not even its existence
    r = await client.post("/api/enrichment/99999999", headers=await auth_headers(Role.ADMIN))
    assert_problem(r, 404)
    r = await client.post(f"/api/enrichment/{lead_id}")
    assert_problem(r, 401)


async def test_ops_enrich_only_the_leads_assigned_to_them(
    client, state, auth_headers, make_user, world
) -> None:
    # The pipeline's rule for every write: an OPS user may read a public lead of someone else
    # but not move it — by a transition or by an enrichment (which moved it NEW → ENRICHED
    # with the OPS user as the actor, and rewrote its score).
    ops, other = await make_user(Role.OPS), await make_user(Role.OPS)
    public = await make_lead(state.sessions, ewkt(rect(100, 2000, 300, 2200)), assignee_id=other.id)
    own = await make_lead(state.sessions, ewkt(rect(400, 2000, 600, 2200)), assignee_id=ops.id)
    async with state.sessions() as s, s.begin():
        (await s.get(Lead, public)).is_public = True
    h = await auth_headers(user=ops)
    assert (await client.get(f"/api/leads/{public}", headers=h)).json()["allowed_transitions"] == []
    move = {"status": "ENRICHED"}
    assert_problem(await client.post(f"/api/leads/{public}/transition", json=move, headers=h), 403)
    assert_problem(await client.post(f"/api/enrichment/{public}", headers=h), 403)
    async with state.sessions() as s:
        lead = await s.get(Lead, public)
        assert (lead.status, lead.quality_score, lead.enriched_at) == (LeadStatus.NEW, None, None)
        actions = await s.scalars(select(ActivityLog.action).where(ActivityLog.lead_id == public))
        assert set(actions) <= {"create"}
    # A batch: given ids must all be theirs; filters select only theirs.
    batch = "/api/enrichment/batch"
    assert_problem(await client.post(batch, json={"lead_ids": [own, public]}, headers=h), 403)
    r = await client.post(batch, json={"filters": {"status": ["NEW"]}}, headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["total"] == 1
    async with state.sessions() as s:
        job = await s.get(EnrichmentJob, r.json()["job_id"])
        assert job.lead_ids == [own]
    # Their own lead they enrich, and the move is theirs.
    r = await client.post(f"/api/enrichment/{own}", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ENRICHED"


def test_degree_radius_covers_the_metres() -> None:
    from enrichment.spatial import degree_radius

    for lat in (41.5, 46.5, 51.0):
        deg = degree_radius(5000, lat)
        assert deg * 111_320 * math.cos(math.radians(lat)) >= 5000
