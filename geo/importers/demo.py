"""The demo dataset of ``data/``: which file goes into which layer, loaded idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.db import session_scope
from geo.importers import LAYERS
from geo.importers.core import ImportOptions, import_file
from geo.importers.reader import file_checksum


@dataclass(frozen=True)
class DemoFile:
    """One file of data/ and how it is imported."""

    layer: str
    name: str
    zone_type: str | None = None
    capacity: str | None = None
    source: str | None = None
    coverage: str | None = None  # ImportOptions.coverage
    coverage_file: str | None = None  # a file of data/


# Every commune of metropolitan France (COG 2018), one file per département: the Rhône's at the
# top of data/ (the tests read it), the 95 others in data/communes/. Overseas départements are
# not shipped: the product works in metropolitan France only (their rows would all be rejected).
NATIONAL_COMMUNES = "communes"


def _national_communes(data_dir: Path) -> list[DemoFile]:
    names = sorted(p.name for p in (data_dir / NATIONAL_COMMUNES).glob("communes-*.geojson.gz"))
    return [DemoFile("communes", f"{NATIONAL_COMMUNES}/{n}") for n in names]


# Communes first, so the parcels import can report communes missing from that vintage; the
# synthetic 69114 outline after the 2018 vintage (equal overlaps go to the newest import).
DEMO_FILES = [
    DemoFile("communes", "communes-69-rhone.geojson.gz"),
    DemoFile("communes", "commune-69114-synthetic.geojson", source="synthetic"),
    DemoFile("parcels", "cadastre-69114-parcelles.json.gz"),
    # Every poste of metropolitan France (Caparéseau's raw records, March 2026): the grid layer
    # covers the 12 S3REnR regions it lists. Then the June extract of 32 AURA postes (newer
    # positions and capacities), an extract: it claims no coverage of its own.
    DemoFile(
        "substations",
        "capareseau_map_2026-03.json.gz",
        capacity="capareseau_2026-04-28.csv.gz",
    ),
    DemoFile(
        "substations",
        "postes_source_extract_AURA.csv",
        capacity="capareseau_2026-04-28.csv.gz",
        coverage="none",
    ),
    # The synthetic protected areas are a complete inventory of 69114 by construction; the 3 ZPS
    # are an extract (no coverage: outside 69114 the zones count as absent).
    DemoFile(
        "env-zones",
        "env-zones-synthetic.geojson",
        source="synthetic",
        coverage_file="commune-69114-synthetic.geojson",
    ),
    DemoFile("env-zones", "natura2000_zps_cotes-darmor.geojson.gz", zone_type="natura2000_zps"),
    DemoFile("urban-zones", "plu-69114-synthetic.geojson", source="synthetic"),
]


async def _already_loaded(session: AsyncSession, layer: str, name: str, checksum: str) -> bool:
    row = await session.execute(
        text(
            """SELECT checksum FROM imports WHERE layer = :layer AND file_name = :name
               AND status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT 1"""
        ),
        {"layer": layer, "name": name},
    )
    return row.scalar_one_or_none() == checksum


async def load_demo(factory: async_sessionmaker[AsyncSession], data_dir: Path) -> list[str]:
    """Import every demo file not already imported with the same checksum; one line each."""
    lines = []
    files = DEMO_FILES[:1] + _national_communes(data_dir) + DEMO_FILES[1:]
    for f in files:
        path = data_dir / f.name
        spec = LAYERS[f.layer]
        async with session_scope(factory) as session:
            if await _already_loaded(session, spec.table, path.name, file_checksum(path)):
                lines.append(f"{f.layer} ← {f.name}: already loaded")
                continue
            options = ImportOptions(
                zone_type=f.zone_type,
                capacity=data_dir / f.capacity if f.capacity else None,
                source=f.source,
                coverage=f.coverage,
                coverage_file=data_dir / f.coverage_file if f.coverage_file else None,
            )
            result = await import_file(session, spec, path, options)
            lines.append(result.summary())
    return lines
