"""Build the benchmark database ``lfs_bench``: a department-sized, seeded, synthetic dataset.

    .venv/bin/python bench/generate.py [--parcels 1000000] [--seed 42] [--force]

Creates the database on the cluster of DATABASE_URL, migrates it, and COPYs ~1M parcels tiling
the region, its communes and sections, PLU zones, ~2,000 env zones and ~200 postes sources, all
with source='synthetic'. Idempotent: when the database already holds the same seed and size
(recorded in the database comment) it does nothing unless --force.

    .venv/bin/python bench/generate.py --terrain DIR [--parcels 1000000] [--seed 42]

writes, instead, a terrain model over the same area: BD ALTI-like ESRI ASCII grids (25 m cells,
1,000 × 1,000 per tile, IGN's file names) of a seeded relief of rolling hills (slopes 0 to
about 25 %, every orientation), for ``leadfactory import dem DIR/*.asc`` (docs/site-finder.md).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth  # noqa: E402

from api.cli import run_migrations  # noqa: E402
from api.settings import to_plain_url  # noqa: E402
from geo.importers.core import SECONDARY_INDEXES_SQL  # noqa: E402

DB_NAME = "lfs_bench"
FORMAT_VERSION = 2
LAYERS = ("parcels", "communes", "urban_zones", "env_zones", "substations")


def server_url(dbname: str) -> str:
    """DATABASE_URL pointed at another database of the same cluster."""
    url = to_plain_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:54329/leadfactory")
    )
    return url.rsplit("/", 1)[0] + "/" + dbname


def marker(seed: int, n: int, departements: int = 1) -> str:
    """What the database comment says once a generation completed."""
    deps = f" departements={departements}" if departements > 1 else ""
    return f"lfs-bench v{FORMAT_VERSION} seed={seed} parcels={n}{deps} complete"


def _copy(conn: psycopg.Connection, table: str, cols: Sequence[str], rows: Iterable[str]) -> None:
    """COPY text lines (tab-separated, no escaping needed: values are plain) into a table."""
    sql = f"COPY {table} ({', '.join(cols)}) FROM STDIN"
    with conn.cursor() as cur, cur.copy(sql) as cp:  # type: ignore[arg-type]
        buf = io.StringIO()
        for i, line in enumerate(rows, 1):
            buf.write(line)
            if i % 50_000 == 0:
                cp.write(buf.getvalue())
                buf = io.StringIO()
        cp.write(buf.getvalue())


def _drop_secondary_indexes(conn: psycopg.Connection, table: str) -> list[str]:
    """Drop the indexes not backing a constraint (rebuilt after the COPY: much faster)."""
    rows = conn.execute(SECONDARY_INDEXES_SQL, {"table": table}).fetchall()  # type: ignore[arg-type]
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')  # type: ignore[arg-type]
    return [d for _, d in rows]


def _record_import(conn: psycopg.Connection, layer: str, count: int, seed: int) -> int:
    row = conn.execute(
        """INSERT INTO imports (layer, file_name, checksum, status, read_count, inserted_count,
                                finished_at)
           VALUES (%s, %s, %s, 'succeeded', %s, %s, now()) RETURNING id""",
        (layer, f"bench/generate.py --seed {seed}", f"synthetic-seed-{seed}", count, count),
    ).fetchone()
    assert row is not None
    conn.execute(
        """INSERT INTO layer_versions (layer, version) VALUES (%s, 1)
           ON CONFLICT (layer) DO UPDATE SET version = layer_versions.version + 1""",
        (layer,),
    )
    return int(row[0])


# The départements of a multi-département build, in order (Auvergne-Rhône-Alpes, region 84): the
# first is the 1 M dataset itself (same seed, same place, same codes).
DEPARTEMENTS = ("42", "43", "69", "01", "03", "63", "07", "26", "38", "15", "73", "74")


def departement_layout(
    n: int, seed: int, n_parcels: int
) -> list[tuple[str, int, tuple[float, float]]]:
    """(code, seed, Lambert-93 centre) of each of n départements: squares side by side around
    synth.CENTER_L93, nearest first; département 0 keeps the seed and centre of the 1 M build."""
    if n > len(DEPARTEMENTS):
        raise SystemExit(f"at most {len(DEPARTEMENTS)} départements")
    step = synth.region_side(n_parcels) + 2_000.0
    cells = sorted(
        ((i, j) for i in range(-2, 3) for j in range(-2, 3)),
        key=lambda c: (max(abs(c[0]), abs(c[1])), abs(c[0]) + abs(c[1]), -c[1], -c[0]),
    )
    cx, cy = synth.CENTER_L93
    return [
        (DEPARTEMENTS[d], seed + 1000 * d, (cx + step * cells[d][0], cy + step * cells[d][1]))
        for d in range(n)
    ]


def generate(
    conn: psycopg.Connection,
    seed: int,
    n_parcels: int,
    department: str = synth.DEPARTMENT,
    center: tuple[float, float] = synth.CENTER_L93,
) -> dict[str, int]:
    """Write every layer of one département; returns the row counts."""
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    communes, insee, parcels = synth.make_region(seed, n_parcels, center, department)
    rng = np.random.default_rng(seed + 1)
    # Codes that must be unique across départements (the first keeps the 1 M build's).
    tag = "" if department == synth.DEPARTMENT else department
    print(f"  geometry of {len(parcels.rings):,} parcels built in {time.perf_counter() - t0:.1f}s")

    # Communes.
    names = synth.commune_names(rng, len(insee))
    imp = _record_import(conn, "communes", len(insee), seed)
    wkb = synth.ewkb_multipolygons(synth.to_wgs84(communes))
    _copy(
        conn,
        "communes",
        ["insee", "name", "department", "region", "geom", "source", "import_id"],
        (
            f"{c}\t{n}\t{department}\t{synth.REGION}\t{g}\tsynthetic\t{imp}\n"
            for c, n, g in zip(insee, names, wkb, strict=True)
        ),
    )
    counts["communes"] = len(insee)

    # Parcels: declared area = measured area within a few per cent, like the real cadastre.
    t1 = time.perf_counter()
    ids = synth.parcel_ids(insee, parcels)
    area = synth.shoelace(parcels.rings)
    contenance = np.round(area * rng.uniform(0.97, 1.03, len(area))).astype(np.int64)
    imp = _record_import(conn, "parcels", len(ids), seed)
    wkb = synth.ewkb_multipolygons(synth.to_wgs84(parcels.rings))
    comm = [insee[i] for i in parcels.commune.tolist()]
    numero = [f"{n:04d}" for n in parcels.numero.tolist()]
    print(f"  parcel rows encoded in {time.perf_counter() - t1:.1f}s")
    t1 = time.perf_counter()
    _copy(
        conn,
        "parcels",
        ["id", "commune", "prefixe", "section", "numero", "contenance", "geom", "source"]
        + ["import_id"],
        (
            f"{i}\t{c}\t000\t{s}\t{n}\t{a}\t{g}\tsynthetic\t{imp}\n"
            for i, c, s, n, a, g in zip(
                ids, comm, parcels.section, numero, contenance.tolist(), wkb, strict=True
            )
        ),
    )
    counts["parcels"] = len(ids)
    print(f"  parcels copied in {time.perf_counter() - t1:.1f}s")
    del wkb, ids, comm, numero

    # PLU zones: each commune split into zones of 50-300 ha.
    zones, zone_comm = synth.split_until(
        communes, np.arange(len(communes)), rng, 1_200_000, 0.6, 500_000, 3_000_000
    )
    kinds = rng.choice(
        ["A", "N", "U", "AUc", "AUs", "Npv", "Aenr"],
        len(zones),
        p=[0.44, 0.30, 0.14, 0.05, 0.03, 0.02, 0.02],
    )
    labels = {
        "A": ["A", "Ap", "Ah"],
        "N": ["N", "Np", "Nf", "Nl"],
        "U": ["Ua", "Ub", "Uc", "Ux"],
        "AUc": ["1AU", "1AUx"],
        "AUs": ["2AU"],
        "Npv": ["Npv"],
        "Aenr": ["Aenr"],
    }
    long_labels = {
        "Npv": "Secteur naturel destiné à l'accueil d'installations photovoltaïques",
        "Aenr": "Secteur agricole destiné aux énergies renouvelables",
    }
    imp = _record_import(conn, "urban_zones", len(zones), seed)
    wkb = synth.ewkb_multipolygons(synth.to_wgs84(zones))
    rows = []
    for k, (kind, ci, g) in enumerate(zip(kinds.tolist(), zone_comm.tolist(), wkb, strict=True)):
        ztype = "N" if kind == "Npv" else "A" if kind == "Aenr" else kind
        label = labels[kind][int(rng.integers(len(labels[kind])))]
        code = insee[ci]
        rows.append(
            f"bench-{code}-{k}\t{code}\t{ztype}\t{label}\t{long_labels.get(kind, label)}\t"
            f"{code}_PLU_20200101\t{g}\tsynthetic\t{imp}\n"
        )
    _copy(
        conn,
        "urban_zones",
        ["natural_key", "commune_insee", "zone_type", "label", "label_long", "document_id"]
        + ["geom", "source", "import_id"],
        rows,
    )
    counts["urban_zones"] = len(rows)

    # Env zones: star-shaped polygons of the real types and sizes, anywhere in the region.
    lo = communes.reshape(-1, 2).min(axis=0)
    hi = communes.reshape(-1, 2).max(axis=0)
    imp = _record_import(conn, "env_zones", sum(c for _, c, _, _ in synth.ENV_ZONES), seed)
    rows = []
    for ztype, count, (rmin, rmax), emax in synth.ENV_ZONES:
        centers = rng.uniform(lo, hi, (count, 2))
        radius = np.exp(rng.uniform(np.log(rmin), np.log(rmax), count))
        elong = rng.uniform(1.0, emax, count)
        rings = synth.star_polygons(rng, centers, radius, elong, 40)
        for j, g in enumerate(synth.ewkb_multipolygons(synth.to_wgs84(rings))):
            code = f"SYN-{tag}{'-' if tag else ''}{ztype.upper()}-{j + 1:04d}"
            name = (
                f"{ztype.replace('_', ' ').title()} synthétique {tag}{' ' if tag else ''}n°{j + 1}"
            )
            rows.append(f"{ztype}\t{code}\t{name}\t{g}\tsynthetic\t{imp}\n")
    _copy(
        conn,
        "env_zones",
        ["zone_type", "code", "name", "geom", "source", "import_id"],
        rows,
    )
    counts["env_zones"] = len(rows)

    # Postes sources: ~1 per 25 km² (~200 in a department), with S3REnR-like capacities.
    n_sub = max(5, round(float(synth.shoelace(communes).sum()) / 24e6))
    xy = rng.uniform(lo, hi, (n_sub, 2))
    lonlat = synth.to_wgs84(xy[:, None, :])[:, 0, :]
    reserved = np.round(rng.uniform(0, 80, n_sub), 1)
    allocated = np.round(reserved * rng.uniform(0, 1.1, n_sub), 1)
    available = np.round(np.maximum(reserved - allocated, 0), 1)
    voltage = rng.choice(["63/20", "63/20", "63/20", "90/20", "225/20"], n_sub)
    imp = _record_import(conn, "substations", n_sub, seed)
    sub_tag = f"{tag} " if tag else ""
    rows = [
        f"BENCH{tag}{j + 1:04d}\tPOSTE SYNTH {sub_tag}{j + 1}\tEnedis\t{v}\t{g}\t"
        "Auvergne-Rhône-Alpes\t"
        f"{r}\t{a}\t{av}\t23.45\t2026-04-28\tsynthetic\t{imp}\n"
        for j, (v, g, r, a, av) in enumerate(
            zip(
                voltage.tolist(),
                synth.ewkb_points(lonlat),
                reserved.tolist(),
                allocated.tolist(),
                available.tolist(),
                strict=True,
            )
        )
    ]
    _copy(
        conn,
        "substations",
        ["code", "name", "operator", "voltage_kv", "geom", "s3renr_region"]
        + ["capacity_reserved_mw", "capacity_allocated_mw", "capacity_available_mw"]
        + ["quote_part_eur_kw", "data_date", "source", "import_id"],
        rows,
    )
    counts["substations"] = n_sub
    return counts


TERRAIN_CELL = 25.0
TERRAIN_TILE = 1_000  # cells per side: 25 km tiles, on IGN's 25 km grid


def relief(seed: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Heights (m) of a seeded relief at Lambert-93 points: a few sine waves of 1.5–8 km in
    random directions over a 400 m plateau, the same wherever it is sampled (tiles join)."""
    rng = np.random.default_rng(seed + 7)
    z = np.full(np.broadcast(x, y).shape, 400.0)
    for _ in range(6):
        wavelength = rng.uniform(1_500, 8_000)
        # Amplitude for a steepest slope of 2–6 % per wave: sums to 0–25 % with its neighbours.
        amp = rng.uniform(0.02, 0.06) * wavelength / (2 * np.pi)
        theta = rng.uniform(0, 2 * np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        k = 2 * np.pi / wavelength
        z += amp * np.sin(k * (np.cos(theta) * x + np.sin(theta) * y) + phase)
    return z


def write_terrain(folder: Path, seed: int, n_parcels: int) -> list[Path]:
    """The tiles covering the benchmark region (its square around synth.CENTER_L93)."""
    folder.mkdir(parents=True, exist_ok=True)
    side = float(np.sqrt(n_parcels * synth.MEAN_PARCEL_M2 * 1.04))
    cx, cy = synth.CENTER_L93
    span = TERRAIN_CELL * TERRAIN_TILE
    x0 = np.floor((cx - side / 2 - 1_000) / span) * span
    y0 = np.floor((cy - side / 2 - 1_000) / span) * span
    x1, y1 = cx + side / 2 + 1_000, cy + side / 2 + 1_000
    written = []
    for tx in np.arange(x0, x1, span):
        for ty in np.arange(y0, y1, span):
            # IGN's name: the upper-left corner in km.
            name = f"BDALTIV2_25M_FXX_{tx / 1000:04.0f}_{(ty + span) / 1000:04.0f}"
            path = folder / f"{name}_MNT_LAMB93_IGN69.asc"
            c = tx + TERRAIN_CELL * (np.arange(TERRAIN_TILE) + 0.5)
            r = ty + span - TERRAIN_CELL * (np.arange(TERRAIN_TILE) + 0.5)
            z = relief(seed, c[None, :], r[:, None])
            with path.open("w") as f:
                f.write(
                    f"ncols {TERRAIN_TILE}\nnrows {TERRAIN_TILE}\nxllcorner {tx:.2f}\n"
                    f"yllcorner {ty:.2f}\ncellsize {TERRAIN_CELL:g}\nNODATA_value -99999.00\n"
                )
                np.savetxt(f, z, fmt="%.2f")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Create, migrate and fill lfs_bench; print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--parcels", type=int, default=1_000_000, help="approximate parcel count")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--db", default=DB_NAME, help="database name (default lfs_bench)")
    ap.add_argument("--force", action="store_true", help="rebuild even when up to date")
    ap.add_argument(
        "--departements",
        type=int,
        default=None,
        help="spread the parcels over N départements side by side (default: one per million "
        "parcels, so --parcels 10000000 builds 10; the first is the 1 M build itself)",
    )
    ap.add_argument(
        "--terrain",
        type=Path,
        metavar="DIR",
        help="write BD ALTI-like terrain tiles over the area into DIR (no database work)",
    )
    args = ap.parse_args(argv)
    if args.terrain is not None:
        t0 = time.perf_counter()
        tiles = write_terrain(args.terrain, args.seed, args.parcels)
        print(f"{len(tiles)} terrain tiles in {args.terrain} ({time.perf_counter() - t0:.1f}s)")
        print(f"leadfactory import dem {args.terrain}/*.asc")
        return 0

    n_dep = args.departements or max(1, round(args.parcels / 1_000_000))
    admin = server_url("postgres")
    want = marker(args.seed, args.parcels, n_dep)
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (args.db,),
        ).fetchone()
        if row is not None and row[0] == want and not args.force:
            print(f"{args.db} is up to date ({want}); use --force to rebuild")
            return 0
        if row is not None:
            print(f"dropping {args.db} ({row[0] or 'incomplete'})")
            conn.execute(f'DROP DATABASE "{args.db}" WITH (FORCE)')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{args.db}"')  # type: ignore[arg-type]

    url = server_url(args.db)
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    run_migrations(url)
    t_mig = time.perf_counter() - t0
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        dropped = {t: _drop_secondary_indexes(conn, t) for t in LAYERS}
        t1 = time.perf_counter()
        counts: dict[str, int] = {}
        if n_dep == 1:
            counts = generate(conn, args.seed, args.parcels)
        else:
            per = args.parcels // n_dep
            for k, (code, seed, center) in enumerate(departement_layout(n_dep, args.seed, per)):
                print(f"département {code} ({k + 1}/{n_dep}), seed {seed}", flush=True)
                for layer, c in generate(conn, seed, per, code, center).items():
                    counts[layer] = counts.get(layer, 0) + c
                print(f"  {time.perf_counter() - t1:.0f}s so far", flush=True)
        t_copy = time.perf_counter() - t1
        t1 = time.perf_counter()
        for defs in dropped.values():
            for d in defs:
                t2 = time.perf_counter()
                conn.execute(d)  # type: ignore[arg-type]
                print(f"  {time.perf_counter() - t2:.1f}s {d[:90]}", flush=True)
        t_idx = time.perf_counter() - t1
        conn.commit()
    t1 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute(
            """SELECT pg_size_pretty(pg_database_size(current_database())),
                      pg_size_pretty(pg_table_size('parcels')),
                      pg_size_pretty(pg_indexes_size('parcels'))"""
        ).fetchone()
        assert size is not None
        size_txt = f"{size[0]} (parcels table {size[1]}, its indexes {size[2]})"
        conn.execute(f"COMMENT ON DATABASE \"{args.db}\" IS '{want}'")  # type: ignore[arg-type]
    t_an = time.perf_counter() - t1
    total = time.perf_counter() - t0
    print(f"{args.db}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    print(
        f"migrate {t_mig:.1f}s, generate+COPY {t_copy:.1f}s, indexes {t_idx:.1f}s, "
        f"vacuum analyze {t_an:.1f}s; total {total:.1f}s; database size {size_txt}"
    )
    print(f"DATABASE_URL={url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
