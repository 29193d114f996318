"""Parcels importer on real Etalab samples: counts, fields, areas, idempotency, CRS, repairs."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from tests.conftest import DATA
from tests.importing import GEODATA, run_import, scalar

P69 = GEODATA / "cadastre-69114-extract.json"
P27 = GEODATA / "cadastre-27412-extract.geojson"
TO_L93 = Transformer.from_crs(4326, 2154, always_xy=True)


def features(path: Path) -> list[dict]:
    return json.loads(path.read_text())["features"]


async def test_etalab_file_fields_and_areas(state) -> None:
    result = await run_import(state, "parcels", P69)
    feats = features(P69)
    assert (result.read, result.inserted, result.updated, result.rejected) == (150, 150, 0, 0)
    assert await scalar(state, "SELECT count(*) FROM parcels") == 150
    props = feats[0]["properties"]
    async with state.sessions() as s:
        from sqlalchemy import text

        row = (
            await s.execute(
                text(
                    "SELECT commune, prefixe, section, numero, contenance, source, area_m2, "
                    "ST_AsText(geom), source_updated, import_id FROM parcels WHERE id = :id"
                ),
                {"id": props["id"]},
            )
        ).one()
    assert row[:6] == (
        props["commune"],
        props["prefixe"],
        props["section"].rjust(2, "0"),
        props["numero"].zfill(4),
        props["contenance"],
        "open_data",
    )
    assert str(row[8]) == props["updated"]
    assert row[9] == result.import_id
    # The measured area, computed another way: the polygon projected to Lambert-93 by pyproj.
    l93 = shapely.transform(
        shape(feats[0]["geometry"]),
        lambda xy: __import__("numpy").column_stack(TO_L93.transform(xy[:, 0], xy[:, 1])),
    )
    assert row[6] == pytest.approx(l93.area, rel=2e-3)
    assert row[7].startswith("MULTIPOLYGON")
    # The import is recorded with its counts and the file's checksum.
    import hashlib

    digest = hashlib.sha256(P69.read_bytes()).hexdigest()
    rec = await scalar(
        state,
        "SELECT json_build_array(layer, file_name, checksum, status, read_count, inserted_count)"
        " FROM imports WHERE id = :id",
        id=result.import_id,
    )
    assert rec == ["parcels", P69.name, digest, "succeeded", 150, 150]


async def test_reimport_changes_nothing(state) -> None:
    version = await scalar(state, "SELECT version FROM layer_versions WHERE layer = 'parcels'")
    result = await run_import(state, "parcels", P69)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 150)
    after = await scalar(state, "SELECT version FROM layer_versions WHERE layer = 'parcels'")
    assert after == version


async def test_newer_file_updates_by_id(state, tmp_path: Path) -> None:
    data = json.loads(P69.read_text())
    data["features"][3]["properties"]["contenance"] += 10
    data["features"][4]["properties"]["contenance"] += 20
    ring = data["features"][5]["geometry"]["coordinates"][0]
    ring[0][0] += 1e-5
    ring[-1][0] += 1e-5
    newer = tmp_path / "cadastre-69114-parcelles.json.gz"
    newer.write_bytes(gzip.compress(json.dumps(data).encode()))
    result = await run_import(state, "parcels", newer)
    assert (result.inserted, result.updated, result.unchanged) == (0, 3, 147)
    got = await scalar(
        state,
        "SELECT contenance FROM parcels WHERE id = :id",
        id=data["features"][4]["properties"]["id"],
    )
    assert got == data["features"][4]["properties"]["contenance"]
    # Put the original back for the next tests.
    back = await run_import(state, "parcels", P69)
    assert back.updated == 3


async def test_reduced_fields_without_contenance(state) -> None:
    result = await run_import(state, "parcels", P27)
    assert (result.inserted, result.rejected) == (100, 0)
    feat = features(P27)[0]["properties"]
    row = await scalar(
        state,
        "SELECT json_build_array(commune, section, numero, contenance) FROM parcels WHERE id = :id",
        id=feat["id"],
    )
    assert row == [feat["id"][:5], feat["id"][8:10], feat["id"][10:], None]


@pytest.mark.parametrize("fmt", ["gpkg", "shp.zip"])
async def test_lambert93_inputs(state, tmp_path: Path, fmt: str) -> None:
    wgs = gpd.read_file(P27)
    l93 = wgs.to_crs(2154)
    if fmt == "gpkg":
        path = tmp_path / "parcelles-l93.gpkg"
        l93.to_file(path, driver="GPKG")
    else:
        shp = tmp_path / "shp"
        shp.mkdir()
        l93.to_file(shp / "parcelles.shp")
        path = tmp_path / "parcelles-l93.zip"
        with zipfile.ZipFile(path, "w") as z:
            for f in shp.iterdir():
                z.write(f, f.name)
    result = await run_import(state, "parcels", path)
    assert result.read == 100 and result.rejected == 0
    # Back in WGS84, each parcel is where the original file put it (to ~1 cm).
    for _, f in wgs.head(10).iterrows():
        d = await scalar(
            state,
            "SELECT ST_HausdorffDistance(geom, ST_GeomFromText(:wkt, 4326)) FROM parcels "
            "WHERE id = :id",
            wkt=f.geometry.wkt,
            id=f["id"],
        )
        assert d < 1e-7


async def test_repairs_and_rejections(state, tmp_path: Path) -> None:
    bowtie = [[4.60, 45.90], [4.601, 45.901], [4.601, 45.90], [4.60, 45.901], [4.60, 45.90]]
    flat = [[4.61, 45.90], [4.611, 45.90], [4.612, 45.90], [4.61, 45.90]]
    square = [[4.62, 45.90], [4.621, 45.90], [4.621, 45.901], [4.62, 45.901], [4.62, 45.90]]

    def feat(pid: str, ring: list, kind: str = "Polygon") -> dict:
        geom = {"type": kind, "coordinates": [ring] if kind == "Polygon" else ring[0]}
        return {"type": "Feature", "properties": {"id": pid}, "geometry": geom}

    fc = {
        "type": "FeatureCollection",
        "features": [
            feat("69999000ZZ0001", bowtie),
            feat("69999000ZZ0002", flat),
            feat("not-an-id", square),
            feat("69999000ZZ0003", square),
            feat("69999000ZZ0003", square),
            feat("69999000ZZ0004", square, "Point"),
        ],
    }
    path = tmp_path / "bad-rows.geojson"
    path.write_text(json.dumps(fc))
    result = await run_import(state, "parcels", path)
    assert result.read == 6
    assert result.repaired == 1
    assert result.inserted == 2  # the repaired bow-tie and one of the duplicates
    assert result.rejected == 4
    reasons = {r["row"]: r["reason"] for r in result.rejections}
    assert reasons[2] == "invalid geometry that could not be repaired"
    assert reasons[3].startswith("invalid parcel id")
    assert reasons[4].startswith("duplicate key '69999000ZZ0003'")
    assert reasons[6].startswith("wrong geometry type")
    # The bow-tie became two triangles: the area shapely's make_valid gives.
    expected = shapely.make_valid(shapely.Polygon(bowtie))
    got = await scalar(
        state,
        "SELECT ST_Area(geom) FROM parcels WHERE id = '69999000ZZ0001' AND ST_IsValid(geom)",
    )
    assert got == pytest.approx(expected.area, rel=1e-9)
    stored = await scalar(
        state, "SELECT rejected_count FROM imports WHERE id = :id", id=result.import_id
    )
    assert stored == 4


async def test_real_file_in_full(state, tmp_path: Path) -> None:
    """The whole real file of 69114 (6,032 parcels), as shipped in data/ (gzipped)."""
    full = DATA / "cadastre-69114-parcelles.json.gz"
    path = tmp_path / full.name
    shutil.copy(full, path)
    result = await run_import(state, "parcels", path)
    assert result.read == 6032 and result.rejected == 0
    assert result.inserted + result.updated + result.unchanged == 6032
