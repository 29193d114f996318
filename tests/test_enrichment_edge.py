"""Bad input for one lead's enrichment: empty reference layers, PVGIS answering HTML or nothing,
a lead without geometry, a lead being enriched already — clear messages, never a 500."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import func, select

from enrichment.engine import LOCK_BASE
from geo.models import ActivityLog, Lead, LeadStatus, LeadTechnical, Role
from tests.conftest import assert_problem
from tests.enrichment_helpers import ewkt, make_lead, pvgis_fixtures, rect

standin, settings = pvgis_fixtures(
    "edge", standin_timeout_s=1.0, pvgis={"retries": 0, "timeout_s": 0.4}
)


async def test_empty_layers_and_pvgis_html(client, state, auth_headers, standin) -> None:
    lead_id = await make_lead(state.sessions, ewkt(rect(0, 0, 300, 300)))
    standin.script.append("html")
    r = await client.post(f"/api/enrichment/{lead_id}", headers=await auth_headers(Role.ADMIN))
    assert r.status_code == 200, r.text
    body = r.json()
    parts = body["parts"]
    assert (
        "Couche des zones protégées (env_zones) vide : pas encore importée"
        in (parts["environment"]["messages"])
    )
    assert (
        "Couche des postes sources (substations) vide : pas encore importée"
        in (parts["grid"]["messages"])
    )
    assert (
        "Couche du zonage PLU (urban_zones) vide : pas encore importée"
        in (parts["urbanism"]["messages"])
    )
    assert (
        "Couche du cadastre (parcels) vide : pas encore importée" in (parts["urbanism"]["messages"])
    )
    assert body["score"]["criteria"]["urbanism"]["reason"] == "PLU inconnu"
    sun = parts["sun"]
    assert sun["partial"] and sun["data"]["source"] == "estimate"
    assert sun["messages"] == [
        "Estimation hors ligne, à ré-enrichir : PVGIS a répondu autre chose que du JSON (text/html)"
    ]
    assert "(estimation hors ligne)" in body["score"]["criteria"]["sun"]["reason"]
    assert 1100 < sun["data"]["specific_yield_kwh_kwc"] < 1300  # 46.5°N, DOMAIN.md's centre
    assert body["enrichment_stale"] is True
    assert body["status"] == "ENRICHED"
    # Only the surface is backed by real data (20 of 100); the sun is an estimate.
    assert body["completeness"] == pytest.approx(0.20)
    assert body["score"]["criteria"]["sun"]["data"] == "estimated"
    # The surface is still measured even without any reference layer.
    assert parts["surface"]["data"]["surface_m2"] == pytest.approx(90_000, rel=0.005)
    async with state.sessions() as session:
        tech = await session.get(LeadTechnical, lead_id)
        assert tech.source == "estimate"


async def test_pvgis_timeout_then_back(client, state, auth_headers, standin) -> None:
    lead_id = await make_lead(state.sessions, ewkt(rect(2000, 0, 2300, 300)))
    headers = await auth_headers(Role.ADMIN)
    standin.script.append("timeout")
    r = await client.post(f"/api/enrichment/{lead_id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["parts"]["sun"]["messages"] == [
        "Estimation hors ligne, à ré-enrichir : PVGIS n'a pas répondu en 0,4 s après 1 tentative"
    ]
    # PVGIS is back: re-enriching replaces the estimate; status stays ENRICHED.
    r = await client.post(f"/api/enrichment/{lead_id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["parts"]["sun"]["data"]["source"] == "pvgis"
    assert r.json()["parts"]["sun"]["partial"] is False
    async with state.sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead.status is LeadStatus.ENRICHED


async def test_lead_without_geometry(client, state, auth_headers) -> None:
    lead_id = await make_lead(state.sessions, "SRID=4326;MULTIPOLYGON EMPTY")
    r = await client.post(f"/api/enrichment/{lead_id}", headers=await auth_headers(Role.ADMIN))
    body = assert_problem(r, 422)
    assert body["detail"] == f"Le lead {lead_id} n'a pas de géométrie à enrichir"
    async with state.sessions() as session:  # nothing half-written
        assert await session.get(LeadTechnical, lead_id) is None
        n = await session.scalar(
            select(func.count())
            .select_from(ActivityLog)
            .where(ActivityLog.lead_id == lead_id, ActivityLog.action == "enrich")
        )
        assert n == 0
        assert (await session.get(Lead, lead_id)).status is LeadStatus.NEW


async def test_lead_being_enriched_is_refused(client, state, auth_headers, settings) -> None:
    lead_id = await make_lead(state.sessions, ewkt(rect(4000, 0, 4300, 300)))
    with psycopg.connect(settings.sync_database_url) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (LOCK_BASE + lead_id,))
        r = await client.post(f"/api/enrichment/{lead_id}", headers=await auth_headers(Role.ADMIN))
        body = assert_problem(r, 409)
        assert body["detail"] == (
            f"Le lead {lead_id} est en cours d'enrichissement, réessayez dans un instant"
        )
