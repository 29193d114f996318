"""Enrichment inside, outside and straddling each layer's coverage, and the poste radius.

The reference files go through the real importer (so coverage is recorded as in production);
shapes are drawn in Lambert-93 metres (tests/enrichment_helpers.py) and the covered shares are
computed with shapely, independently of PostGIS.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pypdf import PdfReader
from shapely.geometry import mapping

from geo.models import Role
from tests.enrichment_helpers import TO_WGS84, ewkt, lonlat, make_lead, pt, pvgis_fixtures, rect
from tests.importing import run_import

C1 = rect(0, 0, 4000, 4000)
C2 = rect(4000, 0, 8000, 4000)
C3 = rect(0, 60_000, 4000, 64_000)  # 58 km north of the only poste
ZNIEFF = rect(1000, 1000, 1500, 1500)
POSTE = pt(2000, 3500)
LEAD_IN = rect(500, 500, 1500, 1300)
LEAD_OUT = rect(5000, 500, 6000, 1300)
LEAD_STRADDLE = rect(3400, 500, 4400, 1300)
LEAD_FAR = rect(1000, 61_000, 2000, 61_800)
ABSENT = "données absentes pour cette zone"


def _wgs84(g: Any) -> dict[str, Any]:
    return mapping(
        shapely.transform(
            g.segmentize(50.0),
            lambda c: np.column_stack(TO_WGS84.transform(c[:, 0], c[:, 1])),
        )
    )


def _geojson(path: Path, features: list[tuple[Any, dict[str, Any]]]) -> Path:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": _wgs84(g), "properties": props} for g, props in features
        ],
    }
    path.write_text(json.dumps(doc))
    return path


standin, settings = pvgis_fixtures("cov", pvgis={"retries": 2, "backoff_s": 0.01})


@pytest.fixture(scope="module")
async def world(state, tmp_path_factory) -> dict[str, int]:
    d = tmp_path_factory.mktemp("files")
    communes = [(C1, {"code": "03001", "nom": "Un"}), (C2, {"code": "03002", "nom": "Deux"})]
    communes.append((C3, {"code": "03003", "nom": "Trois"}))
    await run_import(state, "communes", _geojson(d / "communes.geojson", communes))
    # Protected zones: an inventory complete in C1 only (declared).
    zones = _geojson(d / "znieff1.geojson", [(ZNIEFF, {"code": "Z1", "nom": "Zone Z1"})])
    c1 = _geojson(d / "c1.geojson", [(C1, {})])
    await run_import(state, "env-zones", zones, zone_type="znieff1", coverage_file=c1)
    # PLU of 03001 only: covers that commune (derived from the file).
    plu = [(C1, {"libelle": "Ux", "typezone": "U", "insee": "03001", "gid": 1})]
    await run_import(state, "urban-zones", _geojson(d / "plu.geojson", plu))
    # One poste, its list complete in C1 and in a wide area around C3 (declared).
    lon, lat = lonlat(POSTE)
    postes = d / "postes.csv"
    with postes.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "lon", "lat", "INFO_CR", "INFO_NA", "INFO_QP"])
        w.writerow(["P1", "Poste Un", lon, lat, 100, 80, 40])
    wide = rect(-30_000, 40_000, 30_000, 90_000)
    area = _geojson(d / "postes-area.geojson", [(C1, {}), (wide, {})])
    await run_import(state, "substations", postes, coverage_file=area)
    s = state.sessions
    return {
        name: await make_lead(s, ewkt(g))
        for name, g in {
            "in": LEAD_IN,
            "out": LEAD_OUT,
            "straddle": LEAD_STRADDLE,
            "far": LEAD_FAR,
        }.items()
    }


async def _enrich(client, auth_headers, lead_id: int) -> dict[str, Any]:
    r = await client.post(f"/api/enrichment/{lead_id}", headers=await auth_headers(Role.ADMIN))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _criteria(body: dict[str, Any]) -> dict[str, str]:
    return {k: v["data"] for k, v in body["score"]["criteria"].items()}


async def test_inside_every_coverage(client, auth_headers, world) -> None:
    body = await _enrich(client, auth_headers, world["in"])
    parts = body["parts"]
    assert [z["code"] for z in parts["environment"]["data"]["zones"]] == ["Z1"]
    assert parts["environment"]["data"]["coverage"] == {"status": "covered", "covered_pct": 100.0}
    assert parts["grid"]["data"]["chosen"]["code"] == "P1"
    assert parts["economics"]["data"]["connection_cost_eur"] > 0
    assert parts["economics"]["data"]["lcoe_eur_mwh"] > 0
    crit = _criteria(body)
    assert crit == {k: "real" for k in crit} | {"owners": "missing"}
    assert body["score"]["completeness"] == pytest.approx(0.95)  # all but owners (5)
    assert ABSENT not in json.dumps(body, ensure_ascii=False)


async def test_outside_every_coverage(client, auth_headers, world) -> None:
    body = await _enrich(client, auth_headers, world["out"])
    parts, crit = body["parts"], body["score"]["criteria"]
    assert "Zones protégées : données absentes pour cette zone" in parts["environment"]["messages"]
    assert parts["environment"]["data"]["zones"] == []
    assert crit["environment"]["data"] == "missing"
    assert crit["environment"]["reason"] == "Zones protégées : données absentes pour cette zone"
    assert parts["grid"]["data"]["nearest"] == [] and parts["grid"]["data"]["chosen"] is None
    assert crit["grid"]["reason"] == "Postes sources : données absentes pour cette zone"
    assert crit["urbanism"]["reason"] == "Zonage PLU : données absentes pour cette zone"
    assert crit["grid"]["data"] == crit["urbanism"]["data"] == "missing"
    eco = parts["economics"]["data"]
    assert eco["connection_cost_eur"] is None
    assert eco["lcoe_eur_mwh"] is None and eco["simple_payback_years"] is None
    assert eco["capex_eur"] > 0  # what does not depend on the grid is still computed
    assert parts["economics"]["messages"][-1] == (
        "Coût de raccordement, LCOE et temps de retour non calculables : données des postes "
        "sources absentes pour cette zone"
    )
    # Only surface (20) and sun (15) rest on real data.
    assert body["score"]["completeness"] == pytest.approx(0.35)
    text = json.dumps(body, ensure_ascii=False)
    assert "Aucune zone protégée" not in text and "RNU" not in text


async def test_straddling_the_edge_says_which_part(client, auth_headers, world) -> None:
    body = await _enrich(client, auth_headers, world["straddle"])
    parts = body["parts"]
    share = 100 * LEAD_STRADDLE.intersection(C1).area / LEAD_STRADDLE.area  # 60 %
    cov = parts["environment"]["data"]["coverage"]
    assert cov["status"] == "partial" and cov["covered_pct"] == pytest.approx(share, abs=0.5)
    assert (
        "Zones protégées : données sur 60 % du site seulement, absentes pour le reste"
        in parts["environment"]["messages"]
    )
    plu_cov = parts["urbanism"]["data"]["coverage"]["plu"]
    assert plu_cov["covered_pct"] == pytest.approx(share, abs=0.5)
    crit = _criteria(body)
    assert crit["environment"] == crit["urbanism"] == "estimated"
    assert crit["grid"] == "real"  # its centroid lies in C1, where the postes are known
    assert body["score"]["completeness"] == pytest.approx(0.65)


async def test_no_poste_within_the_radius(client, auth_headers, world) -> None:
    assert POSTE.distance(LEAD_FAR.centroid) > 30_000
    body = await _enrich(client, auth_headers, world["far"])
    parts, crit = body["parts"], body["score"]["criteria"]
    message = "Aucun poste dans un rayon de 30 km dans les données chargées"
    assert parts["grid"]["data"]["nearest"] == []
    assert message in parts["grid"]["messages"] and parts["grid"]["partial"] is False
    assert crit["grid"] == {**crit["grid"], "value": 0.0, "reason": message, "data": "real"}
    eco = parts["economics"]["data"]
    assert eco["connection_cost_eur"] is None and eco["lcoe_eur_mwh"] is None
    assert eco["simple_payback_years"] is None
    assert parts["economics"]["messages"][-1].endswith(message.lower())


def _pdf_text(data: bytes) -> str:
    pages = PdfReader(io.BytesIO(data)).pages
    return re.sub(r"[\s\u00a0]+", " ", " ".join(p.extract_text() or "" for p in pages))


async def test_dossier_and_export_say_what_is_missing(client, auth_headers, world) -> None:
    admin = await auth_headers(Role.ADMIN)
    await _enrich(client, auth_headers, world["out"])
    r = await client.post(f"/api/leads/{world['out']}/generate-pdf", headers=admin)
    assert r.status_code == 201, r.text
    pdf = await client.get(r.json()["download_url"], headers=admin)
    text = _pdf_text(pdf.content)
    # The ZNIEFF 3 km away is listed (a zone found is a fact); no "no zone" conclusion.
    assert "Zones protégées : données absentes pour cette zone" in text
    assert "Aucune zone protégée" not in text
    assert (
        "Postes sources : données absentes pour cette zone : coût de raccordement, LCOE et "
        "temps de retour non calculables" in text
    )
    assert "LCOE non calculable" in text and "Temps de retour simple non calculable" in text
    r = await client.get("/api/leads/export.csv", headers=admin)
    assert r.status_code == 200, r.text
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
    out = rows[str(world["out"])]
    assert out["connection_cost_eur"] == "" and out["lcoe_eur_mwh"] == ""
    assert "Postes sources : données absentes pour cette zone" in out["missing_data"]
    assert "Zones protégées : données absentes pour cette zone" in out["missing_data"]
