"""The enrichment task queue (procrastinate on our PostgreSQL) and the worker that drains it.

One task per chunk of leads (``LFS_ENRICHMENT__TASK_CHUNK``): ``enrich_leads(job_id, lead_ids)``,
enriched set-based (``enrichment.engine.enrich_leads``: one statement per part for the chunk, one
write transaction). A task is idempotent: the engine takes every lead's advisory lock, then skips
the leads this job has already enriched (activity log), so a task retried after a crash never
enriches a lead twice. A killed worker's tasks stay ``doing``;
the other workers put them back in the queue once its heartbeat is older than
``LFS_ENRICHMENT__STALLED_AFTER_S``. A batch's job row and its tasks are written in one
transaction (``create_batch``), so a server killed in between leaves no job without tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import procrastinate
from procrastinate import JobContext, PsycopgConnector, RetryStrategy

from api.services.enrichment import create_job, enrichment_config, record_failure
from api.services.lead_exports import (
    EXPORT_QUEUE,
    EXPORT_TASK,
    fail_export,
    remove_expired,
    write_export,
)
from api.services.site_searches import SITE_QUEUE, SITE_TASK, run_chunk
from api.settings import Settings
from api.storage import make_storage
from api.supervisor import parent_gone
from enrichment.config import EnrichmentConfig
from enrichment.engine import Actor, enrich_lead, enrich_leads
from enrichment.metrics import TASK_SECONDS
from enrichment.pvgis import PvgisClient
from geo.db import make_engine, make_sessionmaker
from geo.errors import DomainError
from geo.models import EnrichmentJob, Role, User
from geo.shared_state import SharedState, make_shared_state
from reports.storage import Storage

log = logging.getLogger(__name__)

QUEUE = "enrichment"
TASK = "enrich_leads"
MAX_ATTEMPTS = 3
PARENT_POLL_S = 1.0  # how often a worker started by a server checks it is still there


@dataclass
class WorkerContext:
    """What a worker process keeps: its own engine, sessions, PVGIS client, config."""

    settings: Settings
    config: EnrichmentConfig
    engine: Any
    sessions: Any
    pvgis: PvgisClient
    actors: dict[int, Actor]
    shared: SharedState
    storage: Storage

    @classmethod
    def build(cls, settings: Settings, concurrency: int) -> WorkerContext:
        """Engine sized for ``concurrency`` leads at once (3 connections each at most)."""
        engine = make_engine(
            settings.async_database_url,
            pool_size=concurrency * 2 + 1,
            max_overflow=concurrency + 2,
        )
        config = enrichment_config(settings)
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        shared = make_shared_state(engine, redis_url, settings.redis_prefix)
        return cls(
            settings,
            config,
            engine,
            make_sessionmaker(engine),
            # The deployment's shared budget (the database's slot, or Redis).
            PvgisClient(config.pvgis, engine=engine, shared=shared),
            {},
            shared,
            make_storage(settings.storage),
        )

    async def actor(self, job_id: int) -> Actor:
        """The job creator acts (their role drives the NEW → ENRICHED move); system otherwise."""
        if job_id not in self.actors:
            async with self.sessions() as session:
                job = await session.get(EnrichmentJob, job_id)
                user = (
                    await session.get(User, job.created_by_id)
                    if job and job.created_by_id
                    else None
                )
            self.actors[job_id] = Actor(user.id, user.role) if user else Actor(None, Role.ADMIN)
        return self.actors[job_id]

    async def close(self) -> None:
        """Release the pool and the HTTP client."""
        await self.pvgis.aclose()
        await self.shared.aclose()
        await self.engine.dispose()


async def enrich_one(ctx: WorkerContext, job_id: int, lead_id: int, last_attempt: bool) -> None:
    """Enrich one lead of a job; a refused lead is a failure, an error is retried by the task."""
    try:
        await enrich_lead(
            ctx.sessions,
            lead_id,
            actor=await ctx.actor(job_id),
            config=ctx.config,
            pvgis=ctx.pvgis,
            job_id=job_id,
            wait_for_lock=True,
        )
    except DomainError as exc:  # the lead itself is the problem: no retry
        await record_failure(ctx.sessions, job_id, lead_id, exc.detail)
    except Exception as exc:
        if not last_attempt:
            raise  # procrastinate retries the task; leads already done are skipped
        log.exception("lead %s failed in job %s", lead_id, job_id)
        await record_failure(ctx.sessions, job_id, lead_id, f"{type(exc).__name__}: {exc}")


async def enrich_chunk(
    ctx: WorkerContext, job_id: int, lead_ids: list[int], last_attempt: bool
) -> None:
    """Enrich a task's chunk set-based in one transaction; a lead that can't be enriched is a
    failure with its reason and the others commit. Should the chunk's transaction itself fail
    (an unexpected error), the leads are redone one by one so only the culprit is affected."""
    try:
        _, failures = await enrich_leads(
            ctx.sessions,
            lead_ids,
            actor=await ctx.actor(job_id),
            config=ctx.config,
            pvgis=ctx.pvgis,
            job_id=job_id,
            wait_for_lock=True,
        )
    except Exception:
        if len(lead_ids) == 1:
            await enrich_one(ctx, job_id, lead_ids[0], last_attempt)
            return
        log.warning("chunk of job %s failed; enriching its leads one by one", job_id, exc_info=True)
        for lead_id in lead_ids:
            await enrich_one(ctx, job_id, lead_id, last_attempt)
        return
    for lead_id, exc in failures.items():
        await record_failure(ctx.sessions, job_id, lead_id, exc.detail)


def is_last_attempt(context: JobContext) -> bool:
    """Whether a failure of this run of the task is final (no retry left)."""
    return (context.job.attempts if context.job else MAX_ATTEMPTS) + 1 >= MAX_ATTEMPTS


def make_queue(settings: Settings, concurrency: int = 1) -> procrastinate.App:
    """The procrastinate app with its tasks registered: enrichment, site finder chunks, exports."""
    app = procrastinate.App(connector=PsycopgConnector(conninfo=settings.sync_database_url))
    holder: dict[str, WorkerContext] = {}

    def worker_context() -> WorkerContext:
        """The worker's engine, clients and storage, built by its first task."""
        if "ctx" not in holder:
            holder["ctx"] = WorkerContext.build(settings, concurrency)
        return holder["ctx"]

    @app.task(
        name=TASK,
        queue=QUEUE,
        pass_context=True,
        retry=RetryStrategy(max_attempts=MAX_ATTEMPTS, wait=2),
    )
    async def enrich_leads_task(context: JobContext, job_id: int, lead_ids: list[int]) -> None:
        ctx, last_attempt = worker_context(), is_last_attempt(context)
        started, outcome = time.perf_counter(), "error"
        try:
            await enrich_chunk(ctx, job_id, lead_ids, last_attempt)
            outcome = "ok"
        finally:
            TASK_SECONDS.labels(outcome).observe(time.perf_counter() - started)

    @app.task(
        name=SITE_TASK,
        queue=SITE_QUEUE,
        pass_context=True,
        retry=RetryStrategy(max_attempts=MAX_ATTEMPTS, wait=2),
    )
    async def site_run_chunk_task(context: JobContext, run_id: int, idx: int) -> None:
        # A chunk of a site finder run (api.services.site_searches.run_chunk; issue 17).
        ctx, last_attempt = worker_context(), is_last_attempt(context)
        await run_chunk(ctx.sessions, settings, run_id, idx, last_attempt=last_attempt)

    @app.task(
        name=EXPORT_TASK,
        queue=EXPORT_QUEUE,
        pass_context=True,
        retry=RetryStrategy(max_attempts=MAX_ATTEMPTS, wait=2),
    )
    async def write_export_task(context: JobContext, export_id: int) -> None:
        # A lead export asked through POST /api/leads/exports (api.services.lead_exports).
        ctx, last_attempt = worker_context(), is_last_attempt(context)
        try:
            await write_export(ctx.sessions, ctx.storage, export_id)
        except Exception as exc:
            if not last_attempt:
                raise
            log.exception("export %s failed", export_id)
            await fail_export(ctx.sessions, export_id, exc)
        kept = timedelta(hours=settings.leads.export_kept_h)
        await remove_expired(ctx.sessions, ctx.storage, kept)

    async def close() -> None:
        ctx = holder.pop("ctx", None)
        if ctx is not None:
            await ctx.close()

    app.close_context = close  # type: ignore[attr-defined]
    return app


