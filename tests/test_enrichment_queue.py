"""Batch enrichment through the real queue: a real worker process (``leadfactory worker``) drains
the job; killed mid-job, another worker finishes it and no lead is enriched twice. A real server
process killed while it queues a batch leaves no job without its tasks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import func, select

from api.queue import TASK, WorkerContext, enrich_chunk
from api.settings import PROJECT_ROOT, Settings
from geo.models import ActivityLog, Lead, LeadStatus, Role
from tests.conftest import assert_problem
from tests.enrichment_helpers import ewkt, make_lead, pvgis_fixtures, rect
from tests.pvgis_standin import PvgisStandin
from tests.server_process import ServerProcess, wait_until

N_LEADS = 30


standin, settings = pvgis_fixtures(
    "queue",
    rate=1000,
    pvgis={"retries": 1, "backoff_s": 0.05},
    enrichment={"task_chunk": 4},
)


def start_worker(settings: Settings, standin: PvgisStandin, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LFS_ENVIRONMENT": "test",
        "LFS_DATA_DIR": str(settings.data_dir),
        "LFS_PVGIS__BASE_URL": standin.url,
        "LFS_PVGIS__RETRIES": "1",
        "LFS_ENRICHMENT__STALLED_AFTER_S": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--concurrency", "3"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def wait_for(client, headers, job_id: int, pred, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"/api/enrichment/jobs/{job_id}", headers=headers)
        assert r.status_code == 200, r.text
        job = r.json()
        if pred(job):
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.2)


async def test_job_survives_a_killed_worker(
    client,
    state,
    settings,
    standin,
    make_user,
    auth_headers,
    tmp_path,
) -> None:
    manager = await make_user(Role.MANAGER)
    headers = await auth_headers(user=manager)
    ids = [
        await make_lead(state.sessions, ewkt(rect(3000 * i, 0, 3000 * i + 300, 300)))
        for i in range(N_LEADS)
    ]
    bad = await make_lead(state.sessions, "SRID=4326;MULTIPOLYGON EMPTY")
    r = await client.post("/api/enrichment/batch", json={"lead_ids": [*ids, bad]}, headers=headers)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert r.json()["total"] == N_LEADS + 1
    assert r.headers["location"] == f"/api/enrichment/jobs/{job_id}"
    job = (await client.get(f"/api/enrichment/jobs/{job_id}", headers=headers)).json()
    assert job["status"] == "queued" and job["done"] == 0

    # Another OPS user can't see the job.
    assert_problem(
        await client.get(f"/api/enrichment/jobs/{job_id}", headers=await auth_headers(Role.OPS)),
        404,
    )

    standin.delay_s = 0.15  # a slow PVGIS, so the first worker is killed mid-job
    log = tmp_path / "worker.log"
    first = start_worker(settings, standin, log)
    try:
        await wait_for(client, headers, job_id, lambda j: j["done"] >= 5, timeout=60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    standin.delay_s = 0.0
    mid = (await client.get(f"/api/enrichment/jobs/{job_id}", headers=headers)).json()
    assert mid["done"] + mid["failed"] < N_LEADS + 1, "the job should not be over yet"

    second = start_worker(settings, standin, log)
    try:
        job = await wait_for(client, headers, job_id, lambda j: j["status"] == "done", timeout=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    # The second worker put the killed worker's tasks back in the queue.
    assert "re-queued" in log.read_text()
    assert (job["total"], job["done"], job["failed"]) == (N_LEADS + 1, N_LEADS, 1), job
    assert job["failures"][0]["lead_id"] == bad
    assert job["failures"][0]["reason"] == f"Le lead {bad} n'a pas de géométrie à enrichir"
    assert job["finished_at"] is not None

    async with state.sessions() as session:
        counts = dict(
            (
                await session.execute(
                    select(ActivityLog.lead_id, func.count())
                    .where(ActivityLog.action == "enrich", ActivityLog.lead_id.in_(ids))
                    .group_by(ActivityLog.lead_id)
                )
            ).all()
        )
        assert counts == {i: 1 for i in ids}, log.read_text()[-3000:]
        statuses = set((await session.scalars(select(Lead.status).where(Lead.id.in_(ids)))).all())
        assert statuses == {LeadStatus.ENRICHED}
        # The job's creator is who moved them (the manager's role allows NEW → ENRICHED).
        users = set(
            (
                await session.scalars(
                    select(ActivityLog.user_id).where(
                        ActivityLog.action == "enrich", ActivityLog.lead_id.in_(ids)
                    )
                )
            ).all()
        )
        assert users == {manager.id}


async def test_batch_by_filters_and_bad_bodies(client, state, auth_headers) -> None:
    headers = await auth_headers(Role.ADMIN)
    r = await client.post(
        "/api/enrichment/batch", json={"filters": {"status": ["SOLD"]}}, headers=headers
    )
    assert r.status_code == 202, r.text
    job = (await client.get(f"/api/enrichment/jobs/{r.json()['job_id']}", headers=headers)).json()
    assert job["total"] == 0 and job["status"] == "done"
    r = await client.post(
        "/api/enrichment/batch", json={"filters": {"status": ["NEW"]}}, headers=headers
    )
    async with state.sessions() as session:
        n_new = await session.scalar(
            select(func.count()).select_from(Lead).where(Lead.status == LeadStatus.NEW)
        )
    assert r.json()["total"] == n_new
    assert_problem(await client.post("/api/enrichment/batch", json={}, headers=headers), 422)
    assert_problem(
        await client.post(
            "/api/enrichment/batch", json={"lead_ids": [1], "filters": {}}, headers=headers
        ),
        422,
    )
    assert_problem(
        await client.post("/api/enrichment/batch", json={"lead_ids": [987654321]}, headers=headers),
        404,
    )
    assert_problem(
        await client.post(
            "/api/enrichment/batch",
            json={"lead_ids": [1]},
            headers=await auth_headers(Role.COMMERCIAL),
        ),
        403,
    )


async def test_batch_ids_out_of_range(client, auth_headers) -> None:
    headers = await auth_headers(Role.ADMIN)
    for bad in ([0], [2**63], ["x"]):
        r = await client.post("/api/enrichment/batch", json={"lead_ids": bad}, headers=headers)
        assert_problem(r, 422)
    r = await client.post(f"/api/enrichment/{2**63}", headers=headers)
    assert r.status_code in (404, 422), r.text
    assert_problem(await client.get("/api/enrichment/jobs/0", headers=headers), 422)
    assert_problem(await client.get("/api/enrichment/jobs/424242", headers=headers), 404)


N_BATCH = 3000
KILLED = "lfs-killed-server"  # application_name (PGAPPNAME) of the killed server's connections


def insert_leads(url: str, n: int) -> list[int]:
    """``n`` NEW leads in one statement (their geometry doesn't matter: nothing enriches them)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "INSERT INTO leads (internal_name, name, geom) "
            "SELECT 'KILL-' || g, 'kill test', ST_Multi(ST_MakeEnvelope("
            "  3 + g * 0.001, 46, 3.0005 + g * 0.001, 46.0005, 4326)) "
            "FROM generate_series(1, %s) AS g RETURNING id",
            (n,),
        ).fetchall()
    return sorted(r[0] for r in rows)


