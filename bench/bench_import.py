"""Time ``leadfactory import parcels`` on the 1M-parcel GeoJSON file (bench/make_geojson.py).

    .venv/bin/python bench/bench_import.py [--file bench/out/cadastre-bench-parcelles.json]
        [--reimport] [--keep] [--into lfs_bench_10m]

Imports into a fresh database ``lfs_bench_import`` (created and migrated here, dropped after
unless --keep) through the real command in a child process, and prints the file size, wall
time, rows/s and the child's peak RSS. --reimport also times a second, idempotent import.
--into DB imports into a clone of DB instead (one more département on top of the 1 M or 10 M
parcels: ``make_geojson.py --departement 73``); the rows counted are the rows added.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import server_url  # noqa: E402

from api.cli import run_migrations  # noqa: E402

FILE = ROOT / "bench" / "out" / "cadastre-bench-parcelles.json"
DB = "lfs_bench_import"


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _backend_cpu(admin: psycopg.Connection, seen: dict[int, float]) -> None:
    """CPU seconds of the import's PostgreSQL backends (same machine: read from /proc)."""
    pids = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'leadfactory'",
        (DB,),
    ).fetchall()
    tick = os.sysconf("SC_CLK_TCK")
    for (pid,) in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seen[pid] = max(seen.get(pid, 0.0), (int(fields[11]) + int(fields[12])) / tick)


def timed_import(url: str, path: Path) -> tuple[float, str]:
    cpu0 = _child_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "leadfactory"), "import", "parcels", str(path)],
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    server: dict[int, float] = {}
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        while proc.poll() is None:
            _backend_cpu(admin, server)
            time.sleep(0.5)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"import failed: {err.strip()}")
    cpu = _child_cpu() - cpu0
    load = os.getloadavg()[0]
    line = out.strip().splitlines()[0]
    return wall, (
        f"{line}\n  CPU: import process {cpu:.1f}s, PostgreSQL backend "
        f"{sum(server.values()):.1f}s (last sample before the commit); "
        f"machine load average {load:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--file", type=Path, default=FILE)
    ap.add_argument("--reimport", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--into", metavar="DB", help="import into a clone of DB (e.g. lfs_bench_10m)")
    args = ap.parse_args(argv)
    if not args.file.exists():
        print(f"{args.file} is missing: run bench/make_geojson.py first", file=sys.stderr)
        return 2
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')  # type: ignore[arg-type]
        template = f' TEMPLATE "{args.into}"' if args.into else ""
        t0 = time.perf_counter()
        conn.execute(f'CREATE DATABASE "{DB}"{template}')  # type: ignore[arg-type]
        if args.into:
            print(f"cloned {args.into} in {time.perf_counter() - t0:.0f}s")
    url = server_url(DB)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        run_migrations(url)
        count_sql = "SELECT count(*) FROM parcels"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE parcels")
            before = conn.execute(count_sql).fetchone()[0]  # type: ignore[index]
        size = args.file.stat().st_size
        wall, summary = timed_import(url, args.file)
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with psycopg.connect(url) as conn:
            rows = conn.execute(count_sql).fetchone()[0] - before  # type: ignore[index]
        if before:
            print(f"into a clone of {args.into}: {before:,} parcels before the import")
        print(summary)
        print(
            f"import parcels: {size / 1e6:.0f} MB GeoJSON, {rows:,} rows in {wall:.1f}s "
            f"= {rows / wall:,.0f} rows/s; peak RSS of the import process {rss_mb:.0f} MB"
        )
        if args.reimport:
            wall2, summary2 = timed_import(url, args.file)
            print(summary2)
            print(f"re-import (idempotent): {wall2:.1f}s = {rows / wall2:,.0f} rows/s")
    finally:
        if not args.keep:
            with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
