"""Substations (+ Caparéseau capacities), communes, env-zones and urban-zones importers."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from pyproj import Transformer

from geo.importers import ImportFailed
from tests.importing import GEODATA, run_import, scalar

POSTES = GEODATA / "postes_source_extract_AURA.csv"
CAPA = GEODATA / "capareseau_2026-04-28-extract.csv"
COMMUNES = GEODATA / "communes-69-extract.geojson"
ZPS = GEODATA / "natura2000_zps_extract.geojson"
PLU = GEODATA / "zone-urba-17345-extract.json"


def postes() -> list[dict[str, str]]:
    with POSTES.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


async def test_postes_wgs84_and_bogus_coordinates(state) -> None:
    rows = postes()
    result = await run_import(state, "substations", POSTES)
    assert result.read == len(rows) == 32
    assert (result.inserted, result.rejected) == (31, 1)
    (rej,) = result.rejections
    auz = next(i for i, r in enumerate(rows, 1) if r["name"] == "AUZERETTE")
    assert rej["row"] == auz and "outside metropolitan France" in rej["reason"]
    mauri = rows[0]
    got = await scalar(
        state,
        "SELECT json_build_array(name, ST_X(geom), ST_Y(geom), capacity_reserved_mw, "
        "capacity_available_mw, capacity_allocated_mw, quote_part_eur_kw, data_date, operator) "
        "FROM substations WHERE code = :c",
        c=mauri["code"].strip(),
    )
    assert got[0] == mauri["name"]
    assert got[1] == pytest.approx(float(mauri["lon"]), abs=1e-9)
    assert got[2] == pytest.approx(float(mauri["lat"]), abs=1e-9)
    cr, na = float(mauri["INFO_CR"]), float(mauri["INFO_NA"])
    assert got[3:7] == [cr, na, pytest.approx(cr - na), float(mauri["INFO_QP_keur_per_MW"])]
    assert got[7] == "2026-06-27"  # the row's 'updated' (27/06/2026)
    assert got[8] == "Enedis"


async def test_postes_lambert93_forced_crs_give_same_points(state, tmp_path: Path) -> None:
    # Keep only the Lambert-93 columns: the importer must read x_l93/y_l93 with --crs.
    rows = postes()
    path = tmp_path / "postes-l93.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["code", "nom", "x", "y"])
        for r in rows:
            w.writerow([r["code"], r["name"], r["x_l93"], r["y_l93"]])
    with pytest.raises(ImportFailed, match="unknown CRS"):
        await run_import(state, "substations", path)
    result = await run_import(state, "substations", path, crs="EPSG:2154")
    assert result.rejected == 1 and result.read == 32
    # Same place as the file's own WGS84 columns (pyproj is the reference here).
    to_wgs = Transformer.from_crs(2154, 4326, always_xy=True)
    r = rows[5]
    lon, lat = to_wgs.transform(float(r["x_l93"]), float(r["y_l93"]))
    got = await scalar(
        state,
        "SELECT json_build_array(ST_X(geom), ST_Y(geom)) FROM substations WHERE code = :c",
        c=r["code"].strip(),
    )
    assert got == [pytest.approx(lon, abs=1e-9), pytest.approx(lat, abs=1e-9)]
    assert got == [pytest.approx(float(r["lon"]), abs=1e-7), pytest.approx(float(r["lat"]), 1e-7)]


async def test_capacity_table_join(state) -> None:
    with CAPA.open(encoding="utf-8") as fh:
        lines = list(csv.reader(fh, delimiter=";"))
    table = {r[0].strip().upper(): r for r in lines[2:]}  # skip codes + French labels rows
    head = lines[0]
    result = await run_import(state, "substations", POSTES, capacity=CAPA)
    assert result.updated > 0
    assert any("capacity table joined" in n for n in result.notes)
    code = next(c for c in table if c != "AUZER")
    row = table[code]
    got = await scalar(
        state,
        "SELECT json_build_array(capacity_reserved_mw, capacity_available_mw, "
        "quote_part_eur_kw, s3renr_region, data_date) FROM substations WHERE code = :c",
        c=code,
    )

    def num(name: str) -> float:
        return float(row[head.index(name)].replace(",", "."))

    assert got[:3] == [num("INFO_CR"), num("INFO_NA"), num("INFO_QP")]
    assert got[3] == row[head.index("S3REnR")]
    assert got[4] == "2026-04-28"  # the date in the capacity file's name
    # --data-date wins over every other date.
    again = await run_import(
        state, "substations", POSTES, capacity=CAPA, data_date=date(2026, 5, 1)
    )
    assert again.updated == 31
    assert await scalar(state, "SELECT min(data_date)::text FROM substations") == "2026-05-01"


async def test_communes_and_newer_cadastre_note(state) -> None:
    feats = json.loads(COMMUNES.read_text())["features"]
    result = await run_import(state, "communes", COMMUNES)
    assert result.inserted == len(feats) == 10
    lyon = next(f for f in feats if f["properties"]["code"] == "69123")
    got = await scalar(
        state,
        "SELECT json_build_array(name, department, source) FROM communes WHERE insee = '69123'",
    )
    assert got == [lyon["properties"]["nom"], "69", "open_data"]
    # 69114's cadastre postdates this communes vintage: the import says so.
    parcels = await run_import(state, "parcels", GEODATA / "cadastre-69114-extract.json")
    assert any("69114" in n and "absent from the communes layer" in n for n in parcels.notes)


async def test_env_zones_type_from_option_file_name_or_error(state, tmp_path: Path) -> None:
    feat = json.loads(ZPS.read_text())["features"][0]["properties"]
    # The file name says ZPS.
    result = await run_import(state, "env-zones", ZPS)
    assert result.inserted == 1
    got = await scalar(
        state,
        "SELECT json_build_array(zone_type, name, area_m2 > 0) FROM env_zones WHERE code = :c",
        c=feat["SITECODE"],
    )
    assert got == ["natura2000_zps", feat["SITENAME"], True]
    # A neutral name needs --zone-type; the same code under another type is another zone.
    neutral = tmp_path / "sites.geojson"
    neutral.write_text(ZPS.read_text())
    with pytest.raises(ImportFailed, match="zone type unknown"):
        await run_import(state, "env-zones", neutral)
    with pytest.raises(ImportFailed, match="unknown zone type"):
        await run_import(state, "env-zones", neutral, zone_type="volcano")
    other = await run_import(state, "env-zones", neutral, zone_type="ZSC")
    assert other.inserted == 1
    assert await scalar(state, "SELECT count(*) FROM env_zones") == 2


async def test_urban_zones_gpu_answer(state) -> None:
    feats = json.loads(PLU.read_text())["features"]
    result = await run_import(state, "urban-zones", PLU)
    assert result.inserted == len(feats) == 13
    npv = next(f for f in feats if f["properties"]["libelle"] == "Npv")["properties"]
    got = await scalar(
        state,
        "SELECT json_build_array(zone_type, commune_insee, document_id, label_long) "
        "FROM urban_zones WHERE natural_key = :k",
        k=npv["lib_idzone"],
    )
    assert got == ["N", "17345", npv["idurba"], npv["libelong"]]
    again = await run_import(state, "urban-zones", PLU)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 13)