async def defer_job(
    queue: procrastinate.App,
    job_id: int,
    lead_ids: list[int],
    chunk: int = 50,
    connection: Any | None = None,
) -> None:
    """Queue the job as tasks of ``chunk`` leads each (fewer queue round trips per lead); on
    ``connection`` (psycopg, the caller commits) when given, else on the queue's pool."""
    deferrer = queue.tasks[TASK].configure(connection=connection)
    chunks = [lead_ids[i : i + chunk] for i in range(0, len(lead_ids), chunk)]
    for i in range(0, len(chunks), 500):
        kwargs: list[dict[str, Any]] = [
            {"job_id": job_id, "lead_ids": part} for part in chunks[i : i + 500]
        ]
        await deferrer.batch_defer_async(*kwargs)


async def create_batch(
    queue: procrastinate.App, lead_ids: list[int], user_id: int, chunk: int = 50
) -> int:
    """Save a job row and queue its tasks in ONE transaction; the job's id.

    Both go through one connection of the queue's pool (procrastinate defers on a connection
    the caller commits), so a crash between them leaves neither: no job can stay ``queued``
    with no task to run it.
    """
    connector = cast(PsycopgConnector, queue.connector)
    async with connector.pool.connection() as conn, conn.transaction():
        job_id = await create_job(conn, lead_ids, user_id)
        if lead_ids:
            await defer_job(queue, job_id, lead_ids, chunk, connection=conn)
    return job_id


