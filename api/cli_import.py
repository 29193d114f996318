"""``leadfactory import LAYER FILE…`` and ``leadfactory demo``: load reference geodata."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from api.settings import PROJECT_ROOT, Settings

DEMO_DIR = PROJECT_ROOT / "data"
# The keys of geo.importers.LAYERS, spelled out so that `leadfactory --help` stays fast.
LAYER_NAMES = ["communes", "env-zones", "parcels", "substations", "urban-zones"]
# Not a vector layer: terrain models kept as rasters (enrichment.terrain).
DEM = "dem"


def register(sub: Any) -> dict[str, Callable[[argparse.Namespace, Settings], int]]:
    """Add the ``import`` and ``demo`` subcommands."""
    p = sub.add_parser(
        "import",
        help="import reference geodata files (one transaction per file)",
        description="Import GeoJSON(.gz), GeoPackage, zipped Shapefile or CSV files into a "
        "reference layer, or IGN terrain models (dem: ESRI ASCII grid .asc or GeoTIFF, "
        "Lambert-93). Idempotent: re-importing a file changes nothing.",
    )
    p.add_argument("layer", choices=[*LAYER_NAMES, DEM])
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--crs", help="CRS of the file when it doesn't say (e.g. EPSG:2154)")
    p.add_argument("--zone-type", help="env-zones: the type if the file has none (e.g. znieff1)")
    p.add_argument("--capacity", type=Path, help="substations: a Caparéseau capacity CSV to join")
    p.add_argument("--data-date", type=date.fromisoformat, help="date of the data (YYYY-MM-DD)")
    p.add_argument("--source", choices=["open_data", "synthetic", "user"], help="row provenance")
    p.add_argument("--batch-size", type=int, default=50_000, help="rows per COPY batch")
    p.add_argument(
        "--coverage",
        type=_coverage_arg,
        help="where the file is complete: départements (22,29), or 'none' for an extract; "
        "default: derived from the file (communes, cadastre, PLU, S3REnR regions)",
    )
    p.add_argument("--coverage-file", type=Path, help="where the file is complete: a polygon file")

    d = sub.add_parser("demo", help="load the demo dataset of data/ (idempotent)")
    d.add_argument("--data-dir", type=Path, default=DEMO_DIR)
    return {"import": _import, "demo": _demo}


def _coverage_arg(value: str) -> str:
    """--coverage: 'none' or a list of département codes (checked here, one clear error)."""
    if value.strip().lower() == "none":
        return "none"
    from geo.importers.coverage import parse_departments

    try:
        return ",".join(parse_departments(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run(settings: Settings, job: Callable[[Any], Awaitable[int]]) -> int:
    from geo.db import make_engine, make_sessionmaker

    async def go() -> int:
        engine = make_engine(settings.async_database_url, pool_size=1, max_overflow=0)
        try:
            return await job(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _progress(label: str) -> tuple[Callable[[int], object] | None, Callable[[], object]]:
    """A tqdm bar on a terminal, nothing otherwise (logs and pipes stay clean)."""
    if not sys.stdout.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(desc=label, unit=" rows", unit_scale=True, leave=False)
    return bar.update, bar.close


def _import(args: argparse.Namespace, settings: Settings) -> int:
    if args.layer == DEM:
        return _import_dem(args, settings)
    from geo.db import session_scope
    from geo.errors import DomainError
    from geo.importers import LAYERS, ImportOptions, import_file

    options = ImportOptions(
        crs=args.crs,
        zone_type=args.zone_type,
        capacity=args.capacity,
        data_date=args.data_date,
        source=args.source,
        batch_size=args.batch_size,
        coverage=args.coverage,
        coverage_file=args.coverage_file,
    )

    async def job(factory: Any) -> int:
        for path in args.files:
            update, close = _progress(path.name)
            try:
                async with session_scope(factory) as session:
                    result = await import_file(session, LAYERS[args.layer], path, options, update)
            except DomainError as exc:
                close()
                print(f"error: {exc.detail}", file=sys.stderr)
                return 1
            except Exception as exc:  # noqa: BLE001 - one line naming the file, never a trace
                close()
                detail = " ".join(str(exc).split())[:300]
                print(f"error: {path.name}: {type(exc).__name__}: {detail}", file=sys.stderr)
                return 1
            close()
            print(result.summary())
        return 0

    return _run(settings, job)


def _import_dem(args: argparse.Namespace, settings: Settings) -> int:
    """Each terrain file converted to a tiled GeoTIFF under ``data_dir/terrain`` (the mosaic of
    its cell size rebuilt) and its footprint recorded, one transaction per file."""
    from enrichment.terrain import (
        TerrainError,
        build_mosaic,
        convert,
        discard,
        publish_file,
        record_import,
    )
    from geo.db import session_scope

    terrain_dir = settings.data_dir / "terrain"
    folders: set[Path] = set()  # mosaics rebuilt once at the end, even after an error

    async def job(factory: Any) -> int:
        try:
            return await each(factory)
        finally:
            for folder in sorted(folders):
                await asyncio.to_thread(build_mosaic, folder)

    async def each(factory: Any) -> int:
        for path in args.files:
            dem = None
            try:
                dem = await asyncio.to_thread(convert, path, terrain_dir, args.crs, False)
                async with session_scope(factory) as session:
                    done = await record_import(session, path, dem, terrain_dir, args.data_date)
                # The file goes in place once its record is committed: no terrain is read
                # without its footprint, and a failed record leaves no file behind.
                publish_file(dem)
                folders.add(dem.raster.parent)
            except TerrainError as exc:
                if dem is not None:
                    discard(dem)
                print(f"error: {path.name}: {exc}", file=sys.stderr)
                return 1
            except Exception as exc:  # noqa: BLE001 - one line naming the file, never a trace
                if dem is not None:
                    discard(dem)
                detail = " ".join(str(exc).split())[:300]
                print(f"error: {path.name}: {type(exc).__name__}: {detail}", file=sys.stderr)
                return 1
            w, s, e, n = dem.bounds
            print(
                f"dem {path.name}: {done['status']}, {dem.cells:,} cells of {dem.cellsize:g} m "
                f"({dem.valid_cells:,} with a height), Lambert-93 {w:.0f} {s:.0f} {e:.0f} {n:.0f}"
                f" → {dem.raster.relative_to(terrain_dir)}"
            )
        return 0

    return _run(settings, job)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from geo.errors import DomainError
    from geo.importers.demo import load_demo

    async def job(factory: Any) -> int:
        try:
            for line in await load_demo(factory, args.data_dir):
                print(line)
        except DomainError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 1
        return 0

    return _run(settings, job)
