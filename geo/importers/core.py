"""The import pipeline shared by every layer.

One file, one transaction: stream batches → per-row checks in Python → COPY into a temporary
staging table → geometry made valid in SQL (counted) → one INSERT … ON CONFLICT (natural key)
DO UPDATE … WHERE IS DISTINCT FROM (counted as inserted / updated / unchanged) → an ``imports``
row and a layer-version bump. Any error rolls everything back.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geo.activity import bump_layer_version
from geo.importers.coverage import record_coverage
from geo.importers.errors import ImportFailed
from geo.importers.reader import FRANCE_BOUNDS, Batch, file_checksum, read_batches
from geo.models.enums import DataSource

MAX_STORED_REJECTIONS = 200
Row = tuple[Any, ...]
# prepare(batch, options) -> per row: a tuple of staged values, or a rejection reason (str).
Prepare = Callable[[Batch, "ImportOptions"], list[Row | str]]


@dataclass
class ImportOptions:
    """What the command line can say about a file the file doesn't say itself."""

    crs: str | None = None
    zone_type: str | None = None
    capacity: Path | None = None
    data_date: date | None = None
    source: str | None = None
    batch_size: int = 50_000
    cache: dict[str, Any] = field(default_factory=dict)  # per-import state of a layer
    # Where the file is complete (geo.importers.coverage): départements "22,29", "none", or a
    # polygon file; neither: derived from the file by its layer.
    coverage: str | None = None
    coverage_file: Path | None = None


@dataclass
class LayerSpec:
    """How one reference layer is staged and merged (identifiers here are code, never input)."""

    name: str  # command name: parcels, env-zones, …
    table: str  # table and map-layer name
    geometry: str  # "polygon" or "point"
    fields: list[tuple[str, str]]  # staged columns (name, PostgreSQL type), geometry excluded
    key: tuple[str, ...]  # natural key (a unique constraint of the table)
    compare: tuple[str, ...]  # columns whose change makes an update (geom included)
    check_columns: Callable[[set[str], ImportOptions, Path], None]
    prepare: Prepare
    after: Callable[[AsyncSession, ImportResult], Any] | None = None
    # How a file of this layer says where it is complete (geo.importers.coverage), or None.
    coverage: str | None = None


@dataclass
class ImportResult:
    """Counts and details of one import."""

    layer: str
    file_name: str
    checksum: str
    import_id: int = 0
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    options_cache: dict[str, Any] = field(default_factory=dict, repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    coverage: dict[str, Any] | None = None  # the layer_coverage row stored, if any
    warnings: list[dict[str, Any]] = field(default_factory=list)  # rows kept, value doubtful

    def reject(self, row: int, key: Any, reason: str) -> None:
        """Count a rejected row (the first ones are kept with their reason)."""
        self.rejected += 1
        self.reasons[_reason_family(reason)] += 1
        if len(self.rejections) < MAX_STORED_REJECTIONS:
            self.rejections.append({"row": row, "key": key, "reason": reason})

    def summary(self) -> str:
        """The lines printed at the end of an import."""
        lines = [
            f"{self.layer} ← {self.file_name} (import #{self.import_id}): read {self.read:,}, "
            f"inserted {self.inserted:,}, updated {self.updated:,}, "
            f"unchanged {self.unchanged:,}, repaired {self.repaired:,}, "
            f"rejected {self.rejected:,}"
            + (
                f" in {sum(self.timings.values()):.1f}s ("
                + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items())
                + ")"
                if self.timings
                else ""
            )
        ]
        if self.coverage:
            c = self.coverage
            codes = ", ".join(c["codes"][:12]) + (" …" if len(c["codes"]) > 12 else "")
            lines.append(
                f"  coverage ({c['method']}): {c['kind']} {codes} — {c['area_km2']:,.1f} km²"
            )
        lines += [f"  rejected {n:,}: {r}" for r, n in self.reasons.most_common()]
        if self.warnings:
            lines.append(f"  warnings {len(self.warnings):,}: rows kept with a doubtful value")
            lines += [f"  {w['warning']} (row {w['row']})" for w in self.warnings[:5]]
        lines += [f"  {r['reason']} (row {r['row']})" for r in self.rejections[:5]]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _reason_family(reason: str) -> str:
    """Group reasons for the summary ('invalid parcel id 'X'' → 'invalid parcel id')."""
    return reason.split(" '", 1)[0].split(": ", 1)[0]


