"""A lead as a file: GET /api/leads/{id}/export.geojson and export.kml (outline + main
properties), with the lead detail's visibility; the KML read back by GDAL's ogrinfo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from shapely.geometry import shape

from tests.conftest import assert_problem
from tests.lead_fixtures import load_parcels

PARCELS = ["69114000AA0030", "69114000AA0022"]


@pytest.fixture(scope="module")
async def lead(client, people, db_url):
    load_parcels(db_url, PARCELS)
    body = {"parcel_ids": PARCELS, "name": "Export", "notes": "lead exports"}
    r = await client.post("/api/leads", json=body, headers=people["ops"][1])
    assert r.status_code == 201, r.text
    return r.json()


async def test_geojson_export(client, people, lead) -> None:
    r = await client.get(f"/api/leads/{lead['id']}/export.geojson", headers=people["ops"][1])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    assert f'filename="lead-{lead["id"]}.geojson"' in r.headers["content-disposition"]
    body = r.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 1
    f = body["features"][0]
    assert f["id"] == lead["id"] and f["geometry"]["type"] == "MultiPolygon"
    assert shape(f["geometry"]).symmetric_difference(shape(lead["geometry"])).area < 1e-12
    p = f["properties"]
    assert (p["id"], p["name"], p["status"], p["commune_insee"]) == (
        lead["id"],
        "Export",
        "NEW",
        "69114",
    )
    assert p["area_ha"] == pytest.approx(lead["area_m2"] / 10_000, abs=0.01)
    assert "notes" not in p and "geometry" not in p


async def test_kml_export_read_by_gdal(client, people, lead, tmp_path: Path) -> None:
    r = await client.get(f"/api/leads/{lead['id']}/export.kml", headers=people["admin"][1])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
    assert b"<kml" in r.content and f"Lead {lead['id']} — Export".encode() in r.content
    path = tmp_path / "lead.kml"
    path.write_bytes(r.content)
    info = subprocess.run(
        ["ogrinfo", "-ro", "-al", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "Feature Count: 1" in info, info
    assert "commune_insee (String) = 69114" in info, info
    assert "MULTIPOLYGON" in info or "POLYGON" in info, info


async def test_export_visibility_and_errors(client, people, lead) -> None:
    for who, status in (("ops", 200), ("ops2", 404), ("admin", 200), ("sales", 404)):
        for fmt in ("geojson", "kml"):
            r = await client.get(f"/api/leads/{lead['id']}/export.{fmt}", headers=people[who][1])
            if status == 200:
                assert r.status_code == 200, (who, fmt, r.text)
            else:
                assert_problem(r, status)
    assert_problem(await client.get(f"/api/leads/{lead['id']}/export.geojson"), 401)
    h = people["admin"][1]
    assert_problem(await client.get("/api/leads/999999/export.kml", headers=h), 404)
    # No such file of a lead (a 404 problem), and the lead's workbook beside these stays reachable
    # (an ``export.{fmt}`` path parameter took /export.xlsx and answered 422).
    assert_problem(await client.get(f"/api/leads/{lead['id']}/export.shp", headers=h), 404)
    r = await client.get(f"/api/leads/{lead['id']}/export.xlsx", headers=h)
    assert r.status_code == 200, r.text
