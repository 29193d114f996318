"""Site finder runs end to end through the queue: the time from "run" to a run's results.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:54329/lfs_sf_demo \\
        .venv/bin/python -m bench.bench_site_finder --communes 69114 --repeat 5
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:54329/lfs_bench_sf \\
        .venv/bin/python -m bench.bench_site_finder --largest 20 --workers 1 2

A run is queued as the API queues it (``api.services.site_searches.start_run``: the territory
counted per commune, chunks, one task each), then a procrastinate worker in this process drains
the ``site_finder`` queue with ``--workers`` tasks at once (each on its own database
connection: the work is in PostgreSQL, so two tasks use the machine's two cores), and the clock
stops when the run's results are written (``succeeded``). The database must be migrated to head
(``leadfactory migrate``) and hold a user with id 1 (``leadfactory bootstrap``). Layers loaded
without the importer count as complete (the benchmark's), as in the API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from typing import Any

from sqlalchemy import text

from api.queue import make_queue
from api.services.site_searches import SITE_QUEUE, start_run
from api.settings import Settings
from geo.db import make_engine, make_sessionmaker
from geo.models import Role, SiteSearch
from geo.visibility import Viewer

LAYERS = ("communes", "parcels", "urban_zones", "env_zones", "substations")


async def declare_coverage(sessions: Any) -> None:
    """Declare each reference import's coverage (its rows' envelope, method 'declared') where
    none is: the benchmark databases are written without the importer (bench/generate.py)."""
    async with sessions() as session, session.begin():
        imports = await session.execute(
            text(
                "SELECT i.id, i.layer FROM imports i WHERE i.layer = ANY(:layers) "
                "AND i.status = 'succeeded' AND NOT EXISTS "
                "(SELECT 1 FROM layer_coverage c WHERE c.import_id = i.id) ORDER BY i.id"
            ),
            {"layers": list(LAYERS)},
        )
        for import_id, layer in imports.all():
            await session.execute(
                text(
                    "INSERT INTO layer_coverage (import_id, layer, method, areas, geom) "
                    "SELECT :i, :layer, 'declared', '[]'::jsonb, ST_Multi(ST_Envelope(e)) "
                    f"FROM (SELECT ST_Extent(geom)::geometry e FROM {layer} "
                    "WHERE import_id = :i) s WHERE e IS NOT NULL"
                ),
                {"i": import_id, "layer": layer},
            )
            print(f"coverage declared for import {import_id} ({layer})")


async def territory_of(sessions: Any, args: argparse.Namespace) -> dict[str, list[str]]:
    """Communes given, the N largest communes by parcels, or départements."""
    if args.departements:
        return {"departements": args.departements}
    if args.communes:
        return {"communes": args.communes}
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT commune FROM parcels GROUP BY commune ORDER BY count(*) DESC, commune "
                "LIMIT :n"
            ),
            {"n": args.largest},
        )
        return {"communes": [r[0] for r in rows]}


async def one_run(
    settings: Settings, sessions: Any, search_id: int, workers: int, limits: Any
) -> dict[str, Any]:
    """Queue a run, drain the queue with ``workers`` tasks at once; the run's figures."""
    queue = make_queue(settings, workers)
    viewer = Viewer(1, Role.ADMIN)
    async with queue.open_async():
        t0 = time.perf_counter()
        run = await start_run(sessions, queue, viewer, search_id, settings, limits)
        queued = time.perf_counter() - t0
        await queue.run_worker_async(
            queues=[SITE_QUEUE],
            concurrency=workers,
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
            delete_jobs="successful",
        )
        total = time.perf_counter() - t0
    await queue.close_context()  # type: ignore[attr-defined]
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT status, counts, progress, error, "
                    "extract(epoch FROM finished_at - started_at) AS db_s, "
                    "(SELECT max(extract(epoch FROM finished_at - started_at)) "
                    " FROM site_search_chunks WHERE run_id = r.id) AS slowest_chunk_s, "
                    "extract(epoch FROM r.finished_at - (SELECT max(finished_at) "
                    " FROM site_search_chunks WHERE run_id = r.id)) AS merge_s "
                    "FROM site_search_runs AS r WHERE id = :i"
                ),
                {"i": run.id},
            )
        ).one()
    if row.status != "succeeded":
        raise SystemExit(f"run {run.id} {row.status}: {row.error}")
    return {
        "run": run.id,
        "total_s": total,
        "queue_s": queued,
        "slowest_chunk_s": float(row.slowest_chunk_s or 0),
        "merge_s": float(row.merge_s or 0),
        "counts": row.counts,
        "progress": row.progress,
    }


