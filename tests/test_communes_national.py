"""Communes anywhere in France: import, lead creation in two far départements, fallbacks, search.

The communes are a real extract of the national layer shipped in data/communes/ (Finistère and
Bas-Rhin, tests/fixtures/geodata/communes-29-67-extract.geojson); the right commune of a lead is
computed with shapely in Lambert-93, independently of PostGIS.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import box, mapping, shape

from geo.importers.demo import DEMO_FILES, _national_communes
from geo.models import Role
from tests.conftest import DATA, assert_problem, read_json
from tests.importing import GEODATA, run_import, scalar
from tests.lead_fixtures import area_l93, cadastre, load_parcels

EXTRACT = GEODATA / "communes-29-67-extract.geojson"
TO_L93 = Transformer.from_crs(4326, 2154, always_xy=True)
TO_WGS84 = Transformer.from_crs(2154, 4326, always_xy=True)


def _outlines() -> dict[str, Any]:
    """The extract's communes in Lambert-93, by INSEE code."""
    doc = json.loads(EXTRACT.read_text())
    return {f["properties"]["code"]: _l93(shape(f["geometry"])) for f in doc["features"]}


def _l93(g: Any) -> Any:
    return shapely.transform(g, lambda c: np.column_stack(TO_L93.transform(c[:, 0], c[:, 1])))


def _wgs84(g: Any) -> dict[str, Any]:
    g = shapely.transform(
        g.segmentize(20.0), lambda c: np.column_stack(TO_WGS84.transform(c[:, 0], c[:, 1]))
    )
    return mapping(g)


def _square(x: float, y: float, half: float) -> Any:
    return box(x - half, y - half, x + half, y + half)


@pytest.fixture(scope="module")
async def communes(state) -> dict[str, Any]:
    result = await run_import(state, "communes", EXTRACT)
    assert (result.inserted, result.rejected) == (8, 0)
    return _outlines()


@pytest.fixture(scope="module")
async def ops(auth_headers):
    return await auth_headers(Role.OPS)


def test_national_files_shipped() -> None:
    """Every metropolitan département once (the Rhône's file at the top of data/), none overseas."""
    files = DEMO_FILES[:1] + _national_communes(DATA)
    deps = [f.name.split("/")[-1].split("-")[1] for f in files]
    expected = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
    assert sorted(deps) == sorted(expected)
    assert all(f.layer == "communes" for f in files)


async def test_import_is_copy_and_idempotent(state, communes) -> None:
    again = await run_import(state, "communes", EXTRACT)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 8)
    assert await scalar(state, "SELECT department FROM communes WHERE insee = '67482'") == "67"


async def test_lead_in_finistere(client, ops, communes) -> None:
    inner = communes["29019"].representative_point()
    square = _square(inner.x, inner.y, 100.0)
    assert communes["29019"].contains(square)
    r = await client.post("/api/leads", json={"geometry": _wgs84(square)}, headers=ops)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["commune_insee"], body["commune_name"], body["department"]) == (
        "29019",
        "Brest",
        "29",
    )
    assert body["internal_name"].startswith("29-019-")
    assert body["area_m2"] == pytest.approx(square.area, rel=0.005)


async def test_lead_straddling_two_communes_of_bas_rhin(client, ops, communes) -> None:
    edge = communes["67482"].boundary.intersection(communes["67447"].boundary)
    assert not edge.is_empty
    p = edge.interpolate(0.5, normalized=True) if edge.geom_type != "Point" else edge
    square = _square(p.x + 40.0, p.y + 40.0, 150.0)
    shares = {k: square.intersection(g).area for k, g in communes.items()}
    expected = max(shares, key=shares.__getitem__)
    runner_up = sorted(shares.values())[-2]
    assert shares[expected] > runner_up * 1.05  # a clear answer, not a near tie
    r = await client.post("/api/leads", json={"geometry": _wgs84(square)}, headers=ops)
    assert r.status_code == 201, r.text
    assert r.json()["commune_insee"] == expected
    assert r.json()["department"] == "67"


async def test_sea_is_422(client, ops, communes) -> None:
    # The rade de Brest: no outline of the whole national Finistère file, no parcel.
    x, y = TO_L93.transform(-4.50, 48.32)
    square = _square(x, y, 200.0)
    finistere = read_json(DATA / "communes" / "communes-29-finistere.geojson.gz")["features"]
    assert not any(_l93(shape(f["geometry"])).intersects(square) for f in finistere)
    r = await client.post(
        "/api/leads", json={"geometry": _wgs84(square), "commune_insee": "29019"}, headers=ops
    )
    body = assert_problem(r, 422)
    assert "sea" in str(body["detail"])


