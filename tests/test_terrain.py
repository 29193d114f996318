"""Terrain (issue 17): ``leadfactory import dem`` and the site finder's slope and north-facing
criteria, on elevation grids generated here in IGN's real formats (ESRI ASCII grid with its
``ncols/nrows/xllcorner/yllcorner/cellsize/NODATA_value`` header, GeoTIFF) whose answers are
known: a plane z = a·x + b·y has a slope of 100·√(a² + b²) % everywhere, and faces north when
it goes down towards the north (b > 0 goes up northwards: it faces south)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import rasterio
from rasterio.transform import Affine, from_origin
from shapely.geometry import box

from api.cli import main
from api.settings import Settings, get_settings
from enrichment.terrain import TerrainReader, convert, mosaics, record_import
from geo.models import Role
from tests.enrichment_helpers import ORIGIN, add_parcel, rect
from tests.test_site_finder import drain

OX, OY = ORIGIN  # Lambert-93 metres (the Allier)
ABSENT = "données absentes pour cette zone"


def write_asc(
    path: Path,
    x0: float,
    y0: float,
    ncols: int,
    nrows: int,
    cellsize: float,
    a: float,
    b: float,
    header: str | None = None,
) -> Path:
    """An ESRI ASCII grid of the plane z = 300 + a·(x − x0) + b·(y − y0), heights at the cell
    centres, rows from the north as IGN writes them; a NODATA cell in a corner."""
    xs = x0 + cellsize * (np.arange(ncols) + 0.5)
    ys = y0 + cellsize * (nrows - np.arange(nrows) - 0.5)
    gx, gy = np.meshgrid(xs, ys)
    z = 300.0 + a * (gx - x0) + b * (gy - y0)
    z[0, 0] = -99999.0
    head = header or (
        f"ncols        {ncols}\nnrows        {nrows}\nxllcorner    {x0:.6f}\n"
        f"yllcorner    {y0:.6f}\ncellsize     {cellsize:g}\nNODATA_value  -99999.00\n"
    )
    with path.open("w") as f:
        f.write(head)
        np.savetxt(f, z, fmt="%.2f")
    return path


def ign_name(x0: float, y0: float, cellsize: int = 25) -> str:
    """IGN's BD ALTI tile name (the upper-left corner in km)."""
    x, y = x0 / 1000, (y0 + 5000) / 1000
    return f"BDALTIV2_{cellsize}M_FXX_{x:04.0f}_{y:04.0f}_MNT_LAMB93_IGN69.asc"


def write_tif(
    path: Path,
    x0: float,
    y0: float,
    n: int,
    cellsize: float,
    a: float,
    b: float,
    epsg: int | None = 2154,
) -> Path:
    """A GeoTIFF of the same plane."""
    xs = x0 + cellsize * (np.arange(n) + 0.5)
    ys = y0 + cellsize * (n - np.arange(n) - 0.5)
    gx, gy = np.meshgrid(xs, ys)
    z = (300.0 + a * (gx - x0) + b * (gy - y0)).astype("float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=n,
        height=n,
        count=1,
        dtype="float32",
        crs=f"EPSG:{epsg}" if epsg else None,
        transform=from_origin(x0, y0 + n * cellsize, cellsize, cellsize),
        nodata=-99999.0,
    ) as dst:
        dst.write(z, 1)
    return path


# --- zonal statistics on the converted grids ---------------------------------------------------


