"""Coverage recorded per import and layer (issue 16): derived from the file, declared, or none.

Areas are checked against shapely in Lambert-93 on the same real files (an independent sum).
"""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from geo.models import Role
from tests.conftest import DATA, read_json
from tests.importing import GEODATA, run_import, scalar

COMMUNES = GEODATA / "communes-29-67-extract.geojson"
PARCELS = GEODATA / "cadastre-69114-extract.json"
POSTES = GEODATA / "postes_source_extract_AURA.csv"
ZPS = GEODATA / "natura2000_zps_extract.geojson"
RHONE = DATA / "communes-69-rhone.geojson.gz"
NATIONAL_POSTES = DATA / "capareseau_map_2026-03.json.gz"
TO_L93 = Transformer.from_crs(4326, 2154, always_xy=True)


def _l93(g: Any) -> Any:
    return shapely.transform(g, lambda c: np.column_stack(TO_L93.transform(c[:, 0], c[:, 1])))


def _km2(features: list[dict[str, Any]]) -> float:
    return shapely.union_all([_l93(shape(f["geometry"])) for f in features]).area / 1e6


async def _coverage(state, import_id: int) -> dict[str, Any] | None:
    row = await scalar(
        state,
        "SELECT json_build_object('method', method, 'areas', areas, 'km2', area_km2) "
        "FROM layer_coverage WHERE import_id = :i",
        i=import_id,
    )
    return row if row is None or isinstance(row, dict) else json.loads(row)


async def test_communes_file_covers_its_outlines(state) -> None:
    result = await run_import(state, "communes", COMMUNES)
    cov = await _coverage(state, result.import_id)
    assert cov is not None and cov["method"] == "file"
    assert cov["areas"]["kind"] == "communes"
    assert cov["areas"]["departements"] == ["29", "67"]
    assert len(cov["areas"]["codes"]) == 8
    features = json.loads(COMMUNES.read_text())["features"]
    assert cov["km2"] == pytest.approx(_km2(features), rel=0.01)
    assert "coverage (file): communes 29019" in result.summary()


async def test_cadastre_of_a_commune_without_outline(state) -> None:
    # 69114 has no outline here: its coverage is its parcels, closed over roads and ditches.
    result = await run_import(state, "parcels", PARCELS)
    cov = await _coverage(state, result.import_id)
    assert cov is not None and cov["areas"] == {
        "kind": "communes",
        "codes": ["69114"],
        "departements": ["69"],
    }
    parcels = json.loads(PARCELS.read_text())["features"]
    hull = _l93(shapely.convex_hull(shapely.union_all([shape(f["geometry"]) for f in parcels])))
    assert _km2(parcels) <= cov["km2"] <= hull.area / 1e6


async def test_postes_cover_their_regions_where_outlines_exist(state) -> None:
    # Only Finistère and Bas-Rhin communes are loaded: none of Auvergne-Rhône-Alpes.
    result = await run_import(state, "substations", POSTES)
    assert await _coverage(state, result.import_id) is None
    assert any("no commune outline loaded for départements 01, 03" in n for n in result.notes)
    # With the Rhône's communes: the region's coverage is the Rhône (the others still missing).
    await run_import(state, "communes", RHONE)
    again = await run_import(state, "substations", POSTES)
    cov = await _coverage(state, again.import_id)
    assert cov is not None and cov["areas"]["kind"] == "regions"
    assert cov["areas"]["codes"] == ["AUVERGNE RHONE ALPES"]
    assert cov["km2"] == pytest.approx(_km2(read_json(RHONE)["features"]), rel=0.01)


async def test_zones_without_declaration_have_no_coverage(state) -> None:
    result = await run_import(state, "env-zones", ZPS, zone_type="natura2000_zps")
    assert await _coverage(state, result.import_id) is None
    assert any(n.startswith("coverage: unknown") for n in result.notes)


async def test_declared_departments_and_extract(state, tmp_path) -> None:
    copy = tmp_path / "zps.geojson"
    copy.write_text(ZPS.read_text())
    result = await run_import(state, "env-zones", copy, zone_type="natura2000_zps", coverage="29")
    cov = await _coverage(state, result.import_id)
    assert cov is not None and cov["method"] == "declared"
    assert cov["areas"] == {"kind": "departements", "codes": ["29"]}
    finistere = [
        f for f in json.loads(COMMUNES.read_text())["features"] if f["properties"]["code"] < "3"
    ]
    assert cov["km2"] == pytest.approx(_km2(finistere), rel=0.01)
    extract = await run_import(state, "substations", POSTES, coverage="none")
    assert await _coverage(state, extract.import_id) is None