def warn(options: ImportOptions, row_no: int, message: str) -> None:
    """A row kept with a doubtful value: counted, the first ones listed with their row number."""
    found = options.cache.setdefault("warnings", [])
    found.append({"row": row_no, "warning": message})


def pick(columns: Mapping[str, list[Any]], *aliases: str) -> list[Any] | None:
    """The first column present among aliases (names are lower-cased by the reader)."""
    for a in aliases:
        if a in columns:
            return columns[a]
    return None


def require(path: Path, names: set[str], layer: str, *groups: tuple[str, ...]) -> None:
    """Fail with 'missing columns' unless each group has one of its aliases."""
    missing = [g[0] for g in groups if not any(a in names for a in g)]
    if missing:
        raise ImportFailed(path, f"missing columns: {', '.join(missing)} (is this a {layer} file?)")


_SOURCES = frozenset(s.value for s in DataSource)


def row_source(columns: Mapping[str, list[Any]], i: int, options: ImportOptions) -> str:
    """The provenance of a row: its 'source' attribute, else --source, else open data."""
    col = columns.get("source")
    value = (col[i] if col is not None else None) or options.source or DataSource.OPEN_DATA.value
    return value if value in _SOURCES else DataSource.OPEN_DATA.value


def _geometry_checks(spec: LayerSpec, geoms: np.ndarray) -> list[str | None]:
    """Per-row rejection reason from the geometry alone (None when fine)."""
    types = shapely.get_type_id(geoms)
    wanted = {3, 6} if spec.geometry == "polygon" else {0}
    out: list[str | None] = [None] * len(geoms)
    bounds = shapely.bounds(geoms)
    w, s, e, n = FRANCE_BOUNDS
    finite = np.isfinite(bounds).all(axis=1)
    inside = finite & (bounds[:, 0] >= w) & (bounds[:, 1] >= s)
    inside &= (bounds[:, 2] <= e) & (bounds[:, 3] <= n)
    empty = shapely.is_empty(geoms)
    for i, t in enumerate(types.tolist()):
        if t < 0 or empty[i]:
            out[i] = "no geometry"
        elif t not in wanted:
            kind = "a polygon" if spec.geometry == "polygon" else "a point"
            out[i] = f"wrong geometry type: {_TYPE_NAMES.get(t, t)} is not {kind}"
        elif not inside[i]:
            out[i] = "outside metropolitan France: coordinates out of range or wrong CRS"
    return out


_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint"}
_TYPE_NAMES |= {5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


async def _stage(session: AsyncSession, spec: LayerSpec, rows: Sequence[Row]) -> None:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    columns = ["row_no", *(n for n, _ in spec.fields), "wkb"]
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        "lfs_stage", records=rows, columns=columns
    )


def _clean_sql(spec: LayerSpec) -> str:
    """Staging → clean: geometry parsed, made valid (polygons), duplicates of the key marked."""
    if spec.geometry == "polygon":
        geom = (
            "CASE WHEN v.valid THEN ST_Multi(v.g) "
            "ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(v.g), 3)) END"
        )
        valid = "ST_IsValid(g)"
    else:
        geom, valid = "v.g", "true"
    key = ", ".join(spec.key)
    return f"""
        CREATE TEMP TABLE lfs_clean ON COMMIT DROP AS
        SELECT s.*, v.valid, {geom} AS geom,
               row_number() OVER (PARTITION BY {key} ORDER BY s.row_no DESC) AS dup
        FROM lfs_stage s
        CROSS JOIN LATERAL (SELECT g, {valid} AS valid
                            FROM ST_GeomFromWKB(s.wkb, 4326) AS g) v"""


