"""Read a reference-layer file in batches: GeoJSON(.gz), GeoPackage, zipped Shapefile, CSV.

Vector formats go through GDAL (pyogrio's Arrow stream, so a 1M-feature file is never loaded
whole); CSV goes through the csv module (x/y or lon/lat columns, or a WKT column). Each batch
comes out as attribute columns plus shapely geometries reprojected to EPSG:4326.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo.importers.errors import ImportFailed

WGS84 = CRS.from_epsg(4326)
LAMBERT93 = CRS.from_epsg(2154)
# Rows outside metropolitan France (and Corsica) are rejected: the product works there only,
# and this catches bogus coordinates that are still valid numbers (AUZERETTE's -636, -336).
FRANCE_BOUNDS = (-5.8, 41.0, 10.0, 51.6)
BATCH_SIZE = 50_000

XY_COLUMNS = [
    ("lon", "lat", WGS84),
    ("longitude", "latitude", WGS84),
    ("x_wgs84", "y_wgs84", WGS84),
    ("x_l93", "y_l93", LAMBERT93),
    ("x", "y", None),
    ("coord_x", "coord_y", None),
]
_WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")


class ArrowColumns(Mapping[str, list[Any]]):
    """Columns of an Arrow batch by lower-cased name, converted to lists on first use only.

    A cadastre file has a dozen columns and the importer reads three of them: converting the
    others would cost more than parsing the file.
    """

    def __init__(self, batch: Any, names: list[str]) -> None:
        self._batch = batch
        self._names = {n.lower(): n for n in names}
        self._lists: dict[str, list[Any]] = {}

    def __getitem__(self, key: str) -> list[Any]:
        value = self._lists.get(key)
        if value is None:
            value = self._lists[key] = self._batch.column(self._names[key]).to_pylist()
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._names  # without converting the column

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class Batch:
    """Attribute columns (lower-cased names) and their EPSG:4326 geometries (None when absent)."""

    columns: Mapping[str, list[Any]]
    geoms: np.ndarray
    offset: int  # 0-based index of the first row in the file
    wkb: np.ndarray | None = None  # the file's own WKB when no reprojection was needed

    def __len__(self) -> int:
        return len(self.geoms)


def file_checksum(path: Path) -> str:
    """sha256 of the file; for .gz also checks the whole stream decompresses (truncation)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if path.suffix.lower() == ".gz":
        try:
            with gzip.open(path, "rb") as gz:
                while gz.read(1 << 20):
                    pass
        except (EOFError, OSError, zlib.error) as exc:
            raise ImportFailed(path, f"corrupt or truncated gzip file ({exc})") from None
    return digest.hexdigest()


def gdal_path(path: Path) -> str:
    """The GDAL path of a file: /vsigzip/ for .gz, /vsizip/ for .zip."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return f"/vsigzip/{path}"
    if name.endswith(".zip"):
        return f"/vsizip/{path}"
    return str(path)


def parse_crs(text: str | None, path: Path) -> CRS | None:
    """A user-given CRS (EPSG:2154, 2154, a WKT…), or an error naming the file."""
    if not text:
        return None
    try:
        return CRS.from_user_input(int(text) if text.isdigit() else text)
    except CRSError:
        raise ImportFailed(path, f"unknown CRS {text!r}") from None


def _transformer(src: CRS) -> Transformer | None:
    if src.equals(WGS84, ignore_axis_order=True):
        return None
    return Transformer.from_crs(src, WGS84, always_xy=True)


def to_wgs84(geoms: np.ndarray, src: CRS) -> np.ndarray:
    """Reproject shapely geometries to lon/lat (no-op for WGS84 / CRS84)."""
    tr = _transformer(src)
    if tr is None:
        return geoms

    def fn(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return tr.transform(x, y, errcheck=False)

    # types-shapely types the callback of interleaved=True only (one (n, 2) array in and out).
    return shapely.transform(geoms, fn, interleaved=False)  # type: ignore[arg-type]


def _looks_lonlat(geoms: np.ndarray) -> bool:
    present = geoms[~shapely.is_missing(geoms)]
    if not len(present):
        return True
    xmin, ymin, xmax, ymax = shapely.total_bounds(present)
    return bool(-180 <= xmin and xmax <= 180 and -90 <= ymin and ymax <= 90)


def _resolve_crs(path: Path, declared: CRS | None, forced: CRS | None, geoms: np.ndarray) -> CRS:
    """The CRS to read with: --crs, else the file's, else WGS84 when the numbers fit."""
    if forced is not None:
        return forced
    crs = declared or WGS84
    # GDAL says WGS84 for any GeoJSON without a crs member: check the numbers agree.
    if not crs.is_geographic or _looks_lonlat(geoms):
        return crs
    raise ImportFailed(
        path,
        "unknown CRS: the coordinates are not longitude/latitude and the file declares no "
        "projected CRS; "
        "pass --crs (e.g. --crs EPSG:2154)",
    )