async def test_raw_capareseau_records(state) -> None:
    result = await run_import(state, "substations", NATIONAL_POSTES)
    raw = read_json(NATIONAL_POSTES)
    assert result.read == len(raw) == 3118
    # Positions outside metropolitan France (placeholders near -1.36, -5.98, swapped or bogus
    # coordinates): counted and named, never placed.
    x = np.array([r["X"] for r in raw], dtype=float)
    y = np.array([r["Y"] for r in raw], dtype=float)
    outside = int((~((x > -5.8) & (x < 10) & (y > 41) & (y < 51.6))).sum())
    assert (
        result.rejected >= outside - 2
        and result.rejected == result.reasons["outside metropolitan France"]
    )
    row = await scalar(
        state,
        "SELECT json_build_object('cr', capacity_reserved_mw, 'na', capacity_available_mw, "
        "'qp', quote_part_eur_kw, 'op', operator, 'lon', ST_X(geom), 'vk', voltage_kv) "
        "FROM substations WHERE code = 'CERGY'",
    )
    row = row if isinstance(row, dict) else json.loads(row)
    cergy = next(r for r in raw if r["code"] == "CERGY")
    assert row["cr"] == float(cergy["values"]["INFO_CR"])
    assert row["qp"] == pytest.approx(1.88)  # "1.88  k€/MW"
    assert row["op"] == "Enedis"
    assert row["vk"] == cergy["htb_type"] == "HTA"  # the published voltage class
    assert row["lon"] == pytest.approx(cergy["X"], abs=1e-4)


async def test_coverage_api(client, auth_headers) -> None:
    h = await auth_headers(Role.COMMERCIAL)
    r = await client.get("/api/reference/coverage", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    layers = {f["properties"]["layer"] for f in body["features"]}
    assert {"communes", "parcels", "substations", "env_zones"} <= layers
    assert "urban_zones" not in body["layers"]  # nothing imported: absent everywhere
    for f in body["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    r = await client.get("/api/reference/coverage", params={"layer": "parcels"}, headers=h)
    assert [f["properties"]["codes"] for f in r.json()["features"]] == [["69114"]]
    assert (await client.get("/api/reference/coverage")).status_code == 401


def test_postes_fixture_is_one_region() -> None:
    with POSTES.open() as fh:
        assert {r["territory_name"] for r in csv.DictReader(fh)} == {"Auvergne-Rhône-Alpes"}


async def test_coverage_mask(client, auth_headers) -> None:
    """The map's "données absentes" mask: France's box minus the layer's coverage."""
    h = await auth_headers(Role.COMMERCIAL)
    r = await client.get("/api/reference/coverage/mask", params={"layer": "parcels"}, headers=h)
    assert r.status_code == 200, r.text
    mask = shape(r.json()["geometry"])
    parcels = json.loads(PARCELS.read_text())["features"]
    inside = shapely.union_all([shape(f["geometry"]) for f in parcels]).representative_point()
    assert not mask.contains(inside)  # the cadastre's own commune: not masked
    assert mask.contains(shapely.Point(-1.68, 48.11))  # Rennes: no cadastre loaded
    box = shapely.box(-5.8, 41.0, 10.0, 51.6)
    assert mask.area == pytest.approx(box.area, rel=0.01)  # one commune out of all France
    # Nothing imported for the PLU and no rows: absent everywhere in the box.
    r = await client.get("/api/reference/coverage/mask", params={"layer": "urban_zones"}, headers=h)
    assert shape(r.json()["geometry"]).area == pytest.approx(box.area)
    r = await client.get("/api/reference/coverage/mask", params={"layer": "communes"}, headers=h)
    assert r.status_code == 422


async def test_coverage_as_a_map_layer(client, state) -> None:
    """The coverage is a reference layer of the tiles and the OGC API: the parcels' coverage of
    69114 is in the z10 tile over the commune and in the collection's items, and a new import's
    coverage changes the layer's version (tile ETags follow it)."""
    import mapbox_vector_tile
    import morecantile

    items = (await client.get("/ogc/collections/coverage/items", params={"limit": 100})).json()
    by_layer = {f["properties"]["layer"] for f in items["features"]}
    assert "parcels" in by_layer
    feature = next(f for f in items["features"] if f["properties"]["layer"] == "parcels")
    parcels = json.loads(PARCELS.read_text())["features"]
    inside = shapely.union_all([shape(f["geometry"]) for f in parcels]).representative_point()
    assert shape(feature["geometry"]).contains(inside)
    tile = morecantile.tms.get("WebMercatorQuad").tile(inside.x, inside.y, 10)
    r = await client.get(f"/tiles/coverage/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert r.status_code == 200, r.text
    decoded = mapbox_vector_tile.decode(r.content)
    assert "parcels" in {f["properties"]["layer"] for f in decoded["coverage"]["features"]}
    etag = r.headers["etag"]
    await run_import(state, "env-zones", ZPS, zone_type="natura2000_zps", coverage="29")
    again = await client.get(f"/tiles/coverage/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert again.headers["etag"] != etag
