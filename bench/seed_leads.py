"""Seed a database of its own (``lfs_bench_leads``) with 100k leads and everything around them.

    .venv/bin/python bench/seed_leads.py [--leads 100000] [--db lfs_bench_leads] [--force]

Creates and migrates the database on the cluster of DATABASE_URL, loads the real communes of four
departments (15, 17, 27, 69 from data/), users (1 admin, 5 managers, 40 OPS,
5 commercial; password ``bench-password-123``), then, with INSERT … SELECT in PostgreSQL:
leads (1–20 ha rectangles around commune centres, statuses spread over the pipeline, scores),
their sourcing/technical/regulatory/network/foncier/economic rows, status history, activity log
and comments. Deterministic (setseed). Idempotent: the database comment records a complete run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.cli import run_migrations  # noqa: E402
from api.security import hash_password  # noqa: E402
from api.settings import to_plain_url  # noqa: E402

DB_NAME = "lfs_bench_leads"
PASSWORD = "bench-password-123"
COMMUNE_FILES = ["15-cantal", "17-charente-maritime", "27-eure", "69-rhone"]
DATA = ROOT / "data"  # the national communes shipped with the demo (data/SOURCES.md)
SQL = Path(__file__).resolve().parent / "seed_leads.sql"


def server_url(dbname: str) -> str:
    """DATABASE_URL pointed at another database of the same cluster."""
    url = to_plain_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:54329/leadfactory")
    )
    return url.rsplit("/", 1)[0] + "/" + dbname


def marker(n: int) -> str:
    """The database comment of a complete run."""
    return f"lfs-bench-leads v1 leads={n} complete"


def _create(db: str, force: bool, n: int) -> bool:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (db,),
        ).fetchone()
        if row is not None and row[0] == marker(n) and not force:
            up_to_date = True
        else:
            up_to_date = False
            if row is not None:
                conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')  # db: a checked identifier
            conn.execute(f'CREATE DATABASE "{db}"')
    if up_to_date:
        run_migrations(server_url(db))  # new revisions since the seed (indexes…)
        return False
    with psycopg.connect(server_url(db), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    run_migrations(server_url(db))
    return True


def _communes(conn: psycopg.Connection) -> int:
    n = 0
    with conn.cursor() as cur:
        for name in COMMUNE_FILES:
            path = min(DATA.rglob(f"communes-{name}.geojson.gz"))
            dept = name.split("-", 1)[0]
            feats = json.loads(gzip.decompress(path.read_bytes()))["features"]
            cur.executemany(
                "INSERT INTO communes (insee, name, department, geom) VALUES (%s, %s, %s,"
                " ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326))) ON CONFLICT DO NOTHING",
                [
                    (
                        f["properties"]["code"],
                        f["properties"]["nom"],
                        dept,
                        json.dumps(f["geometry"]),
                    )
                    for f in feats
                ],
            )
            n += len(feats)
    return n


def _users(conn: psycopg.Connection) -> None:
    pw = hash_password(PASSWORD, rounds=10)
    rows = [("admin@bench.local", "ADMIN", "Bench Admin")]
    rows += [(f"manager{i}@bench.local", "MANAGER", f"Manager {i}") for i in range(1, 6)]
    rows += [(f"ops{i}@bench.local", "OPS", f"Ops {i}") for i in range(1, 41)]
    rows += [(f"sales{i}@bench.local", "COMMERCIAL", f"Sales {i}") for i in range(1, 6)]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO users (email, role, full_name, password_hash) VALUES (%s, %s, %s, %s)",
            [(e, r, n, pw) for e, r, n in rows],
        )


def seed(db: str, n: int, force: bool) -> dict[str, float]:
    """Build the database; return row counts and timings."""
    t0 = time.perf_counter()
    if not _create(db, force, n):
        print(f"{db} is up to date ({marker(n)}); --force rebuilds it")
        return {}
    with psycopg.connect(server_url(db), autocommit=True) as conn:
        communes = _communes(conn)
        _users(conn)
        t1 = time.perf_counter()
        for statement in SQL.read_text().split(";\n\n"):
            if statement.strip():
                params = {"n": n} if "%(n)s" in statement else None
                conn.execute(statement, params, prepare=False)
        t2 = time.perf_counter()
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in (
                "leads",
                "lead_status_history",
                "activity_log",
                "comments",
                "lead_technical",
                "lead_foncier",
            )
        }
        conn.execute(f"COMMENT ON DATABASE \"{db}\" IS '{marker(n)}'")
    print(f"communes {communes}, " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"seeded in {t2 - t1:.1f} s (total {time.perf_counter() - t0:.1f} s with migrations)")
    return {"seconds": t2 - t1, **counts}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--db", default=DB_NAME)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    if not args.db.replace("_", "").isalnum():
        ap.error("--db must be letters, digits and underscores")
    seed(args.db, args.leads, args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