@pytest.fixture(scope="module")
def planes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 5 km BD ALTI-like tiles side by side: 10 % facing south, 10 % facing north, 10 %
    facing east; converted into one mosaic."""
    src = tmp_path_factory.mktemp("asc")
    terrain = tmp_path_factory.mktemp("data") / "terrain"
    for i, (a, b) in enumerate(((0.0, 0.1), (0.0, -0.1), (-0.1, 0.0))):
        x0 = OX + 5_000 * i
        convert(write_asc(src / ign_name(x0, OY), x0, OY, 200, 200, 25, a, b), terrain)
    return terrain


def site(x0: float, y0: float, w: float = 600, h: float = 400) -> Any:
    return box(OX + x0, OY + y0, OX + x0 + w, OY + y0 + h)


def test_a_south_facing_plane_of_10_percent(planes: Path) -> None:
    (vrt,) = mosaics(planes)
    assert vrt.name == "mosaic.vrt" and vrt.parent.name == "25m"
    with TerrainReader([vrt]) as t:
        st = t.site(site(1_000, 1_000))
    assert st is not None
    assert st["mean_slope_pct"] == pytest.approx(10.0, abs=0.5)
    assert st["north_share_pct"] == pytest.approx(0.0, abs=1.0)
    assert st["cellsize_m"] == 25 and st["cells"] == 24 * 16  # centres inside 600 × 400 m


def test_a_north_facing_plane_is_all_north(planes: Path) -> None:
    with TerrainReader(mosaics(planes)) as t:
        north = t.site(site(6_000, 1_000))
        east = t.site(site(11_000, 1_000))
    assert north is not None and east is not None
    assert north["mean_slope_pct"] == pytest.approx(10.0, abs=0.5)
    assert north["north_share_pct"] == 100.0
    assert east["mean_slope_pct"] == pytest.approx(10.0, abs=0.5)
    assert east["north_share_pct"] == 0.0  # facing east: 90° from north


def test_a_site_across_two_tiles_reads_both(planes: Path) -> None:
    # Half on the south-facing tile, half on the north-facing one: the mosaic joins them.
    with TerrainReader(mosaics(planes)) as t:
        st = t.site(site(4_700, 1_000))
    assert st is not None
    assert st["north_share_pct"] == pytest.approx(50.0, abs=5.0)


def test_outside_the_terrain_is_absent_never_zero(planes: Path) -> None:
    with TerrainReader(mosaics(planes)) as t:
        assert t.site(site(20_000, 1_000)) is None  # east of every tile
        assert t.site(site(14_700, 1_000)) is None  # half outside: less than 95 % covered
    assert mosaics(planes.parent / "nothing") == []


def test_a_large_site_is_read_coarser_with_the_same_answer(planes: Path, monkeypatch) -> None:
    import enrichment.terrain as terrain

    monkeypatch.setattr(terrain, "MAX_WINDOW_CELLS", 400)  # 16 × 24 cells + edges → 2 × 2
    with TerrainReader(mosaics(planes)) as t:
        st = t.site(site(1_000, 1_000))
    assert st is not None and st["cellsize_m"] == 50
    assert st["mean_slope_pct"] == pytest.approx(10.0, abs=0.5)


# --- leadfactory import dem ---------------------------------------------------------------------


def _rows(db_url: str, sql: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql).fetchall()


def _cli(settings: Settings, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``leadfactory import dem …`` in process against this module's database and data dir."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LFS_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        code = main(["import", "dem", *args])
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_an_ascii_grid_then_again(
    settings: Settings, tmp_path: Path, monkeypatch, capsys
) -> None:
    x0, y0 = OX + 50_000, OY
    asc = write_asc(tmp_path / ign_name(x0, y0), x0, y0, 40, 40, 25, 0.0, 0.1)
    code, out, err = _cli(settings, monkeypatch, capsys, str(asc))
    assert code == 0, err
    assert "inserted, 1,600 cells of 25 m (1,599 with a height)" in out
    tif = settings.data_dir / "terrain" / "25m" / asc.with_suffix(".tif").name
    assert tif.is_file() and (tif.parent / "mosaic.vrt").is_file()
    with rasterio.open(tif) as ds:
        assert ds.crs.to_epsg() == 2154 and ds.profile["tiled"] and ds.nodata == -99999.0
        assert ds.bounds == pytest.approx((x0, y0, x0 + 1_000, y0 + 1_000))
    rows = _rows(
        settings.database_url,
        "SELECT i.file_name, i.read_count, c.areas ->> 'raster', c.area_km2 FROM imports i "
        "JOIN layer_coverage c ON c.import_id = i.id WHERE i.layer = 'terrain'",
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [(asc.name, 1_600, f"25m/{tif.name}")]
    assert rows[0][3] == pytest.approx(1.0, rel=0.01)  # 1 km² (Lambert-93 scale ≈ 1 here)
    code, out, _ = _cli(settings, monkeypatch, capsys, str(asc))
    assert code == 0 and ": unchanged," in out
    assert len(_rows(settings.database_url, "SELECT 1 FROM imports WHERE layer = 'terrain'")) == 1


def test_import_a_geotiff(settings: Settings, tmp_path: Path, monkeypatch, capsys) -> None:
    x0, y0 = OX + 60_000, OY
    tif = write_tif(tmp_path / "rgealti-5m.tif", x0, y0, 200, 5.0, 0.0, -0.08)
    code, out, err = _cli(settings, monkeypatch, capsys, str(tif))
    assert code == 0, err
    assert "40,000 cells of 5 m" in out
    terrain = settings.data_dir / "terrain"
    assert (terrain / "5m" / "mosaic.vrt").is_file()
    with TerrainReader(mosaics(terrain)) as t:
        st = t.site(box(x0 + 200, y0 + 200, x0 + 600, y0 + 600))
    assert st is not None and st["cellsize_m"] == 5
    assert st["mean_slope_pct"] == pytest.approx(8.0, abs=0.5)
    assert st["north_share_pct"] == 100.0


BAD = [
    ("wrong header", "header", "not an ESRI ASCII grid: header without ncols"),
    ("no crs", "nocrs", "unknown CRS: the file declares none"),
    ("wgs84 tif", "wgs84", "CRS EPSG:4326 not supported"),
    ("other format", "txt", "unknown format .txt"),
    ("south-up tif", "southup", "cells must be square and north-up"),
    ("missing", "missing", "no such file"),
]


@pytest.mark.parametrize(("case", "kind", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_one_line_error_nothing_written(
    settings: Settings, tmp_path: Path, monkeypatch, capsys, case: str, kind: str, message: str
) -> None:
    x0, y0 = OX + 70_000, OY
    if kind == "header":
        path = write_asc(
            tmp_path / ign_name(x0, y0), x0, y0, 10, 10, 25, 0, 0, header="rows 10\ncols 10\n"
        )
    elif kind == "nocrs":
        path = write_asc(tmp_path / "mnt.asc", x0, y0, 10, 10, 25, 0, 0)
    elif kind == "wgs84":
        path = write_tif(tmp_path / "mnt.tif", 3.0, 46.0, 10, 0.001, 0, 0, epsg=4326)
    elif kind == "southup":
        path = tmp_path / "mnt_sud.tif"
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=10,
            height=10,
            count=1,
            dtype="float32",
            crs="EPSG:2154",
            transform=Affine(25, 0, x0, 0, 25, y0),
        ) as dst:
            dst.write(np.zeros((10, 10), dtype="float32"), 1)
    elif kind == "txt":
        path = tmp_path / "mnt.txt"
        path.write_text("ncols 10\n")
    else:
        path = tmp_path / "absent.asc"
    before = _rows(settings.database_url, "SELECT count(*) FROM imports")
    code, out, err = _cli(settings, monkeypatch, capsys, str(path))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path.name}: "), err
    assert message in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    assert _rows(settings.database_url, "SELECT count(*) FROM imports") == before


def test_a_failed_record_leaves_no_file(
    settings: Settings, tmp_path: Path, monkeypatch, capsys
) -> None:
    # The database refuses this file's import row (a trigger): no GeoTIFF may stay behind to be
    # read without its footprint, and the next file of the command is not attempted.
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION refuse_dem() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.file_name LIKE 'REFUSED%' THEN RAISE EXCEPTION 'refused by the test'; END IF;"
            " RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse_dem BEFORE INSERT ON imports FOR EACH ROW "
            "EXECUTE FUNCTION refuse_dem()"
        )
    try:
        x0, y0 = OX + 80_000, OY
        bad = write_asc(tmp_path / "REFUSED_MNT_LAMB93.asc", x0, y0, 20, 20, 25, 0, 0.05)
        nxt = write_asc(tmp_path / ign_name(x0, y0), x0, y0, 20, 20, 25, 0, 0.05)
        code, _, err = _cli(settings, monkeypatch, capsys, str(bad), str(nxt))
    finally:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER refuse_dem ON imports")
            conn.execute("DROP FUNCTION refuse_dem()")
    assert code == 1 and "refused by the test" in err and err.count("\n") == 1
    folder = settings.data_dir / "terrain" / "25m"
    assert not (folder / "REFUSED_MNT_LAMB93.tif").exists()
    assert not list(folder.glob(".*.part"))
    assert not (folder / nxt.with_suffix(".tif").name).exists()


def test_a_file_of_nodata_only_is_refused(
    settings: Settings, tmp_path: Path, monkeypatch, capsys
) -> None:
    path = tmp_path / "vide_MNT_LAMB93.asc"
    path.write_text(
        "ncols 3\nnrows 2\nxllcorner 700000\nyllcorner 6600000\ncellsize 25\n"
        "NODATA_value -99999\n-99999 -99999 -99999\n-99999 -99999 -99999\n"
    )
    code, _, err = _cli(settings, monkeypatch, capsys, str(path))
    assert code == 1 and "every cell is NODATA" in err


def test_the_real_command_exit_code(settings: Settings, tmp_path: Path) -> None:
    from tests.importing import cli

    bad = write_asc(tmp_path / "mnt.asc", OX, OY, 10, 10, 25, 0, 0)
    proc = cli(settings.database_url, "import", "dem", str(bad))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "unknown CRS" in proc.stderr


# --- the site finder's terrain criteria ----------------------------------------------------------

GENTLE = rect(100_000, 0, 100_400, 300)  # 3 % facing south
STEEP = rect(105_000, 0, 105_400, 300)  # 20 % facing south
NORTH = rect(110_000, 0, 110_400, 300)  # 8 % facing north
OUTSIDE = rect(120_000, 0, 120_400, 300)  # no terrain
TILES = [(100_000, 0.0, 0.03), (105_000, 0.0, 0.20), (110_000, 0.0, -0.08)]


@pytest.fixture(scope="module")
async def terrain_layout(
    state: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Four 12 ha sites of commune 03001, three on their own terrain tile."""
    src = tmp_path_factory.mktemp("tiles")
    terrain = settings.data_dir / "terrain"
    for dx, a, b in TILES:
        x0, y0 = OX + dx - 1_000, OY - 1_000
        path = write_asc(src / ign_name(x0, y0), x0, y0, 120, 120, 25, a, b)
        dem = convert(path, terrain)
        async with state.sessions() as session, session.begin():
            await record_import(session, path, dem, terrain)
    for i, g in enumerate((GENTLE, STEEP, NORTH, OUTSIDE), start=1):
        await add_parcel(state.sessions, f"03001000AA{i:04d}", g)