def post_batch(url: str, headers: dict[str, str], ids: list[int], outcome: list[object]) -> None:
    """POST the batch to the server process; its answer, or the error of a killed server."""
    try:
        outcome.append(
            httpx.post(
                f"{url}/api/enrichment/batch", json={"lead_ids": ids}, headers=headers, timeout=60
            )
        )
    except httpx.TransportError as exc:
        outcome.append(exc)


def jobs_of(conn: psycopg.Connection, n: int) -> list[tuple[int, list[int]]]:
    """The committed jobs of ``n`` leads: (id, lead ids)."""
    return conn.execute(
        "SELECT id, lead_ids FROM enrichment_jobs WHERE total = %s ORDER BY id", (n,)
    ).fetchall()


def queued_leads(conn: psycopg.Connection, job_id: int) -> list[int]:
    """The lead ids of a job's queued tasks."""
    rows = conn.execute(
        "SELECT args -> 'lead_ids' FROM procrastinate_jobs "
        "WHERE task_name = %s AND (args ->> 'job_id')::bigint = %s",
        (TASK, job_id),
    )
    return sorted(i for (ids,) in rows for i in ids)


def killed_server_waits_on_tasks(conn: psycopg.Connection) -> bool:
    """Whether the server process waits to insert into procrastinate_jobs."""
    return bool(
        conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.relation = 'procrastinate_jobs'::regclass AND NOT l.granted "
            "AND a.application_name = %s",
            (KILLED,),
        ).fetchone()[0]
    )


def killed_server_connections(conn: psycopg.Connection) -> int:
    """The killed server's backends still there (they roll back when they see it gone)."""
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (KILLED,)
    ).fetchone()[0]


