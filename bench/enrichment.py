"""Enrichment benchmarks on the benchmark dataset (a clone of ``lfs_bench``: 1M parcels, ~2,000
zones, ~200 postes).

    .venv/bin/python bench/enrichment.py [--sample 1000] [--leads 10000] [--concurrency 8]
                                         [--cache-precision 0.05] [--skip-queue]

1. The spatial part of one lead's enrichment (``enrichment.spatial.spatial_parts``: every join
   plus the Python around it) timed over ``--sample`` leads, P50/P95, against the floor: the same
   SQL statements sent bare on the same connection, results discarded.
2. ``--leads`` leads enriched end to end through the queue: a batch job, one ``leadfactory
   worker`` process, the PVGIS stand-in (tests/pvgis_standin.py, 30 calls/s like PVGIS) in its
   own process, a cold PVGIS cache.

Needs ``bench/generate.py`` to have built ``lfs_bench``; works on its own clone
(``lfs_bench_enrich``, made once with CREATE DATABASE … TEMPLATE) so the leads it adds never
disturb the other benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.cli import run_migrations  # noqa: E402
from api.settings import Settings, to_async_url, to_plain_url  # noqa: E402

SOURCE_DB = "lfs_bench"
DB_NAME = "lfs_bench_enrich"
SEED_SQL = """
INSERT INTO leads (internal_name, name, status, geom)
SELECT 'BENCH-' || lpad(n::text, 6, '0'), 'bench lead ' || n, 'NEW',
       ST_Multi(ST_Transform(ST_Expand(ST_Transform(c, 2154), side / 2), 4326))
