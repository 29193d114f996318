"""End to end with the real enrichment engine: a raw lead on 20 real parcels is enriched through
the API (PVGIS stand-in on 127.0.0.1), then its dossier and workbook show what the engine stored."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from geo.models import LeadStatus, LeadTechnical, Role
from tests.dossier_factory import seed_site
from tests.enrichment_helpers import pvgis_fixtures

ARTIFACTS = Path("/tmp/lfs-dossier")


standin, settings = pvgis_fixtures("lfs", pvgis={"retries": 1})


def text_of(data: bytes) -> str:
    pages = PdfReader(io.BytesIO(data)).pages
    return re.sub(r"[\s\u00a0]+", " ", " ".join(p.extract_text() or "" for p in pages))


async def test_dossier_of_a_lead_enriched_by_the_engine(client, state, make_user, auth_headers):
    ops = await make_user(Role.OPS)
    async with state.sessions() as s:
        lead_id = await seed_site(
            s,
            state.cipher,
            enriched=False,
            status=LeadStatus.NEW,
            assignee_id=ops.id,
            name="Site enrichi par le moteur",
        )
    headers = await auth_headers(user=ops)
    r = await client.post(f"/api/enrichment/{lead_id}", headers=headers)
    assert r.status_code == 200, r.text
    async with state.sessions() as s:
        tech = await s.get(LeadTechnical, lead_id)
        assert tech.source == "pvgis" and tech.monthly
        mwh = tech.annual_production_mwh
    r = await client.post(f"/api/leads/{lead_id}/generate-pdf", headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    pdf = await client.get(body["download_url"], headers=headers)
    text = text_of(pdf.content)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "enriched.pdf").write_bytes(pdf.content)
    # What the engine computed is shown, not reported missing.
    assert "production solaire (PVGIS) non calculée" not in text
    assert "Production mensuelle non disponible" not in text
    assert "source : PVGIS (JRC)" in text
    assert "Score non calculé" not in text
    assert "Analyse réseau non réalisée" not in text
    assert "Pont-de-l'Arche" in text  # nearest poste found by the engine's spatial join
    assert "ZNIEFF type II" in text  # the zone overlapping the site, labelled by type
    assert "Réseau (distance et capacité)" in text  # the engine's criteria, French labels
    # ... with the engine's French reasons: the chosen poste (Pont-de-l'Arche is nearer but has
    # too little capacity) with its distance and capacity, the ZNIEFF with its share of the site.
    assert re.search(r"Poste Val-de-Reuil à \d,\d km, 31 MW disponibles pour \d+,\d MWc", text)
    assert re.search(
        r"Pénalité modérée \(0,35\) : ZNIEFF de type II « [^»]+ » \(\w+\) recouvre", text
    )
    assert re.search(r"Productible \d \d{3} kWh/kWc/an \(PVGIS\)", text)
    # The annual production printed on the cover and in the technical table.
    assert f"{mwh:,.0f}".replace(",", " ") in text
    # Workbook: the monthly sheet adds up to the engine's annual figure.
    wb = load_workbook(
        io.BytesIO(
            (await client.get(f"/api/leads/{lead_id}/export.xlsx", headers=headers)).content
        ),
        read_only=True,
    )
    monthly = [r[1] for r in wb["Production mensuelle"].iter_rows(min_row=2, values_only=True)]
    assert sum(monthly) == pytest.approx(mwh, rel=0.02)