async def requeue_stalled(queue: procrastinate.App, seconds: float) -> int:
    """Put back the tasks of workers whose heartbeat is older than ``seconds``."""
    stalled = [
        job
        for name in (QUEUE, SITE_QUEUE, EXPORT_QUEUE)
        for job in await queue.job_manager.get_stalled_jobs(
            queue=name, seconds_since_heartbeat=seconds
        )
    ]
    n = 0
    for job in stalled:
        await queue.job_manager.retry_job(job)
        n += 1
    if n:
        log.warning("re-queued %d stalled enrichment task(s)", n)
    return n


async def _watch_parent(parent_pid: int, runner: asyncio.Task[None]) -> None:
    """Stop the worker (gracefully: running tasks finish) once the server that started it is
    gone; Linux's parent-death signal usually comes first, this covers the rest."""
    while not parent_gone(parent_pid):
        await asyncio.sleep(PARENT_POLL_S)
    log.warning("server %d is gone: stopping the enrichment worker", parent_pid)
    runner.cancel()


async def run_worker(
    settings: Settings, concurrency: int | None = None, parent_pid: int | None = None
) -> None:
    """Run a worker until it is told to stop (SIGINT/SIGTERM), or ``parent_pid`` is gone."""
    n = concurrency or settings.enrichment.worker_concurrency
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per PVGIS call is noise
    if settings.enrichment.worker_nice:
        # Background work yields the CPU to people's requests (docs/decisions.md, issue 18).
        os.nice(settings.enrichment.worker_nice)
    stalled_after = settings.enrichment.stalled_after_s
    queue = make_queue(settings, n)
    async with queue.open_async():

        async def watchdog() -> None:
            while True:
                with contextlib.suppress(Exception):
                    await requeue_stalled(queue, stalled_after)
                await asyncio.sleep(max(stalled_after / 2, 1.0))

        guard = asyncio.create_task(watchdog())
        runner = asyncio.create_task(
            queue.run_worker_async(
                queues=[QUEUE, SITE_QUEUE, EXPORT_QUEUE],
                concurrency=n,
                install_signal_handlers=True,
                update_heartbeat_interval=max(min(stalled_after / 3, 10.0), 0.5),
                stalled_worker_timeout=stalled_after,
                delete_jobs="successful",
            )
        )
        orphan = (
            asyncio.create_task(_watch_parent(parent_pid, runner))
            if parent_pid is not None
            else None
        )
        try:
            await runner
        except asyncio.CancelledError:
            # The watcher cancelled the runner: procrastinate stopped as on a signal. Our own
            # cancellation goes on up.
            if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise
        finally:
            guard.cancel()
            if orphan is not None:
                orphan.cancel()
            await queue.close_context()  # type: ignore[attr-defined]