FROM (
    SELECT row_number() OVER (ORDER BY md5(p.id)) AS n,
           ST_Centroid(p.geom) AS c,
           sqrt(10000 * (1 + 19 * ((('x' || substr(md5(p.id), 1, 8))::bit(32)::bigint)
                                   / 4294967295.0))) AS side
    FROM parcels AS p
    ORDER BY md5(p.id)
    LIMIT %(n)s
) AS picked
"""


def server_url(dbname: str) -> str:
    """DATABASE_URL pointed at another database of the same cluster."""
    url = to_plain_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:54329/leadfactory")
    )
    return url.rsplit("/", 1)[0] + "/" + dbname


def prepare(n_leads: int, source: str = SOURCE_DB) -> str:
    """Clone ``source`` (lfs_bench) once, migrate it, seed ``n_leads`` NEW leads (1–20 ha
    squares). The clone of lfs_bench is lfs_bench_enrich; of another database, NAME_enrich."""
    db = DB_NAME if source == SOURCE_DB else f"{source}_enrich"
    url = server_url(db)
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if not exists:
            for attempt in range(40):  # the template must have no other session
                try:
                    admin.execute(f'CREATE DATABASE "{db}" TEMPLATE "{source}"')
                    break
                except psycopg.errors.ObjectInUse:
                    if attempt == 39:
                        raise
                    time.sleep(3)
    run_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM leads WHERE internal_name LIKE 'BENCH-%'")
        if have.fetchone()[0] != n_leads:
            print(f"seeding {n_leads} leads …", flush=True)
            conn.execute("DELETE FROM leads WHERE internal_name LIKE 'BENCH-%'")
            conn.execute(SEED_SQL, {"n": n_leads})
            conn.execute(
                "INSERT INTO lead_sourcing (lead_id) SELECT id FROM leads "
                "WHERE internal_name LIKE 'BENCH-%' ON CONFLICT DO NOTHING"
            )
            conn.execute("VACUUM ANALYZE leads")
    return url


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0–1) of values, in ms."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_spatial(url: str, sample: int) -> None:
    """P50/P95 of the spatial part vs the bare SQL of the same joins."""
    from sqlalchemy import text

    from enrichment.config import EnrichmentConfig
    from enrichment.spatial import degree_radius, lead_facts, spatial_parts, statement
    from geo.db import make_engine

    config = EnrichmentConfig()
    engine = make_engine(to_async_url(url), pool_size=1, max_overflow=0)
    async with engine.connect() as conn:
        ids = (
            (
                await conn.execute(
                    text(
                        "SELECT id FROM leads WHERE internal_name LIKE 'BENCH-%' ORDER BY id "
                        "LIMIT :n"
                    ),
                    {"n": sample},
                )
            )
            .scalars()
            .all()
        )
        facts = [await lead_facts(conn, i) for i in ids]
        names = [
            "layers",
            "communes",
            "env_overlaps",
            "env_nearby",
            "grid",
            "plu",
            "parcels",
            "surface",
        ]
        stmts = {n: statement(n) for n in names}  # the engine's statements, array parameters typed
        # Warm-up: caches and prepared statements, so both sides start equal.
        for f in facts[:20]:
            await spatial_parts(conn, f, config)
        keys = {n: set(stmts[n].compile().params) for n in names}

        async def bare(f) -> float:
            params = {
                "lead_ids": [f.id],
                "radius_m": config.nearby_radius_m,
                "radii_deg": [degree_radius(config.nearby_radius_m, f.lat)],
                "candidates": 10,
                "n": 3,
                "exclusion_types": config.score.exclusion_types(),
            }
            t = time.perf_counter()
            for n in names:
                wanted = {k: v for k, v in params.items() if k in keys[n]}
                (await conn.execute(stmts[n], wanted)).all()
            return time.perf_counter() - t

        async def whole(f) -> float:
            t = time.perf_counter()
            await spatial_parts(conn, f, config)
            return time.perf_counter() - t

        # Interleaved, alternating which goes first, so both see the same machine load.
        full: list[float] = []
        floor: list[float] = []
        for i, f in enumerate(facts):
            if i % 2:
                full.append(await whole(f))
                floor.append(await bare(f))
            else:
                floor.append(await bare(f))
                full.append(await whole(f))
    await engine.dispose()
    p50, p95, f50, f95 = pct(full, 0.5), pct(full, 0.95), pct(floor, 0.5), pct(floor, 0.95)
    print(
        f"spatial part ({url.rsplit('/', 1)[1]}), {len(full)} leads: P50 {p50:.1f} ms  "
        f"P95 {p95:.1f} ms  max {pct(full, 1.0):.1f} ms"
    )
    print(f"bare SQL of the same joins (floor): P50 {f50:.1f} ms  P95 {f95:.1f} ms")
    print(f"ratio spatial / floor: P50 {p50 / f50:.2f}  P95 {p95 / f95:.2f}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bench_queue(
    url: str, n_leads: int, concurrency: int, precision: float, chunk: int, max_seconds: float
) -> None:
    """Enrich every bench lead through a batch job and one worker process."""
    from api.queue import defer_job, make_queue

    with psycopg.connect(url, autocommit=True) as conn:  # a cold, repeatable start
        conn.execute("TRUNCATE pvgis_cache, procrastinate_jobs CASCADE")
        conn.execute("DELETE FROM enrichment_jobs")
        conn.execute(
            "DELETE FROM activity_log WHERE lead_id IN "
            "(SELECT id FROM leads WHERE internal_name LIKE 'BENCH-%')"
        )
        conn.execute("UPDATE leads SET status = 'NEW' WHERE internal_name LIKE 'BENCH-%'")
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM leads WHERE internal_name LIKE 'BENCH-%%' ORDER BY id LIMIT %s",
                (n_leads,),
            )
        ]
        job_id = conn.execute(
            "INSERT INTO enrichment_jobs (status, total, lead_ids, failures) "
            "VALUES ('queued', %s, %s::jsonb, '[]') RETURNING id",
            (len(ids), str(ids)),
        ).fetchone()[0]
    port = free_port()
    standin = subprocess.Popen(
        [sys.executable, "-m", "tests.pvgis_standin", "--port", str(port), "--rate", "30"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LFS_ENVIRONMENT": "test",
        "LFS_PVGIS__BASE_URL": f"http://127.0.0.1:{port}/api",
        "LFS_PVGIS__CACHE_PRECISION_DEG": str(precision),
    }
    settings = Settings(database_url=url)
    queue = make_queue(settings)
    worker = None
    try:
        time.sleep(0.5)
        t0 = time.perf_counter()
        async with queue.open_async():
            await defer_job(queue, job_id, ids, chunk)
        t_defer = time.perf_counter() - t0
        worker = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker", "--concurrency", str(concurrency)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                done, failed, status = conn.execute(
                    "SELECT done, failed, status FROM enrichment_jobs WHERE id = %s", (job_id,)
                ).fetchone()
                if status == "done" or time.perf_counter() - t0 > max_seconds:
                    break
                time.sleep(0.5)
            elapsed = time.perf_counter() - t0
            # CPU actually spent, whatever else the machine runs: the worker process and the
            # PostgreSQL backends serving it (application_name 'leadfactory', still connected).
            worker_cpu = cpu_seconds(worker.pid)
            backends = [
                r[0]
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'leadfactory'"
                )
            ]
            pg_cpu = sum(cpu_seconds(pid) for pid in backends)
            calls = conn.execute("SELECT count(*) FROM pvgis_cache").fetchone()[0]
            twice = conn.execute(
                "SELECT count(*) FROM (SELECT a.lead_id FROM activity_log AS a "
                "JOIN leads AS l ON l.id = a.lead_id WHERE a.action = 'enrich' "
                "AND l.internal_name LIKE 'BENCH-%' GROUP BY a.lead_id HAVING count(*) > 1) AS t"
            ).fetchone()[0]
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        standin.send_signal(signal.SIGTERM)
        standin.wait(10)
    print(
        f"queue: {len(ids)} leads, 1 worker (concurrency {concurrency}, {chunk} leads per "
        f"task), PVGIS stand-in at 30 calls/s, cache precision {precision}°"
    )
    n = max(done, 1)
    print(
        f"  CPU per lead: worker process {1000 * worker_cpu / n:.1f} ms, its PostgreSQL "
        f"backends {1000 * pg_cpu / n:.1f} ms (pool backends only; queue fetches not counted)"
    )
    print(
        f"  defer {t_defer:.1f} s; end to end {elapsed:.1f} s = {done / elapsed:.0f} leads/s; "
        f"done {done}, failed {failed}, status {status}; PVGIS calls {calls}; "
        f"leads enriched twice {twice}"
    )


def main() -> None:
    """Run the benchmarks and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cache-precision", type=float, default=0.05)
    parser.add_argument("--chunk", type=int, default=50, help="leads per queued task")
    parser.add_argument("--queue-leads", type=int, default=None, help="default: --leads")
    parser.add_argument("--max-seconds", type=float, default=900, help="give up after")
    parser.add_argument("--skip-queue", action="store_true")
    parser.add_argument("--skip-spatial", action="store_true")
    parser.add_argument(
        "--db",
        default=SOURCE_DB,
        help="the database to clone (lfs_bench; lfs_bench_10m for the 10 M figures)",
    )
    args = parser.parse_args()
    url = prepare(args.leads, args.db)
    if not args.skip_spatial:
        asyncio.run(bench_spatial(url, args.sample))
    if not args.skip_queue:
        n = args.queue_leads or args.leads
        asyncio.run(
            bench_queue(
                url, n, args.concurrency, args.cache_precision, args.chunk, args.max_seconds
            )
        )


if __name__ == "__main__":
    main()