def kill_during_batch(
    settings: Settings, log: Path, headers: dict[str, str], ids: list[int], hold_tasks: bool
) -> None:
    """Start a server, POST the batch, SIGKILL the server as soon as the job row is committed or
    (``hold_tasks``: the test locks procrastinate_jobs) the server waits to insert its tasks,
    then wait until its transactions are over. Without the lock the server may answer first."""
    url = settings.sync_database_url
    server = ServerProcess(settings, log, PGAPPNAME=KILLED).start()
    outcome: list[object] = []
    poster = threading.Thread(target=post_batch, args=(server.url, headers, ids, outcome))
    try:
        with psycopg.connect(url) as blocker, psycopg.connect(url, autocommit=True) as watch:
            if hold_tasks:
                blocker.execute("LOCK TABLE procrastinate_jobs IN SHARE MODE")
            poster.start()
            wait_until(
                lambda: jobs_of(watch, len(ids)) or killed_server_waits_on_tasks(watch),
                30,
                "the batch's job row or its tasks",
                interval_s=0.002,
            )
            server.kill()
            blocker.rollback()
            wait_until(lambda: not killed_server_connections(watch), 10, "the killed backends")
    finally:
        server.close()
        if poster.ident is not None:  # started
            poster.join(30)
    if hold_tasks:  # killed before it could answer
        assert outcome and isinstance(outcome[0], httpx.TransportError), outcome


async def test_a_server_killed_while_queueing_a_batch_leaves_no_orphan_job(
    settings,
    auth_headers,
    tmp_path,
) -> None:
    headers = await auth_headers(Role.ADMIN)
    ids = insert_leads(settings.sync_database_url, N_BATCH)
    with psycopg.connect(settings.sync_database_url, autocommit=True) as conn:
        # Killed while it queues the tasks (held there by a lock on the queue's table): the job
        # either does not exist or has every one of its leads queued, never a job with no tasks.
        kill_during_batch(settings, tmp_path / "server.log", headers, ids, hold_tasks=True)
        for job_id, lead_ids in jobs_of(conn, N_BATCH):
            assert queued_leads(conn, job_id) == sorted(lead_ids), f"job {job_id} has lost tasks"
        assert not conn.execute(
            "SELECT count(*) FROM procrastinate_jobs t WHERE task_name = %s AND NOT EXISTS "
            "(SELECT FROM enrichment_jobs j WHERE j.id = (t.args ->> 'job_id')::bigint)",
            (TASK,),
        ).fetchone()[0], "tasks of a job that does not exist"

        # Killed as soon as the job row appears (the outside probe's reproduction): all its
        # leads are queued already.
        kill_during_batch(settings, tmp_path / "server.log", headers, ids, hold_tasks=False)
        jobs = jobs_of(conn, N_BATCH)
        for job_id, lead_ids in jobs:
            assert queued_leads(conn, job_id) == sorted(lead_ids) == ids
            conn.execute(  # nothing else in this module should enrich 3,000 leads
                "DELETE FROM procrastinate_jobs WHERE (args ->> 'job_id')::bigint = %s", (job_id,)
            )


async def test_a_job_ends_after_the_pvgis_calls_it_made(
    settings, state, standin, make_user
) -> None:
    manager = await make_user(Role.MANAGER)
    # 60 km north of the other tests' leads: PVGIS cells no one has asked for yet.
    ids = [
        await make_lead(state.sessions, ewkt(rect(6000 * i, 60_000, 6000 * i + 300, 60_300)))
        for i in range(3)
    ]
    with psycopg.connect(settings.sync_database_url, autocommit=True) as conn:
        job_id = conn.execute(
            "INSERT INTO enrichment_jobs (status, total, lead_ids, failures, created_by_id) "
            "VALUES ('queued', %s, %s, '[]', %s) RETURNING id",
            (len(ids), psycopg.types.json.Jsonb(ids), manager.id),
        ).fetchone()[0]
    ctx = WorkerContext.build(settings, 2)
    standin.delay_s = 0.3  # the chunk's transaction lasts at least that long past its start
    try:
        await enrich_chunk(ctx, job_id, ids, last_attempt=True)  # what a task runs
    finally:
        standin.delay_s = 0.0
        await ctx.close()
    with psycopg.connect(settings.sync_database_url, autocommit=True) as conn:
        status, finished, created = conn.execute(
            "SELECT status, finished_at, created_at FROM enrichment_jobs WHERE id = %s", (job_id,)
        ).fetchone()
        (last_call,) = conn.execute(
            "SELECT max(created_at) FROM pvgis_cache WHERE created_at >= %s", (created,)
        ).fetchone()
        enriched = conn.execute(
            "SELECT a.created_at, l.enriched_at FROM activity_log a JOIN leads l "
            "ON l.id = a.lead_id WHERE a.action = 'enrich' AND (a.after ->> 'job_id')::bigint = %s",
            (job_id,),
        ).fetchall()
    assert status == "done" and last_call is not None, (status, last_call)
    # The job ends, and its leads are enriched, after the PVGIS answers they used were stored.
    assert finished >= last_call, (finished, last_call)
    assert len(enriched) == len(ids)
    assert all(logged >= last_call and at >= last_call for logged, at in enriched), enriched
