"""GET /api/ready for a load balancer: database reachable, migrations at head, an enrichment
worker's heartbeat recent (a real `leadfactory worker`); a 503 problem naming what is not."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from api.app import create_app
from api.routers.ready import migrations_head
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import assert_problem, make_settings
from tests.lead_fixtures import sync_url
from tests.server_process import free_port, settings_env


def sql(db_url: str, statement: str) -> None:
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute("SET statement_timeout = '5s'")
        conn.execute(statement)


async def ready(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/api/ready")


async def test_not_ready_without_a_worker_then_ready_with_one(
    settings: Settings, db_url: str, tmp_path: Path
) -> None:
    r = await ready(settings)
    body = assert_problem(r, 503)
    assert body["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "worker": "no enrichment worker running",
    }
    assert r.headers["retry-after"] == "5"
    # Without the worker check (a deployment whose workers are watched elsewhere).
    unchecked = settings.ready.model_copy(update={"worker_max_age_s": 0})
    r = await ready(settings.model_copy(update={"ready": unchecked}))
    assert r.status_code == 200 and r.json()["checks"]["worker"] == "not checked"

    worker = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--concurrency", "1"],
        cwd=PROJECT_ROOT,
        env=settings_env(settings, LFS_ENRICHMENT__STALLED_AFTER_S="3"),
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while (r := await ready(settings)).status_code != 200:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, r.text
            time.sleep(0.2)
        assert r.json() == {
            "status": "ready",
            "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
        }
        # A worker that stopped beating (hung, or killed without a goodbye).
        sql(db_url, "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '5 min'")
        worker.kill()
        worker.wait(10)
        body = assert_problem(await ready(settings), 503)
        assert body["checks"]["worker"].startswith("last heartbeat 30")  # ~300 s
        assert body["checks"]["worker"].endswith("ago (limit 60 s)")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        sql(db_url, "DELETE FROM procrastinate_workers")


async def test_migrations_behind_and_database_down(
    settings: Settings, db_url: str, tmp_path: Path
) -> None:
    relaxed = {"ready": {"worker_max_age_s": 0}}
    head = migrations_head()
    sql(db_url, "UPDATE alembic_version SET version_num = '0019_event_times'")
    try:
        s = make_settings(db_url, tmp_path, **relaxed)
        body = assert_problem(await ready(s), 503)
        assert body["checks"]["migrations"] == f"at 0019_event_times, code expects {head}"
        assert body["checks"]["database"] == "ok"
    finally:
        sql(db_url, f"UPDATE alembic_version SET version_num = '{head}'")
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    body = assert_problem(await ready(make_settings(down, tmp_path, **relaxed)), 503)
    assert body["checks"]["database"].startswith("unreachable (")
    assert body["checks"]["migrations"] == "unknown"