def read_batches(
    path: Path, crs: str | None = None, batch_size: int = BATCH_SIZE
) -> Iterator[Batch]:
    """Stream a file as batches; raise ImportFailed with a one-line reason when unreadable."""
    if not path.exists():
        raise ImportFailed(path, "no such file")
    if path.stat().st_size == 0:
        raise ImportFailed(path, "empty file")
    forced = parse_crs(crs, path)
    if path.name.lower().endswith((".csv", ".csv.gz", ".txt")):
        yield from _read_csv(path, forced, batch_size)
    elif _is_json_array(path):
        yield from _read_records(path, forced, batch_size)
    else:
        yield from _read_vector(path, forced, batch_size)


def _is_json_array(path: Path) -> bool:
    """A JSON file whose top level is an array (web-API records), not a GeoJSON object."""
    if not path.name.lower().endswith((".json", ".json.gz")):
        return False
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig") as fh:
        head = fh.read(4096).lstrip()
    return head.startswith("[")


def flatten_record(record: dict[str, Any]) -> dict[str, Any]:
    """One web-API record as flat columns: ``values{INFO_CR}`` → ``info_cr``,
    ``grd1{name}`` → ``grd1_name`` (Caparéseau's raw format)."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                name = sub if key.lower() == "values" else f"{key}_{sub}"
                flat[name.lower()] = v
        else:
            flat[key.lower()] = value
    return flat


def _read_records(path: Path, forced: CRS | None, batch_size: int) -> Iterator[Batch]:
    """A JSON array of records (Caparéseau's web API: X_l93/Y_l93 or X/Y, ``values{INFO_*}``),
    read like a CSV of those fields: the whole array is parsed (3,000 postes: 2 MB)."""
    import orjson

    raw = path.read_bytes()
    try:
        records = orjson.loads(gzip.decompress(raw) if path.suffix.lower() == ".gz" else raw)
    except orjson.JSONDecodeError as exc:
        raise ImportFailed(path, f"not valid JSON ({_short(exc)})") from None
    rows = [flatten_record(r) for r in records if isinstance(r, dict)]
    if not rows:
        raise ImportFailed(path, "the file holds no records")
    names = list(dict.fromkeys(k for r in rows for k in r))
    geom_kind, cols = _csv_geometry_columns(names, forced)

    def text_(v: Any) -> str:
        return "" if v is None else str(v)

    for offset in range(0, len(rows), batch_size):
        chunk = [[text_(r.get(n)) for n in names] for r in rows[offset : offset + batch_size]]
        yield _csv_batch(path, names, chunk, geom_kind, cols, forced, offset)


def _read_vector(path: Path, forced: CRS | None, batch_size: int) -> Iterator[Batch]:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        ctx = pyogrio.raw.open_arrow(gdal_path(path), batch_size=batch_size, use_pyarrow=True)
        meta, reader = ctx.__enter__()
    except (DataSourceError, DataLayerError, OSError, RuntimeError) as exc:
        raise ImportFailed(path, f"not a readable vector file ({_short(exc)})") from None
    try:
        declared = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
        geom_col: str | None = None
        src: CRS | None = None
        offset = 0
        while True:
            try:
                rb = reader.read_next_batch()
            except StopIteration:
                break
            except (OSError, RuntimeError, ValueError) as exc:
                problem = f"read error after {offset} rows ({_short(exc)})"
                raise ImportFailed(path, problem) from None
            if geom_col is None:
                geom_col = _geometry_column(rb.schema, meta)
            cols = ArrowColumns(rb, [n for n in rb.schema.names if n != geom_col])
            wkb = rb.column(geom_col).to_numpy(zero_copy_only=False)
            geoms = shapely.from_wkb(wkb)
            if src is None:
                src = _resolve_crs(path, declared, forced, geoms)
            if _transformer(src) is None:
                yield Batch(cols, geoms, offset, wkb)
            else:
                yield Batch(cols, to_wgs84(geoms, src), offset)
            offset += rb.num_rows
        if offset == 0:
            raise ImportFailed(path, "the file holds no features")
    finally:
        ctx.__exit__(None, None, None)


def _geometry_column(schema: Any, meta: Mapping[str, object]) -> str:
    """The WKB column of an Arrow batch (GDAL names it wkb_geometry, geometry, geom…)."""
    for f in schema:
        if (f.metadata or {}).get(b"ARROW:extension:name") == b"geoarrow.wkb":
            return str(f.name)
    for name in (meta.get("geometry_name"), "wkb_geometry", "geometry", "wkb"):
        if name and name in schema.names:
            return str(name)
    raise ValueError("no geometry column")


def _short(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip()[:200]


def _sniff_delimiter(sample: str) -> str:
    first = sample.splitlines()[0] if sample else ""
    return max([";", ",", "\t", "|"], key=first.count)


def _read_csv(path: Path, forced: CRS | None, batch_size: int) -> Iterator[Batch]:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        assert isinstance(fh, io.TextIOBase)
        sample = fh.read(65536)
        fh.seek(0)
        reader = csv.reader(fh, delimiter=_sniff_delimiter(sample))
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise ImportFailed(path, "empty file")
        names = [h.strip().lower() for h in header]
        geom_kind, cols = _csv_geometry_columns(names, forced)
        offset = 0
        rows: list[list[str]] = []
        first = True
        for row in reader:
            # Caparéseau exports repeat a row of French labels under the codes: skip it.
            if first and row and row[0].strip().lower() == names[0] and len(names) > 1:
                first = False
                continue
            first = False
            if not any(c.strip() for c in row):
                continue
            rows.append(row)
            if len(rows) >= batch_size:
                yield _csv_batch(path, names, rows, geom_kind, cols, forced, offset)
                offset += len(rows)
                rows = []
        if rows:
            yield _csv_batch(path, names, rows, geom_kind, cols, forced, offset)
            offset += len(rows)
        if offset == 0:
            raise ImportFailed(path, "the file holds no data rows")


def _csv_geometry_columns(names: list[str], forced: CRS | None) -> tuple[str, tuple[Any, ...]]:
    for xname, yname, crs in XY_COLUMNS:
        # With --crs, take the first pair that may be in that CRS (x_l93 for EPSG:2154, …).
        fits = forced is None or crs is None or crs.equals(forced, ignore_axis_order=True)
        if xname in names and yname in names and fits:
            return "xy", (names.index(xname), names.index(yname), crs)
    for w in _WKT_COLUMNS:
        if w in names:
            return "wkt", (names.index(w),)
    return "none", ()


def _num(text: str) -> float:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return float("nan")


def _csv_batch(
    path: Path,
    names: list[str],
    rows: list[list[str]],
    geom_kind: str,
    cols: tuple[Any, ...],
    forced: CRS | None,
    offset: int,
) -> Batch:
    width = len(names)
    padded = [(r + [""] * width)[:width] for r in rows]
    columns = {n: [r[i].strip() or None for r in padded] for i, n in enumerate(names)}
    declared: CRS | None = None
    if geom_kind == "xy":
        xi, yi, declared = cols
        x = [_num(r[xi]) for r in padded]
        y = [_num(r[yi]) for r in padded]
        geoms = shapely.points(x, y)
        geoms[np.isnan(x) | np.isnan(y)] = None
    elif geom_kind == "wkt":
        texts = np.array([r[cols[0]] or None for r in padded], dtype=object)
        geoms = shapely.from_wkt(texts, on_invalid="ignore")
    else:
        geoms = np.full(len(padded), None, dtype=object)
    if geom_kind == "none":
        return Batch(columns, geoms, offset)
    src = _resolve_crs(path, declared, forced, geoms)
    return Batch(columns, to_wgs84(geoms, src), offset)