async def warm_runs(
    settings: Settings, sessions: Any, search_id: int, workers: int, limits: Any, repeat: int
) -> list[float]:
    """As under ``serve --with-worker``: a worker already listening (LISTEN/NOTIFY) before the
    runs; each run timed from queueing to ``succeeded`` seen by polling every 20 ms, as a client
    polls its Location."""
    queue = make_queue(settings, workers)
    viewer = Viewer(1, Role.ADMIN)
    times = []
    async with queue.open_async():
        worker = asyncio.create_task(
            queue.run_worker_async(
                queues=[SITE_QUEUE],
                concurrency=workers,
                install_signal_handlers=False,
                delete_jobs="successful",
            )
        )
        await asyncio.sleep(1.0)  # the worker is up and listening
        try:
            for _ in range(repeat):
                t0 = time.perf_counter()
                run = await start_run(sessions, queue, viewer, search_id, settings, limits)
                while True:
                    async with sessions() as session:
                        status = await session.scalar(
                            text("SELECT status FROM site_search_runs WHERE id = :i"),
                            {"i": run.id},
                        )
                    if status not in ("queued", "running"):
                        break
                    await asyncio.sleep(0.02)
                if status != "succeeded":
                    raise SystemExit(f"run {run.id} {status}")
                times.append(time.perf_counter() - t0)
                print(f"warm worker: run {run.id} succeeded {times[-1]:.2f} s after queueing")
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    await queue.close_context()  # type: ignore[attr-defined]
    return times


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--communes", nargs="*", default=[])
    p.add_argument("--departements", nargs="*", default=[])
    p.add_argument("--largest", type=int, default=1, help="the N largest communes by parcels")
    p.add_argument("--workers", type=int, nargs="+", default=[1])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--chunk-parcels", type=int, default=None)
    p.add_argument("--criteria", default="{}", help="JSON criteria (defaults: DOMAIN.md's)")
    p.add_argument(
        "--warm", action="store_true", help="a worker already running; runs polled as a client"
    )
    p.add_argument(
        "--declare-coverage",
        action="store_true",
        help="declare the coverage of reference imports that have none (generated databases)",
    )
    args = p.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ["DATABASE_URL"]
    site_finder: dict[str, Any] = {"statement_timeout_ms": 120_000}
    if args.chunk_parcels:
        site_finder["chunk_parcels"] = args.chunk_parcels
    settings = Settings.model_validate(
        {"database_url": url, "environment": "development", "site_finder": site_finder}
    )
    from api.routers.leads import limits_of

    limits = limits_of(settings)
    engine = make_engine(settings.async_database_url, pool_size=4, max_overflow=4)
    sessions = make_sessionmaker(engine)
    import orjson

    if args.declare_coverage:
        await declare_coverage(sessions)
    territory = await territory_of(sessions, args)
    async with sessions() as session, session.begin():
        search = SiteSearch(
            name="bench", owner_id=1, territory=territory, criteria=orjson.loads(args.criteria)
        )
        session.add(search)
        await session.flush()
        search_id = search.id
    print(f"territory: {str(territory)[:120]}")
    try:
        if args.warm:
            times = await warm_runs(
                settings, sessions, search_id, args.workers[0], limits, args.repeat
            )
            print(
                f"warm worker: median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
                f"max {max(times):.2f} s over {len(times)} runs"
            )
            return
        for workers in args.workers:
            times = []
            for _ in range(args.repeat):
                out = await one_run(settings, sessions, search_id, workers, limits)
                times.append(out["total_s"])
                c = out["counts"]
                print(
                    f"workers={workers} run={out['run']}: {out['total_s']:.2f} s "
                    f"(queueing {out['queue_s']:.2f} s, slowest chunk "
                    f"{out['slowest_chunk_s']:.2f} s, merge {out['merge_s']:.2f} s) — "
                    f"{c['parcels_scanned']:,} parcels "
                    f"({c['parcels_scanned'] / out['total_s']:,.0f} parcels/s, "
                    f"load {os.getloadavg()[0]:.1f}), {c['chunks']} chunks, "
                    f"{c['parcels_at_chunk_edges']:,} at chunk edges, "
                    f"{c['sites_found']} sites found, {c['sites_kept']} kept, "
                    f"{c['sites_returned']} returned"
                )
            print(
                f"workers={workers}: median {statistics.median(times):.2f} s, "
                f"min {min(times):.2f} s over {len(times)} runs"
            )
    finally:
        async with sessions() as session, session.begin():
            await session.execute(text("DELETE FROM site_searches WHERE id = :i"), {"i": search_id})
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