OFF = {
    "min_buildable_ha": 1,
    "max_poste_distance_m": None,
    "min_capacity_mw": None,
    "excluded_zones": {},
    "plu_allowed_types": None,
    "plu_allowed_labels": [],
}


async def _run(client: Any, settings: Settings, h: dict[str, str], **criteria: Any) -> dict:
    body = {
        "name": "terrain",
        "territory": {"communes": ["03001"]},
        "criteria": {**OFF, **criteria},
    }
    r = await client.post("/api/site-searches", json=body, headers=h)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = await client.post(f"/api/site-searches/{sid}/runs", json={}, headers=h)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    await drain(settings, 1)
    run = (await client.get(f"/api/site-searches/{sid}/runs/{run_id}", headers=h)).json()
    assert run["status"] == "succeeded", run
    r = await client.get(f"/api/site-searches/{sid}/runs/{run_id}/sites", headers=h)
    return {"run": run, "sites": {s["parcel_ids"][0][-1]: s for s in r.json()["items"]}}


async def test_slope_and_north_criteria_remove_and_count(
    terrain_layout: None, client: Any, auth_headers: Any, settings: Settings
) -> None:
    h = await auth_headers(Role.OPS)
    out = await _run(client, settings, h, max_slope_pct=10, max_north_share=50)
    counts = out["run"]["counts"]
    assert counts["sites_found"] == 4
    assert counts["removed_slope"] == 1 and counts["removed_north_share"] == 1
    assert counts["sites_kept"] == 2
    assert out["run"]["criteria"]["max_slope_pct"] == 10
    assert out["run"]["criteria"]["max_north_share"] == 50
    sites = out["sites"]
    assert set(sites) == {"1", "4"}  # the gentle one and the one without terrain
    gentle = sites["1"]["facts"]
    assert gentle["terrain"]["mean_slope_pct"] == pytest.approx(3.0, abs=0.5)
    assert gentle["terrain"]["north_share_pct"] == 0.0
    assert gentle["verdicts"]["slope"]["verdict"] == "pass"
    assert gentle["verdicts"]["slope"]["reason"].startswith("Pente moyenne 3,0 % ≤ 10 %")
    assert gentle["verdicts"]["north_share"]["verdict"] == "pass"
    outside = sites["4"]["facts"]
    assert outside["terrain"] is None  # never a slope of 0
    assert outside["verdicts"]["slope"] == {"verdict": "absent", "reason": f"Pente : {ABSENT}"}
    assert outside["verdicts"]["north_share"]["verdict"] == "absent"

    # Looser: the steep one stays out by slope; without the north limit, the north one is in.
    out = await _run(client, settings, h, max_slope_pct=15, max_north_share=None)
    assert set(out["sites"]) == {"1", "3", "4"}
    assert out["run"]["counts"]["removed_slope"] == 1
    assert out["run"]["counts"]["removed_north_share"] == 0
    north = out["sites"]["3"]["facts"]
    assert north["terrain"]["north_share_pct"] == 100.0
    assert north["verdicts"]["north_share"] == {"verdict": "off"}
    # Both off: every site, no terrain read.
    out = await _run(client, settings, h, max_slope_pct=None, max_north_share=None)
    assert set(out["sites"]) == {"1", "2", "3", "4"}
    assert out["sites"]["2"]["facts"]["terrain"] is None


