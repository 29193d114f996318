"""Terrain from IGN's elevation models (BD ALTI 25 m, RGE ALTI 5 m / 1 m): the files kept as
tiled GeoTIFFs with a VRT mosaic per cell size, and per site the mean slope (%) and the share of
north-facing cells by zonal statistics (issue 17, docs/site-finder.md).

Files are in Lambert-93 (EPSG:2154, IGN69 heights). A site's statistics read only the window of
the mosaic under its polygon (windowed reads, never a whole département in memory), take the
gradients with the real cell size (numpy) and keep the cells whose centre is in the polygon
(``rasterio.features.geometry_mask``). Where the mosaics have no data under (most of) a site,
the answer is ``None``: "données absentes", never a slope of 0.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.features import geometry_mask
from rasterio.transform import from_origin
from rasterio.windows import Window, from_bounds
from sqlalchemy import text

from geo.activity import bump_layer_version

LAMBERT93 = CRS.from_epsg(2154)
NODATA = -99999.0  # IGN's NODATA_value
MOSAIC = "mosaic.vrt"
# Aspect is meaningless on flat ground: a cell counts as north-facing only when its slope is
# above this (%) and its downhill direction is within NORTH_HALF_ANGLE of north.
FLAT_PCT = 2.0
NORTH_HALF_ANGLE = 45.0
# A site is covered when the mosaic has heights under this share of its cells.
COVERED_SHARE = 0.95
# Above this many cells in a site's window, heights are read averaged onto coarser cells.
MAX_WINDOW_CELLS = 4_000_000
_HEADER_KEYS = {"ncols", "nrows", "xllcorner", "yllcorner", "xllcenter", "yllcenter", "cellsize"}
_ASC_SUFFIXES = {".asc", ".grd"}
_TIF_SUFFIXES = {".tif", ".tiff"}


class TerrainError(ValueError):
    """A terrain file we can't use, with the reason in one line."""


@dataclass(frozen=True)
class DemFile:
    """A converted elevation file: where it is kept and what it covers (Lambert-93)."""

    raster: Path
    cellsize: float
    bounds: tuple[float, float, float, float]  # left, bottom, right, top
    cells: int
    valid_cells: int
    checksum: str
    pending: Path | None = None  # written, not yet in place (``publish_file`` or ``discard``)


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_ascii_header(path: Path) -> dict[str, float]:
    """The ESRI ASCII grid header (ncols, nrows, x/yllcorner or centre, cellsize,
    NODATA_value), checked before GDAL reads the file."""
    header: dict[str, float] = {}
    with path.open("rb") as f:
        for _ in range(6):
            line = f.readline().decode("ascii", "replace").split()
            if len(line) != 2 or not re.fullmatch(r"[A-Za-z_]+", line[0]):
                break
            try:
                header[line[0].lower()] = float(line[1])
            except ValueError:
                raise TerrainError(f"ESRI ASCII grid header: {line[0]} is not a number") from None
    missing = [k for k in ("ncols", "nrows", "cellsize") if k not in header]
    if not ({"xllcorner", "xllcenter"} & header.keys()):
        missing.append("xllcorner")
    if not ({"yllcorner", "yllcenter"} & header.keys()):
        missing.append("yllcorner")
    if missing:
        raise TerrainError(
            "not an ESRI ASCII grid: header without "
            + ", ".join(missing)
            + " (expected ncols/nrows/xllcorner/yllcorner/cellsize/NODATA_value)"
        )
    if header["ncols"] < 2 or header["nrows"] < 2 or header["cellsize"] <= 0:
        raise TerrainError("ESRI ASCII grid header: ncols/nrows ≥ 2 and cellsize > 0 needed")
    unknown = set(header) - _HEADER_KEYS - {"nodata_value"}
    if unknown:
        raise TerrainError(f"ESRI ASCII grid header: unknown key {sorted(unknown)[0]}")
    return header


def _crs_of(path: Path, found: CRS | None, given: str | None) -> CRS:
    """The file's CRS: declared (GeoTIFF, .prj), given (--crs), or Lambert-93 by IGN's file
    name (…_LAMB93_…); only Lambert-93 is accepted (IGN's terrain models are in it)."""
    if given:
        try:
            crs = CRS.from_user_input(given)
        except RasterioError:
            raise TerrainError(f"unknown CRS {given!r}") from None
    elif found is not None:
        crs = found
    elif "LAMB93" in path.name.upper():
        crs = LAMBERT93
    else:
        raise TerrainError(
            "unknown CRS: the file declares none (no .prj) and its name does not say LAMB93; "
            "give --crs EPSG:2154"
        )
    if crs.to_epsg() != 2154:
        raise TerrainError(
            f"CRS {crs.to_string() or 'unknown'} not supported: terrain models must be in "
            "Lambert-93 (EPSG:2154)"
        )
    return crs


