"""The PDF dossier: content (pypdf text), page count, annexes, owners absent for buyers, the
summary source, a never-enriched lead, and the Excel workbook of a lead."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from geo.models import LeadStatus, Role
from tests.conftest import assert_problem
from tests.dossier_factory import OWNERS, geodesic_area, pick_parcels, seed_site

ARTIFACTS = Path("/tmp/lfs-dossier")


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(p.extract_text() or "" for p in reader.pages)
    return re.sub(r"[\s\u00a0]+", " ", text)


def fr(v: float, digits: int = 0) -> str:
    """French formatting computed independently of reports.fmt (space thousands, comma)."""
    s = f"{v:,.{digits}f}".replace(",", " ").replace(".", ",")
    return s


def small_pdf(pages: int, label: str) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    for i in range(pages):
        c.drawString(100, 700, f"{label} page {i + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 200), (46, 139, 87)).save(buf, format="PNG")
    return buf.getvalue()


async def upload(client, headers, lead_id, name, data, category="other"):
    r = await client.post(
        f"/api/leads/{lead_id}/documents",
        headers=headers,
        files={"file": (name, data)},
        data={"category": category},
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
async def manager(make_user):
    return await make_user(Role.MANAGER)


@pytest.fixture(scope="module")
async def mgr_headers(auth_headers, manager):
    return await auth_headers(user=manager)


@pytest.fixture(scope="module")
async def site_id(state, manager):
    async with state.sessions() as s:
        return await seed_site(s, state.cipher, status=LeadStatus.CLIENT_READY)


async def generate(client, headers, lead_id, **params):
    r = await client.post(f"/api/leads/{lead_id}/generate-pdf", headers=headers, params=params)
    assert r.status_code == 201, r.text
    body = r.json()
    pdf = await client.get(body["download_url"], headers=headers)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    return body, pdf.content


async def test_dossier_content_and_annexes(client, mgr_headers, site_id):
    await upload(
        client,
        mgr_headers,
        site_id,
        "etude-raccordement.pdf",
        small_pdf(2, "ANNEXE-UN"),
        "grid_study",
    )
    await upload(
        client, mgr_headers, site_id, "extrait-plu.pdf", small_pdf(1, "ANNEXE-DEUX"), "plu_extract"
    )
    await upload(client, mgr_headers, site_id, "photo-site.png", png_bytes(), "photo")
    # Passes the magic-byte check but is broken: skipped with a note, not a crash.
    await upload(
        client,
        mgr_headers,
        site_id,
        "promesse-corrompue.pdf",
        b"%PDF-1.4\n1 0 obj <</Type /Catalog>> garbage\n",
        "signed_promise",
    )
    body, data = await generate(client, mgr_headers, site_id)
    assert body["summary_source"] == "template"
    assert body["audience"] == "internal"
    assert any("promesse-corrompue.pdf" in n for n in body["notes"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "internal.pdf").write_bytes(data)
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == body["pages"]
    # The two PDF annexes are the last three pages, in upload order.
    tail = [reader.pages[i].extract_text() for i in range(-3, 0)]
    assert "ANNEXE-UN page 1" in tail[0] and "ANNEXE-UN page 2" in tail[1]
    assert "ANNEXE-DEUX page 1" in tail[2]
    text = pdf_text(data)
    for title in (
        "1. Synthèse",
        "2. Cartographie",
        "3. Production et économie",
        "4. Données détaillées",
        "5. Annexes",
        "Parcelles",
        "Propriétaires",
        "Contraintes réglementaires",
        "Raccordement au réseau",
        "Hypothèses utilisées",
    ):
        assert title in text, title
    assert "Terres de Bord — Les Longs Champs" in text
    # The surface on the cover: 20 real parcels, area on the ellipsoid computed by pyproj.
    feats = pick_parcels(20)
    from shapely.geometry import shape
    from shapely.ops import unary_union

    area_ha = geodesic_area(unary_union([shape(f["geometry"]) for f in feats])) / 10_000
    assert fr(area_ha, 1) in text
    for f in feats:
        assert f["properties"]["id"] in text
    assert "Pont-de-l'Arche" in text and "ZNIEFF type II" in text
    # The engine's French reasons, shown as stored (score breakdown, regulatory reasons).
    assert "Poste Pont-de-l'Arche à 3,4 km, 18,4 MW disponibles pour" in text
    assert "Pénalité modérée (0,35) : ZNIEFF de type II «" in text
    assert "Base du loyer surface mesurée" in text
    assert "promesse-corrompue.pdf" in text and "ignorée" in text
    assert "photo-site.png" in text
    # Owners are in the internal version.
    assert OWNERS[0]["name"] in text and OWNERS[0]["contact"] in text
    assert "Données manquantes" not in text
    # Render the synthesis page to PNG for a human look.
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "4",
            str(ARTIFACTS / "internal.pdf"),
            str(ARTIFACTS / "page"),
        ],
        check=True,
    )


async def test_commercial_version_has_no_owner_data(client, auth_headers, mgr_headers, site_id):
    deed = small_pdf(1, f"ACTE-NOTARIE {OWNERS[0]['name']}")
    await upload(client, mgr_headers, site_id, "acte.pdf", deed, "title_deed")
    await upload(
        client, mgr_headers, site_id, "etude-com.pdf", small_pdf(1, "ANNEXE-COM"), "grid_study"
    )
    headers = await auth_headers(Role.COMMERCIAL)
    body, data = await generate(client, headers, site_id, audience="internal")
    assert body["audience"] == "commercial"  # forced for buyers
    text = pdf_text(data)
    raw = data.decode("latin-1")
    for o in OWNERS:
        for part in (o["name"], o["contact"], o["address"].split(",")[0]):
            assert part not in text
            assert part not in raw
    assert "omises" in text
    # Annexes without personal data are there; the deed and the signed promise are not.
    assert "ANNEXE-COM page 1" in text and "ACTE-NOTARIE" not in text
    assert "acte.pdf" not in text and "promesse-corrompue.pdf" not in text
    # The buyer can't list or download documents naming the owners, nor internal dossiers.
    listed = (await client.get(f"/api/leads/{site_id}/documents", headers=headers)).json()
    cats = {d["category"] for d in listed["items"]}
    assert "title_deed" not in cats and "signed_promise" not in cats
    dossiers = [d["filename"] for d in listed["items"] if d["category"] == "dossier"]
    assert dossiers and all(f.endswith("-commercial.pdf") for f in dossiers)
    everything = (await client.get(f"/api/leads/{site_id}/documents", headers=mgr_headers)).json()
    hidden = [d for d in everything["items"] if d["id"] not in {x["id"] for x in listed["items"]}]
    assert "title_deed" in {d["category"] for d in hidden}
    assert {d["category"] for d in hidden} <= {"title_deed", "signed_promise", "dossier"}
    for d in hidden:
        assert_problem(await client.get(d["download_url"], headers=headers), 404)
    # Nor see them in the lead detail.
    detail = (await client.get(f"/api/leads/{site_id}", headers=headers)).json()
    assert {d["id"] for d in detail["documents"]} == {x["id"] for x in listed["items"]}


async def test_manager_can_ask_for_the_commercial_version(client, mgr_headers, site_id):
    body, data = await generate(client, mgr_headers, site_id, audience="commercial")
    assert body["audience"] == "commercial"
    assert OWNERS[1]["name"] not in pdf_text(data)
    listed = await client.get(
        f"/api/leads/{site_id}/documents", headers=mgr_headers, params={"category": "dossier"}
    )
    assert body["document_id"] in [d["id"] for d in listed.json()["items"]]


async def test_never_enriched_lead_says_what_is_missing(client, state, mgr_headers):
    async with state.sessions() as s:
        lead_id = await seed_site(
            s, state.cipher, enriched=False, n_parcels=3, name="Site brut non enrichi"
        )
    body, data = await generate(client, mgr_headers, lead_id)
    text = pdf_text(data)
    assert "Site brut non enrichi" in text
    assert "Données manquantes" in text
    assert "production solaire (PVGIS) non calculée" in text
    assert "Score non calculé" in text
    assert "Analyse économique non réalisée" in text
    # No made-up zeros for the headline figures: "n.d." instead.
    assert "n.d." in text
    assert not re.search(r"\b0 MWh/an\b", text)
    assert any("PVGIS" in n for n in body["notes"])


async def test_invisible_lead_is_404(client, auth_headers, state):
    async with state.sessions() as s:
        lead_id = await seed_site(
            s, state.cipher, enriched=False, n_parcels=2, status=LeadStatus.NEW
        )
    ops = await auth_headers(Role.OPS)
    assert_problem(await client.post(f"/api/leads/{lead_id}/generate-pdf", headers=ops), 404)
    assert_problem(await client.get(f"/api/leads/{lead_id}/export.xlsx", headers=ops), 404)


async def test_lead_workbook(client, mgr_headers, auth_headers, site_id):
    r = await client.get(f"/api/leads/{site_id}/export.xlsx", headers=mgr_headers)
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    assert zipfile.is_zipfile(io.BytesIO(r.content))
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    for sheet in (
        "Lead",
        "Technique",
        "Production mensuelle",
        "Réglementaire",
        "Zones protégées",
        "Réseau",
        "Postes sources",
        "Foncier",
        "Parcelles",
        "Propriétaires",
        "Économie",
        "Hypothèses",
        "Score",
        "Documents",
        "Activité",
    ):
        assert sheet in wb.sheetnames, sheet
    parcels = list(wb["Parcelles"].iter_rows(values_only=True))
    assert len(parcels) == 1 + 20
    owners = [r[0] for r in wb["Propriétaires"].iter_rows(min_row=2, values_only=True)]
    assert owners == [o["name"] for o in OWNERS]
    monthly = [r[1] for r in wb["Production mensuelle"].iter_rows(min_row=2, values_only=True)]
    tech = dict(wb["Technique"].iter_rows(min_row=2, values_only=True))
    assert sum(monthly) == pytest.approx(tech["annual_production_mwh"], rel=0.02)
    buyer = await auth_headers(Role.COMMERCIAL)
    r = await client.get(f"/api/leads/{site_id}/export.xlsx", headers=buyer)
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    assert "Propriétaires" not in wb.sheetnames
    assert OWNERS[0]["name"].encode() not in r.content


def test_breakdown_shapes_are_read_tolerantly():
    from reports.facts import parse_breakdown

    # enrichment.score's shape, with a hard exclusion.
    crit, exc = parse_breakdown(
        {
            "score": 0.0,
            "excluded": True,
            "exclusion_reasons": [
                "Exclusion : Arrêté de protection de biotope (APPB) « Marais du Hode » "
                "(FR3800123) recouvre 42 % du site"
            ],
            "criteria": {
                "grid": {"value": 0.5, "weight": 30, "points": 15, "reason": "r", "data": "real"}
            },
        }
    )
    # The dossier prints it after its own "Exclusion :" label: the word is not repeated.
    assert exc == (
        "Arrêté de protection de biotope (APPB) « Marais du Hode » (FR3800123) "
        "recouvre 42 % du site"
    )
    assert (crit[0].key, crit[0].score, crit[0].points, crit[0].data) == ("grid", 0.5, 15, "real")
    # A list with percentages and no points: points = score × weight.
    crit, exc = parse_breakdown([{"criterion": "sun", "score": 80, "weight": 15, "reason": "ok"}])
    assert exc is None and crit[0].score == 0.8 and crit[0].points == pytest.approx(12.0)
    assert parse_breakdown(None) == ([], None)


def test_monthly_units_are_recognised():
    from reports.facts import monthly_mwh

    per_kwc = [{"month": m, "e_m_kwh_kwc": 100.0} for m in range(1, 13)]  # 1,200 kWh/kWc
    tech = {
        "monthly": per_kwc,
        "installable_mwc": 10.0,
        "annual_production_mwh": 12_000.0,
        "specific_yield_kwh_kwc": 1200.0,
    }
    assert monthly_mwh(tech) == [1000.0] * 12  # 100 kWh/kWc × 10 MWc = 1,000 MWh
    plant_kwh = [{"month": m, "E_m": 1_000_000.0} for m in range(1, 13)]
    assert monthly_mwh({**tech, "monthly": plant_kwh}) == [1000.0] * 12
    assert monthly_mwh({**tech, "monthly": per_kwc[:11]}) is None  # incomplete: not drawn
    assert monthly_mwh({"monthly": None}) is None


async def test_concurrent_generations_all_succeed(client, mgr_headers, state):
    import asyncio

    async with state.sessions() as s:
        lead_id = await seed_site(s, state.cipher, n_parcels=4, name="Site concurrent")
    rs = await asyncio.gather(
        *[client.post(f"/api/leads/{lead_id}/generate-pdf", headers=mgr_headers) for _ in range(3)]
    )
    assert [r.status_code for r in rs] == [201, 201, 201]
    assert len({r.json()["document_id"] for r in rs}) == 3