async def test_terrain_criteria_out_of_range_are_422(client: Any, auth_headers: Any) -> None:
    h = await auth_headers(Role.OPS)
    for bad in ({"max_slope_pct": -1}, {"max_north_share": 101}, {"max_slope_pct": "steep"}):
        body = {"name": "x", "territory": {"communes": ["03001"]}, "criteria": bad}
        r = await client.post("/api/site-searches", json=body, headers=h)
        assert r.status_code == 422, (bad, r.text)


async def test_terrain_in_the_score_and_its_completeness(
    terrain_layout: None, client: Any, auth_headers: Any, settings: Settings
) -> None:
    # Four 12 ha sites alike but for their terrain (no poste, zone or PLU criterion): the
    # site-only criterion "terrain" (weight 10 of 110) reads slope and north share; where no
    # terrain model covers the site it is missing (0.5), never a flat 0 %.
    h = await auth_headers(Role.OPS)
    out = await _run(client, settings, h, max_slope_pct=100, max_north_share=100)
    b = {k: s["facts"]["breakdown"] for k, s in out["sites"].items()}
    assert set(b) == {"1", "2", "3", "4"}
    assert b["1"]["terrain"]["value"] == 1.0 and b["1"]["terrain"]["data"] == "real"
    assert b["1"]["terrain"]["reason"].startswith("Pente moyenne 3,0 %, 0 % de la surface")
    assert b["2"]["terrain"]["value"] == pytest.approx(0.25, abs=0.03)  # 20 %: 0.5 → 0 at 25 %
    assert b["3"]["terrain"]["value"] == 0.0  # all of it facing north
    assert b["4"]["terrain"] == {
        "value": 0.5,
        "weight": 10.0,
        "points": pytest.approx(0.5 * 10 * 100 / 110, abs=0.01),
        "reason": f"Relief (pente, exposition) : {ABSENT}",
        "data": "missing",
    }
    for other in b["1"]:
        if other not in ("terrain", "sun"):  # the sun: another place, another estimate
            assert b["1"][other] == b["4"][other], other
    s = out["sites"]
    assert s["1"]["score"] - s["4"]["score"] == pytest.approx(0.5 * 10 * 100 / 110, abs=0.1)
    assert s["1"]["completeness"] - s["4"]["completeness"] == pytest.approx(10 / 110, abs=1e-3)
    assert [s[k]["rank"] for k in ("1", "4", "2", "3")] == [1, 2, 3, 4]