def convert(path: Path, terrain_dir: Path, crs: str | None = None, publish: bool = True) -> DemFile:
    """Check an elevation file (ESRI ASCII grid or GeoTIFF) and keep it as a tiled, compressed
    Float32 GeoTIFF under ``terrain_dir/<cellsize>m/``, then rebuild that folder's mosaic.
    ``publish=False``: the file is left aside (``DemFile.pending``) until the caller's database
    record is committed — then ``publish_file`` and ``build_mosaic`` — or fails: ``discard``."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise TerrainError("no such file")
    if suffix in _ASC_SUFFIXES:
        check_ascii_header(path)
    elif suffix not in _TIF_SUFFIXES:
        raise TerrainError(f"unknown format {suffix or '(none)'}: .asc (ESRI ASCII grid) or .tif")
    try:
        with rasterio.open(path) as src:
            if src.count != 1:
                raise TerrainError(f"{src.count} bands: an elevation model has one")
            the_crs = _crs_of(path, src.crs, crs)
            xres, yres = src.res
            t = src.transform
            if not math.isclose(xres, yres, rel_tol=1e-6) or t.b or t.d or t.e >= 0:
                raise TerrainError("cells must be square and north-up")
            cellsize = float(xres)
            folder = terrain_dir / f"{cellsize:g}m"
            folder.mkdir(parents=True, exist_ok=True)
            out = folder / f"{path.stem}.tif"
            tmp = folder / f".{path.stem}.tif.part"
            profile = {
                "driver": "GTiff",
                "dtype": "float32",
                "count": 1,
                "width": src.width,
                "height": src.height,
                "crs": the_crs,
                "transform": src.transform,
                "nodata": NODATA,
                "tiled": True,
                "blockxsize": 256,
                "blockysize": 256,
                "compress": "deflate",
                "predictor": 3,
            }
            valid = 0
            src_nodata = src.nodata
            with rasterio.open(tmp, "w", **profile) as dst:
                for _, window in dst.block_windows(1):
                    z = src.read(1, window=window).astype("float32")
                    bad = ~np.isfinite(z)
                    if src_nodata is not None:
                        bad |= z == np.float32(src_nodata)
                    z[bad] = NODATA
                    valid += int(z.size - bad.sum())
                    dst.write(z, 1, window=window)
            left, bottom, right, top = src.bounds
            cells = src.width * src.height
    except TerrainError:
        raise
    except RasterioError as exc:
        if "tmp" in locals():
            tmp.unlink(missing_ok=True)
        raise TerrainError(f"unreadable: {' '.join(str(exc).split())[:200]}") from None
    if not valid:
        tmp.unlink(missing_ok=True)
        raise TerrainError("no height in the file (every cell is NODATA)")
    dem = DemFile(
        raster=out,
        cellsize=cellsize,
        bounds=(left, bottom, right, top),
        cells=cells,
        valid_cells=valid,
        checksum=file_checksum(path),
        pending=tmp,
    )
    if publish:
        publish_file(dem)
        build_mosaic(folder)
    return dem


def publish_file(dem: DemFile) -> None:
    """Put a converted file in place (atomically: a reader sees the old or the new one)."""
    if dem.pending is not None:
        os.replace(dem.pending, dem.raster)


def discard(dem: DemFile) -> None:
    """Drop a converted file that was not recorded."""
    if dem.pending is not None:
        dem.pending.unlink(missing_ok=True)


def build_mosaic(folder: Path) -> Path:
    """A VRT over every GeoTIFF of one cell size (IGN's tiles share a grid), written next to
    them and swapped in atomically; a tile's NODATA never hides its neighbour's heights."""
    tiles = []
    for tif in sorted(folder.glob("*.tif")):
        with rasterio.open(tif) as ds:
            tiles.append((tif.name, ds.bounds, ds.res[0], ds.width, ds.height, ds.crs))
    if not tiles:
        raise TerrainError(f"no GeoTIFF in {folder}")
    res = min(t[2] for t in tiles)
    left = min(t[1].left for t in tiles)
    top = max(t[1].top for t in tiles)
    right = max(t[1].right for t in tiles)
    bottom = min(t[1].bottom for t in tiles)
    width = round((right - left) / res)
    height = round((top - bottom) / res)
    sources = []
    for name, b, r, w, h, _ in tiles:
        sources.append(
            f"""    <ComplexSource>
      <SourceFilename relativeToVRT="1">{escape(name)}</SourceFilename>
      <SourceBand>1</SourceBand>
      <SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>
      <DstRect xOff="{(b.left - left) / res:.6f}" yOff="{(top - b.top) / res:.6f}" """
            f"""xSize="{w * r / res:.6f}" ySize="{h * r / res:.6f}"/>
      <NODATA>{NODATA:g}</NODATA>
    </ComplexSource>"""
        )
    vrt = f"""<VRTDataset rasterXSize="{width}" rasterYSize="{height}">
  <SRS dataAxisToSRSAxisMapping="1,2">{escape(tiles[0][5].to_wkt())}</SRS>
  <GeoTransform>{left:.6f}, {res:.10g}, 0, {top:.6f}, 0, {-res:.10g}</GeoTransform>
  <VRTRasterBand dataType="Float32" band="1">
    <NoDataValue>{NODATA:g}</NoDataValue>
{chr(10).join(sources)}
  </VRTRasterBand>
</VRTDataset>
"""
    out = folder / MOSAIC
    tmp = folder / f".{MOSAIC}.part"
    tmp.write_text(vrt)
    os.replace(tmp, out)
    return out


def mosaics(terrain_dir: Path | None) -> list[Path]:
    """The mosaics under ``terrain_dir``, finest cell size first."""
    if terrain_dir is None or not terrain_dir.is_dir():
        return []
    found = []
    for vrt in terrain_dir.glob(f"*/{MOSAIC}"):
        with rasterio.open(vrt) as ds:
            found.append((ds.res[0], vrt))
    return [v for _, v in sorted(found)]


def slope_aspect(z: np.ndarray, cellsize: float) -> tuple[np.ndarray, np.ndarray]:
    """Slope (%) and downhill direction (degrees clockwise from north, −180…180) of each cell
    of a north-up grid (row 0 at the top), by central differences with the real cell size; a
    cell next to a missing height is NaN."""
    d_row, d_col = np.gradient(z, cellsize)
    dz_east = d_col
    dz_north = -d_row  # rows go south
    slope = np.hypot(dz_east, dz_north) * 100.0
    aspect = np.degrees(np.arctan2(-dz_east, -dz_north))  # where the ground goes down
    return slope, aspect


def _stats_on(ds: Any, geom: Any) -> tuple[float, dict[str, Any] | None]:
    """(share of the polygon's cells with a height, statistics) on one mosaic."""
    res = ds.res[0]
    left, bottom, right, top = geom.bounds
    # One cell more on each side: the gradient at the polygon's edge uses its neighbours.
    want = from_bounds(left - res, bottom - res, right + res, top + res, ds.transform)
    col0, row0 = math.floor(want.col_off), math.floor(want.row_off)
    cols = math.ceil(want.col_off + want.width) - col0
    rows = math.ceil(want.row_off + want.height) - row0
    factor = max(1, math.ceil(math.sqrt(rows * cols / MAX_WINDOW_CELLS)))
    out_rows, out_cols = math.ceil(rows / factor), math.ceil(cols / factor)
    cell = res * factor
    x0, y0 = ds.transform @ (col0, row0)
    transform = from_origin(x0, y0, cell, cell)
    z = np.full((out_rows, out_cols), np.nan, dtype="float32")
    # The output cells wholly inside the mosaic are read; outside it: no height.
    oc0 = math.ceil(max(0, -col0) / factor)
    or0 = math.ceil(max(0, -row0) / factor)
    oc1 = min(out_cols, (ds.width - col0) // factor)
    or1 = min(out_rows, (ds.height - row0) // factor)
    if oc1 > oc0 and or1 > or0:
        part = ds.read(
            1,
            window=Window(
                col0 + oc0 * factor,
                row0 + or0 * factor,
                (oc1 - oc0) * factor,
                (or1 - or0) * factor,
            ),
            out_shape=(or1 - or0, oc1 - oc0),
            resampling=Resampling.average,
            masked=True,
        )
        z[or0:or1, oc0:oc1] = part.filled(np.nan)
    inside = geometry_mask([geom], (out_rows, out_cols), transform, invert=True)
    if not inside.any():  # a sliver between cell centres: the cells it touches
        inside = geometry_mask(
            [geom], (out_rows, out_cols), transform, invert=True, all_touched=True
        )
    n = int(inside.sum())
    if not n:
        return 0.0, None
    slope, aspect = slope_aspect(z, cell)
    ok = inside & np.isfinite(slope)
    valid = int(ok.sum())
    share = valid / n
    if not valid:
        return share, None
    s = slope[ok]
    north = (s > FLAT_PCT) & (np.abs(aspect[ok]) <= NORTH_HALF_ANGLE)
    return share, {
        "mean_slope_pct": round(float(s.mean()), 2),
        "north_share_pct": round(100.0 * float(north.sum()) / valid, 1),
        "cells": valid,
        "cellsize_m": round(cell, 3),
        "covered_share": round(share, 3),
    }


class TerrainReader:
    """Zonal statistics of sites on the mosaics (finest covering one first); open it once per
    batch of sites (``with TerrainReader(paths) as t: t.site(geom)``)."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self._open: list[Any] = []

    def __enter__(self) -> TerrainReader:
        self._open = [rasterio.open(p) for p in self.paths]
        return self

    def __exit__(self, *exc: object) -> None:
        for ds in self._open:
            ds.close()
        self._open = []

    def site(self, geom93: Any) -> dict[str, Any] | None:
        """Mean slope (%) and north-facing share (%) of a Lambert-93 polygon, or None where no
        mosaic has heights under at least COVERED_SHARE of it (données absentes)."""
        for ds in self._open:
            b = ds.bounds
            g = geom93.bounds
            if g[2] < b.left or g[0] > b.right or g[3] < b.bottom or g[1] > b.top:
                continue
            share, stats = _stats_on(ds, geom93)
            if stats is not None and share >= COVERED_SHARE:
                return stats
        return None


# The footprint (a Lambert-93 rectangle, edges segmentized before they are projected) as the
# layer's coverage, with its import; a re-import of the same file replaces its rows.
_SAME_FILE = """SELECT id, checksum FROM imports
WHERE layer = 'terrain' AND file_name = :name AND status = 'succeeded'"""
_RECORD = """WITH imp AS (
    INSERT INTO imports (layer, file_name, checksum, status, read_count, inserted_count,
                         data_date, finished_at)
    VALUES ('terrain', :name, :checksum, 'succeeded', :cells, :valid, :data_date, now())
    RETURNING id
)
INSERT INTO layer_coverage (import_id, layer, method, areas, geom)
SELECT imp.id, 'terrain', 'file', CAST(:areas AS jsonb),
       ST_Multi(ST_Transform(ST_Segmentize(ST_MakeEnvelope(:l, :b, :r, :t, 2154), 1000), 4326))
FROM imp
RETURNING import_id, area_km2"""


async def record_import(
    session: Any, path: Path, dem: DemFile, terrain_dir: Path, data_date: Any = None
) -> dict[str, Any]:
    """The file's import and its footprint in ``layer_coverage`` (layer ``terrain``), in the
    caller's transaction; an unchanged re-import writes nothing."""
    rows = (await session.execute(text(_SAME_FILE), {"name": path.name})).all()
    if any(r.checksum == dem.checksum for r in rows):
        return {"status": "unchanged"}
    if rows:
        await session.execute(
            text("DELETE FROM imports WHERE id = ANY(:ids)"), {"ids": [r.id for r in rows]}
        )
    west, south, east, north = dem.bounds
    areas = {
        "kind": "file",
        "codes": [],
        "raster": str(dem.raster.relative_to(terrain_dir)),
        "cellsize_m": dem.cellsize,
    }
    row = (
        await session.execute(
            text(_RECORD),
            {
                "name": path.name,
                "checksum": dem.checksum,
                "cells": dem.cells,
                "valid": dem.valid_cells,
                "data_date": data_date,
                "areas": json.dumps(areas),
                "l": west,
                "b": south,
                "r": east,
                "t": north,
            },
        )
    ).one()
    await bump_layer_version(session, "coverage")  # the coverage tiles and OGC items changed
    return {"status": "replaced" if rows else "inserted", "import_id": row[0], "km2": row[1]}