def _upsert_sql(spec: LayerSpec) -> str:
    """INSERT … ON CONFLICT (key) DO UPDATE only when something differs; counts the outcome."""
    cols = [n for n, _ in spec.fields] + ["geom"]
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in spec.key)
    old = ", ".join(f"t.{c}" for c in spec.compare)
    new = ", ".join(f"EXCLUDED.{c}" for c in spec.compare)
    return f"""
        WITH up AS (
            INSERT INTO {spec.table} AS t ({", ".join(cols)}, import_id)
            SELECT {", ".join(cols)}, :import_id FROM lfs_clean
            WHERE dup = 1 AND NOT ST_IsEmpty(geom)
            ON CONFLICT ({", ".join(spec.key)}) DO UPDATE SET {sets}, import_id = :import_id
            WHERE ({old}) IS DISTINCT FROM ({new})
            RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"""


def _staged_rows(
    spec: LayerSpec, path: Path, options: ImportOptions, result: ImportResult
) -> Iterator[tuple[list[Row], int]]:
    """Batches of rows ready for COPY (rejections counted on the way); runs in a thread."""
    first = True
    for batch in read_batches(path, options.crs, options.batch_size):
        if first:
            spec.check_columns(set(batch.columns), options, path)
            first = False
        result.read += len(batch)
        geo_reasons = _geometry_checks(spec, batch.geoms)
        prepared = spec.prepare(batch, options)
        wkbs = batch.wkb if batch.wkb is not None else shapely.to_wkb(batch.geoms)
        rows: list[Row] = []
        for i, (reason, rec) in enumerate(zip(geo_reasons, prepared, strict=True)):
            row_no = batch.offset + i + 1
            if isinstance(rec, str):
                result.reject(row_no, None, reason or rec)
                continue
            if reason is not None:
                result.reject(row_no, rec[0], reason)
                continue
            rows.append((row_no, *rec, wkbs[i]))
        yield rows, len(batch)


# Indexes not backing a constraint (GiST, secondary btrees): what bulk mode drops and rebuilds.
SECONDARY_INDEXES_SQL = """
    SELECT i.indexname, i.indexdef FROM pg_indexes i
    WHERE i.schemaname = current_schema() AND i.tablename = %(table)s
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
    ORDER BY i.indexname"""
BULK_MIN_ROWS = 20_000


async def _enter_bulk_mode(session: AsyncSession, spec: LayerSpec, staged: int) -> list[str]:
    """Drop the secondary indexes when the file outweighs the table; return their definitions.

    Rebuilding a GiST index in one sorted pass is several times faster than a million
    one-by-one insertions. The DROP locks the table until the commit, so readers of this
    layer wait for the import: acceptable when the table is small or empty (a first load).
    """
    if staged < BULK_MIN_ROWS:
        return []
    existing = await session.scalar(
        text(f"SELECT count(*) FROM (SELECT 1 FROM {spec.table} LIMIT :n) s"), {"n": staged}
    )
    if (existing or 0) >= staged:
        return []
    sql = SECONDARY_INDEXES_SQL.replace("%(table)s", ":table")
    defs = (await session.execute(text(sql), {"table": spec.table})).all()
    for name, _ in defs:
        await session.execute(text(f'DROP INDEX "{name}"'))
    return [d for _, d in defs]


_DONE = object()