async def test_parcels_of_a_commune_without_outline(client, ops, communes, db_url) -> None:
    # 69114's parcels, and no Rhône commune loaded: the cadastre's own code answers.
    ids = ["69114000AA0030", "69114000AA0022"]
    load_parcels(db_url, ids)
    r = await client.post("/api/leads", json={"parcel_ids": ids}, headers=ops)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["commune_insee"], body["department"]) == ("69114", "69")
    assert body["commune_name"] is None  # no outline: no name rather than a wrong one
    assert body["internal_name"].startswith("69-114-")
    # A polygon drawn over the same parcels (no parcel ids given) is on land too.
    geom = cadastre()[ids[0]]["geometry"]
    dup = {"allow_duplicate": True, "duplicate_reason": "test"}  # the parcels' lead is there
    r = await client.post("/api/leads", json={"geometry": geom, **dup}, headers=ops)
    assert r.status_code == 201, r.text
    assert r.json()["commune_insee"] == "69114"
    assert r.json()["area_m2"] == pytest.approx(area_l93(geom), rel=0.005)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("selestat", "67462"),  # accent folded
        ("SÉLESTAT", "67462"),
        ("relecq kerhuon", "29235"),  # hyphen folded
        ("Plougastel-Daoulas", "29189"),
        ("graffenstaden", "67218"),  # any part of the name
        ("67482", "67482"),  # INSEE code
        ("2901", "29019"),  # code prefix
    ],
)
async def test_search_any_commune(client, auth_headers, communes, q, expected) -> None:
    h = await auth_headers(Role.COMMERCIAL)
    r = await client.get("/api/reference/search", params={"q": q}, headers=h)
    assert r.status_code == 200, r.text
    hits = [i for i in r.json()["items"] if i["kind"] == "commune"]
    assert hits and hits[0]["id"] == expected, hits
    outline = communes[expected]
    lon, lat = hits[0]["center"]
    assert outline.contains(shapely.Point(TO_L93.transform(lon, lat)))


async def test_enrich_in_two_far_departements(client, auth_headers, state, communes) -> None:
    """A lead in Finistère and one in Bas-Rhin: real postes near them, the rest said absent."""
    # Zones and PLU loaded elsewhere only (Côtes-d'Armor ZPS, no coverage; 17345's PLU).
    await run_import(state, "env-zones", GEODATA / "natura2000_zps_extract.geojson")
    await run_import(state, "urban-zones", GEODATA / "zone-urba-17345-extract.json")
    postes = DATA / "capareseau_map_2026-03.json.gz"
    result = await run_import(state, "substations", postes)
    assert result.coverage is not None  # Bretagne and Grand Est, where outlines are loaded
    raw = [r for r in read_json(postes) if isinstance(r.get("X"), float)]
    geod = Geod(ellps="WGS84")
    admin = await auth_headers(Role.ADMIN)
    for insee in ("29019", "67482"):
        inner = communes[insee].representative_point()
        square = _square(inner.x, inner.y, 150.0)
        # Where the earlier tests drew theirs: a declared duplicate.
        dup = {"allow_duplicate": True, "duplicate_reason": "test"}
        r = await client.post("/api/leads", json={"geometry": _wgs84(square), **dup}, headers=admin)
        assert r.status_code == 201, r.text
        lead = r.json()
        assert lead["commune_insee"] == insee
        r = await client.post(f"/api/enrichment/{lead['id']}", headers=admin)
        assert r.status_code == 200, r.text
        body = r.json()
        parts, crit = body["parts"], body["score"]["criteria"]
        # The nearest poste, checked against the raw records on the ellipsoid.
        lon, lat = TO_WGS84.transform(square.centroid.x, square.centroid.y)
        dist = {
            rec["code"].strip(): geod.inv(lon, lat, rec["X"], rec["Y"])[2]
            for rec in raw
            if -5.8 < rec["X"] < 10 and 41 < rec["Y"] < 51.6
        }
        nearest = parts["grid"]["data"]["nearest"][0]
        assert nearest["distance_m"] == pytest.approx(min(dist.values()), rel=0.01)
        assert nearest["distance_m"] < 30_000
        assert parts["economics"]["data"]["connection_cost_eur"] > 0
        assert crit["grid"]["data"] == "real"
        # No protected-zone or PLU data was loaded there: said, not invented.
        assert crit["environment"]["reason"] == "Zones protégées : données absentes pour cette zone"
        assert crit["urbanism"]["reason"] == "Zonage PLU : données absentes pour cette zone"
        assert "Aucune zone protégée" not in json.dumps(body, ensure_ascii=False)
        # Real data: grid (30) and surface (20); sun is the offline estimate here.
        assert body["score"]["completeness"] == pytest.approx(0.5)
