"""Where an import made its layer complete: one ``layer_coverage`` row per import (issue 16).

Outside every coverage of a layer the platform has no data, which is not the same as "nothing
there": the enrichment says "données absentes pour cette zone". A coverage is

* declared at import: ``--coverage 22,29`` (départements, outlined by the communes layer),
  ``--coverage-file area.geojson`` (any polygons), or ``--coverage none`` (an extract: no
  claim at all);
* else derived from the file by its layer (``LayerSpec.coverage``):
  ``outlines`` — a communes file covers its own outlines;
  ``communes:<column>`` — a cadastre or PLU file covers the communes of its rows (their
  outlines; a commune without an outline by the closed union of its own rows);
  ``regions:<column>`` — a Caparéseau postes file covers its S3REnR regions (their
  départements' communes).
A layer whose files say nothing (protected zones) gets no coverage unless declared: the summary
says so.

Runs inside the import's transaction, on its staging table ``lfs_clean``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geo.activity import bump_layer_version
from geo.importers.errors import ImportFailed
from geo.importers.reader import read_batches
from geo.importers.values import fold

if TYPE_CHECKING:
    from geo.importers.core import ImportOptions, ImportResult, LayerSpec

DEPARTMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B)$")

# The 13 metropolitan regions (2016) and their départements, by folded name (values.fold).
REGION_DEPARTMENTS: dict[str, list[str]] = {
    "AUVERGNE RHONE ALPES": "01 03 07 15 26 38 42 43 63 69 73 74".split(),
    "BOURGOGNE FRANCHE COMTE": "21 25 39 58 70 71 89 90".split(),
    "BRETAGNE": "22 29 35 56".split(),
    "CENTRE VAL DE LOIRE": "18 28 36 37 41 45".split(),
    "CORSE": "2A 2B".split(),
    "GRAND EST": "08 10 51 52 54 55 57 67 68 88".split(),
    "HAUTS DE FRANCE": "02 59 60 62 80".split(),
    "ILE DE FRANCE": "75 77 78 91 92 93 94 95".split(),
    "NORMANDIE": "14 27 50 61 76".split(),
    "NOUVELLE AQUITAINE": "16 17 19 23 24 33 40 47 64 79 86 87".split(),
    "OCCITANIE": "09 11 12 30 31 32 34 46 48 65 66 81 82".split(),
    "PAYS DE LA LOIRE": "44 49 53 72 85".split(),
    "PROVENCE ALPES COTE D AZUR": "04 05 06 13 83 84".split(),
}
# Caparéseau spells it with a typographic apostrophe, which folding drops ("COTE DAZUR").
REGION_DEPARTMENTS["PROVENCE ALPES COTE DAZUR"] = REGION_DEPARTMENTS["PROVENCE ALPES COTE D AZUR"]

# Départements drawn from the communes layer's own coverage rows (one dissolved outline per
# file of one département: a union of ~100 polygons instead of ~35,000 communes, 8 s → < 1 s),
# else from the communes themselves (rows loaded without the importer).
_DEPARTMENTS_SQL = """
    WITH deps AS (SELECT DISTINCT unnest(CAST(:codes AS text[])) AS d),
    cov AS (
        SELECT deps.d, lc.geom FROM deps
        JOIN layer_coverage AS lc
          ON lc.layer = 'communes' AND lc.areas -> 'departements' = jsonb_build_array(deps.d)
    ), raw AS (
        SELECT c.geom FROM communes AS c JOIN deps ON c.department = deps.d
        WHERE NOT EXISTS (SELECT 1 FROM cov WHERE cov.d = deps.d)
    )
    SELECT ST_Multi(ST_CollectionExtract(ST_Union(g), 3))
    FROM (SELECT geom AS g FROM cov UNION ALL SELECT geom FROM raw) AS s"""
_MISSING_DEPARTMENTS_SQL = """
    SELECT array_agg(d) FROM unnest(CAST(:codes AS text[])) AS d
    WHERE NOT EXISTS (SELECT 1 FROM communes c WHERE c.department = d)"""


@dataclass
class Coverage:
    """A coverage about to be stored."""

    method: str  # file | declared
    kind: str  # communes | departements | regions | file
    codes: list[str]
    geom_sql: str  # a query answering one MultiPolygon (or NULL)
    params: dict[str, Any]


def department_of(insee: str) -> str:
    """The département of a commune code (97x overseas, else 2 characters)."""
    return insee[:3] if insee.startswith("97") else insee[:2]


def parse_departments(value: str) -> list[str]:
    """``"22,29, 2a"`` → ``["22", "29", "2A"]``; a bad code is an error naming it."""
    codes = [c.strip().upper().zfill(2) for c in value.split(",") if c.strip()]
    bad = [c for c in codes if not DEPARTMENT.match(c)]
    if bad or not codes:
        raise ValueError(f"not metropolitan département codes: {', '.join(bad) or value!r}")
    return sorted(set(codes))


def _derived(spec: LayerSpec) -> Coverage | None:
    rule = spec.coverage
    if rule is None:
        return None
    if rule == "outlines":
        return Coverage(
            "file",
            "communes",
            [],
            "SELECT ST_Multi(ST_CollectionExtract(ST_UnaryUnion(ST_Collect(geom)), 3)) "
            "FROM lfs_clean WHERE dup = 1 AND NOT ST_IsEmpty(geom)",
            {},
        )
    how, column = rule.split(":", 1)
    if how == "communes":
        # Outlines of the file's communes; a commune the communes layer lacks (created after its
        # vintage) by the union of its own rows, closed by 50 m in Lambert-93 (roads, ditches).
        return Coverage(
            "file",
            "communes",
            [],
            f"""
            WITH codes AS (
                SELECT DISTINCT {column} AS code FROM lfs_clean
                WHERE dup = 1 AND {column} IS NOT NULL AND NOT ST_IsEmpty(geom)
            ), parts AS (
                SELECT c.geom FROM communes c JOIN codes ON c.insee = codes.code
                UNION ALL
                SELECT ST_Transform(ST_Buffer(ST_Buffer(
                           ST_Union(ST_Transform(s.geom, 2154)), 50), -50), 4326)
                FROM lfs_clean s
                WHERE s.dup = 1 AND NOT ST_IsEmpty(s.geom)
                  AND NOT EXISTS (SELECT 1 FROM communes c WHERE c.insee = s.{column})
                GROUP BY s.{column}
            )
            SELECT ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) FROM parts""",
            {},
        )
    if how == "regions":
        return Coverage("file", "regions", [], _DEPARTMENTS_SQL, {"column": column})
    raise ValueError(f"unknown coverage rule {rule!r}")


async def _codes(session: AsyncSession, sql: str) -> list[str]:
    rows = await session.execute(text(sql))
    return sorted(str(r[0]) for r in rows if r[0] is not None)


async def record_coverage(
    session: AsyncSession,
    spec: LayerSpec,
    result: ImportResult,
    options: ImportOptions,
    path: Path,
) -> None:
    """Store this import's coverage (or say in the summary why there is none)."""
    declared = options.coverage
    if declared == "none":
        result.notes.append("coverage: none declared (an extract): its data is never complete")
        return
    cov: Coverage | None
    departments: list[str] = []
    if options.coverage_file is not None:
        geoms = [
            g
            for batch in read_batches(options.coverage_file)
            for g in batch.geoms
            if g is not None and shapely.get_type_id(g) in (3, 6)
        ]
        if not geoms:
            raise ImportFailed(path, f"--coverage-file {options.coverage_file.name}: no polygon")
        union = shapely.union_all(shapely.make_valid(geoms))
        cov = Coverage(
            "declared",
            "file",
            [options.coverage_file.name],
            "SELECT ST_Multi(ST_CollectionExtract(ST_GeomFromWKB(:wkb, 4326), 3))",
            {"wkb": shapely.to_wkb(union)},
        )
    elif declared:
        codes = parse_departments(declared)
        cov = Coverage("declared", "departements", codes, _DEPARTMENTS_SQL, {"codes": codes})
    else:
        cov = _derived(spec)
    if cov is None:
        result.notes.append(
            "coverage: unknown (this file does not say where it is complete): outside the "
            "coverage of other imports, this layer's data counts as absent; declare it with "
            "--coverage DEPARTEMENTS or --coverage-file"
        )
        return
    if cov.kind == "regions":
        names = await _codes(
            session, f"SELECT DISTINCT {cov.params.pop('column')} FROM lfs_clean WHERE dup = 1"
        )
        unknown = [n for n in names if fold(n) not in REGION_DEPARTMENTS]
        cov.codes = sorted({fold(n) for n in names} - {fold(n) for n in unknown})
        cov.params["codes"] = sorted({d for r in cov.codes for d in REGION_DEPARTMENTS[r]})
        if unknown:
            result.notes.append(f"coverage: regions not recognised: {', '.join(unknown)}")
    elif cov.kind == "communes":
        column = "insee" if spec.coverage == "outlines" else (spec.coverage or ":").split(":")[1]
        cov.codes = await _codes(session, f"SELECT DISTINCT {column} FROM lfs_clean WHERE dup = 1")
        departments = sorted({department_of(c) for c in cov.codes})
    if "codes" in cov.params:
        missing = (
            await session.execute(text(_MISSING_DEPARTMENTS_SQL), {"codes": cov.params["codes"]})
        ).scalar()
        if missing:
            result.notes.append(
                "coverage: no commune outline loaded for départements "
                f"{', '.join(missing)}: import the communes first; those are not covered"
            )
    areas: dict[str, Any] = {"kind": cov.kind, "codes": cov.codes}
    if cov.kind == "communes":
        areas["departements"] = departments
    km2 = (
        await session.execute(
            text(
                # MATERIALIZED: the union is computed once, not once per reference to it.
                f"""WITH q (g) AS MATERIALIZED ({cov.geom_sql})
                    INSERT INTO layer_coverage (import_id, layer, method, areas, geom)
                    SELECT :id, :layer, :method, CAST(:areas AS jsonb), q.g FROM q
                    WHERE q.g IS NOT NULL AND NOT ST_IsEmpty(q.g)
                    RETURNING area_km2"""
            ),
            {
                **cov.params,
                "id": result.import_id,
                "layer": spec.table,
                "method": cov.method,
                "areas": json.dumps(areas),
            },
        )
    ).scalar()
    if km2 is None:
        result.notes.append("coverage: none (no outline to draw it with)")
        return
    await bump_layer_version(session, "coverage")  # the coverage tiles and OGC items changed
    result.coverage = {
        "method": cov.method,
        "kind": cov.kind,
        "codes": cov.codes,
        "area_km2": round(float(km2), 1),
    }