async def _prefetch(gen: Iterator[Any], depth: int = 2) -> AsyncIterator[Any]:
    """Run a blocking generator in a thread, `depth` items ahead; re-raise its errors here."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in gen:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer
            q.put((_DONE, exc))

    thread = threading.Thread(target=produce, name="lfs-import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = await asyncio.to_thread(q.get)
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)


async def import_file(
    session: AsyncSession,
    spec: LayerSpec,
    path: Path,
    options: ImportOptions | None = None,
    progress: Callable[[int], object] | None = None,  # called with rows read; its result unused
) -> ImportResult:
    """Import one file into one layer, in the caller's transaction (which it doesn't commit)."""
    # A copy: layers fill in what they infer (zone type, capacity table) for this import only.
    options = replace(options or ImportOptions(), cache={})
    path = Path(path)
    result = ImportResult(spec.name, path.name, file_checksum(path) if path.exists() else "")
    staged_cols = ", ".join(f"{n} {t}" for n, t in spec.fields)
    await session.execute(
        text(
            f"CREATE TEMP TABLE lfs_stage (row_no integer, {staged_cols}, wkb bytea) ON COMMIT DROP"
        )
    )
    result.import_id = (
        await session.execute(
            text(
                "INSERT INTO imports (layer, file_name, checksum, data_date) "
                "VALUES (:layer, :file, :sum, :dd) RETURNING id"
            ),
            {
                "layer": spec.table,
                "file": path.name,
                "sum": result.checksum or "-",
                "dd": options.data_date,
            },
        )
    ).scalar_one()

    t0 = time.perf_counter()
    # Reading and checking (GDAL, numpy, Python) run in a thread while the previous batch is
    # COPYed: the two overlap on a 2-core machine.
    async for rows, n in _prefetch(_staged_rows(spec, path, options, result)):
        if rows:
            await _stage(session, spec, rows)
        if progress is not None:
            progress(n)
    result.timings["read_stage"] = time.perf_counter() - t0
    result.warnings = options.cache.get("warnings", [])

    if result.read and result.rejected == result.read:
        first = result.rejections[0]["reason"] if result.rejections else "?"
        raise ImportFailed(path, f"every row was rejected (row 1: {first})")
    t0 = time.perf_counter()
    await session.execute(text(_clean_sql(spec)))
    counts = (
        await session.execute(
            text(
                "SELECT count(*) FILTER (WHERE NOT valid AND NOT ST_IsEmpty(geom)), "
                "count(*) FILTER (WHERE ST_IsEmpty(geom)), count(*) FILTER (WHERE dup > 1) "
                "FROM lfs_clean"
            )
        )
    ).one()
    result.repaired = int(counts[0])
    if counts[1] or counts[2]:
        key0 = spec.key[-1]
        bad = await session.execute(
            text(
                f"SELECT row_no, {key0}, ST_IsEmpty(geom) FROM lfs_clean "
                "WHERE ST_IsEmpty(geom) OR dup > 1 ORDER BY row_no"
            )
        )
        for row_no, key, empty in bad:
            reason = (
                "invalid geometry that could not be repaired"
                if empty
                else f"duplicate key '{key}' in the file (the last row wins)"
            )
            result.reject(row_no, key, reason)
    t1 = time.perf_counter()
    result.timings["clean"] = t1 - t0
    rebuild = await _enter_bulk_mode(session, spec, result.read - result.rejected)
    inserted, updated = (
        await session.execute(text(_upsert_sql(spec)), {"import_id": result.import_id})
    ).one()
    result.timings["upsert"] = time.perf_counter() - t1
    if rebuild:
        t2 = time.perf_counter()
        for definition in rebuild:
            await session.execute(text(definition))
        result.timings["reindex"] = time.perf_counter() - t2
    result.inserted, result.updated = int(inserted), int(updated)
    result.unchanged = result.read - result.rejected - result.inserted - result.updated
    if spec.after is not None:
        result.options_cache = options.cache
        await spec.after(session, result)
    t3 = time.perf_counter()
    await record_coverage(session, spec, result, options, path)
    result.timings["coverage"] = time.perf_counter() - t3
    await _finish(session, spec, result)
    return result


async def _finish(session: AsyncSession, spec: LayerSpec, result: ImportResult) -> None:
    import json

    await session.execute(
        text(
            """UPDATE imports SET status = 'succeeded', read_count = :read,
                   inserted_count = :ins, updated_count = :upd, unchanged_count = :unch,
                   repaired_count = :rep, rejected_count = :rej,
                   rejections = CAST(:rejections AS jsonb), finished_at = clock_timestamp()
               WHERE id = :id"""
        ),
        {
            "read": result.read,
            "ins": result.inserted,
            "upd": result.updated,
            "unch": result.unchanged,
            "rep": result.repaired,
            "rej": result.rejected,
            "rejections": json.dumps(result.rejections, default=str),
            "id": result.import_id,
        },
    )
    await session.execute(text("DROP TABLE IF EXISTS lfs_stage, lfs_clean"))
    # Tiles and caches key on the layer version: bump it only when the data changed.
    if result.inserted or result.updated:
        await bump_layer_version(session, spec.table)
