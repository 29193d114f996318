"""A site finder run survives a worker killed mid-chunk (issue 17), with real processes.

A real ``leadfactory worker`` takes the first chunk of a four-chunk run; midway (its sites
assembled, about to be staged, the chunk's row locked) a trigger holds it in ``pg_sleep`` and
the test SIGKILLs the worker: its transaction never commits, and its backend keeps the chunk's
lock until it notices (after the sleep). A second worker
started then re-queues the stalled task (procrastinate: the dead worker's heartbeat is older
than ``LFS_ENRICHMENT__STALLED_AFTER_S``), waits for the dead backend's locks, redoes the chunk,
the others and the merge. The run must end with the same sites and counts as an unkilled run
of the same search, each site once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.settings import PROJECT_ROOT, Settings
from geo.models import Role
from tests.conftest import make_settings
from tests.enrichment_helpers import add_parcel, rect

SLEEP_S = 10  # the killed worker's backend keeps its locks this long: past the retry


@pytest.fixture(scope="module")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One chunk per commune, as the worker processes are told too."""
    tmp: Path = tmp_path_factory.mktemp("sfkill")
    return make_settings(db_url, tmp, site_finder={"chunk_parcels": 1})


@pytest.fixture(scope="module")
async def layout(state: Any, settings: Settings) -> None:
    """Four communes side by side; a site across the 05001|05002 border (the merge)."""
    s = state.sessions
    parcels = {
        "05001000AA0001": rect(0, 0, 300, 300),
        "05001000AA0002": rect(300, 0, 600, 300),
        "05002000AA0003": rect(602, 0, 900, 300),  # 2 m from 0002: the same site
        "05003000AA0004": rect(5_000, 0, 5_400, 300),
        "05004000AA0005": rect(9_000, 0, 9_300, 300),
        "05004000AA0006": rect(9_400, 0, 9_600, 300),
    }
    for pid, g in parcels.items():
        await add_parcel(s, pid, g)
    # The first chunk sleeps in its transaction after assembling its sites, as it stages them
    # (holding its chunk's row lock, not yet the run's): once (a sequence is not rolled back).
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE test_slow_chunk")
        conn.execute(
            "CREATE FUNCTION test_slow_chunk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF nextval('test_slow_chunk') = 1 THEN PERFORM pg_sleep({SLEEP_S}); END IF; "
            "RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER test_slow_chunk BEFORE INSERT ON site_search_edge_parcels "
            "FOR EACH STATEMENT EXECUTE FUNCTION test_slow_chunk()"
        )


def start_worker(settings: Settings, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LFS_ENVIRONMENT": "test",
        "LFS_DATA_DIR": str(settings.data_dir),
        "LFS_SITE_FINDER__CHUNK_PARCELS": "1",
        "LFS_ENRICHMENT__STALLED_AFTER_S": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--concurrency", "1"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def sql(settings: Settings, query: str, *args: Any) -> list[tuple]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        return conn.execute(query, args).fetchall()


async def until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def _queue_run(client: Any, h: dict[str, str], sid: int) -> int:
    r = await client.post(f"/api/site-searches/{sid}/runs", json={}, headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["progress"]["chunks_total"] == 4
    return int(r.json()["id"])


def _status(settings: Settings, run_id: int) -> str:
    return str(sql(settings, "SELECT status FROM site_search_runs WHERE id = %s", run_id)[0][0])


async def _results(client: Any, h: dict[str, str], sid: int, run_id: int) -> dict[str, Any]:
    run = (await client.get(f"/api/site-searches/{sid}/runs/{run_id}", headers=h)).json()
    r = await client.get(f"/api/site-searches/{sid}/runs/{run_id}/sites?page_size=200", headers=h)
    sites = [(s["rank"], s["parcel_ids"], s["score"], s["buildable_m2"]) for s in r.json()["items"]]
    return {"run": run, "sites": sites}


async def test_a_worker_killed_mid_chunk(
    layout: None, client: Any, auth_headers: Any, settings: Settings, tmp_path: Path
) -> None:
    started = time.monotonic()
    h = await auth_headers(Role.OPS)
    body = {
        "name": "kill",
        "territory": {"communes": ["05001", "05002", "05003", "05004"]},
        "criteria": {
            "min_buildable_ha": 1,
            "max_poste_distance_m": None,
            "min_capacity_mw": None,
            "plu_allowed_types": None,
        },
    }
    r = await client.post("/api/site-searches", json=body, headers=h)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    killed = await _queue_run(client, h, sid)

    log = tmp_path / "workers.log"
    first = start_worker(settings, log)
    try:
        # The first chunk midway, asleep inside its transaction: kill its worker there.
        await until(
            lambda: (
                sql(
                    settings,
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event = 'PgSleep'",
                )[0][0]
                == 1
            ),
            30,
            "the first chunk midway",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    # Nothing of the chunk committed: no chunk done, nothing counted.
    assert sql(
        settings,
        "SELECT count(*) FROM site_search_chunks WHERE run_id = %s AND status = 'done'",
        killed,
    ) == [(0,)]
    assert sql(
        settings, "SELECT progress ->> 'chunks_done' FROM site_search_runs WHERE id = %s", killed
    ) == [("0",)]

    second = start_worker(settings, log)
    try:
        await until(lambda: _status(settings, killed) not in ("queued", "running"), 40, "the run")
        assert _status(settings, killed) == "succeeded", log.read_text()[-3000:]
        # The same search again, nobody killed: the reference.
        reference = await _queue_run(client, h, sid)
        await until(lambda: _status(settings, reference) == "succeeded", 30, "the reference")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert "re-queued" in log.read_text()  # the second worker put the stalled task back

    after = await _results(client, h, sid, killed)
    ref = await _results(client, h, sid, reference)
    assert after["sites"] == ref["sites"] and len(ref["sites"]) == 4
    assert sorted(tuple(s[1]) for s in after["sites"]) == [
        ("05001000AA0001", "05001000AA0002", "05002000AA0003"),
        ("05003000AA0004",),
        ("05004000AA0005",),
        ("05004000AA0006",),
    ]
    assert after["run"]["counts"] == ref["run"]["counts"]
    assert after["run"]["counts"]["parcels_scanned"] == 6
    assert after["run"]["progress"]["chunks_done"] == 4 == after["run"]["progress"]["chunks_total"]
    # Each site once, nothing left staged.
    assert sql(
        settings,
        "SELECT count(*), count(DISTINCT rank), count(DISTINCT parcel_ids) "
        "FROM site_search_results WHERE run_id = %s",
        killed,
    ) == [(4, 4, 4)]
    assert sql(
        settings,
        "SELECT (SELECT count(*) FROM site_search_staged WHERE run_id = %s), "
        "(SELECT count(*) FROM site_search_edge_parcels WHERE run_id = %s)",
        killed,
        killed,
    ) == [(0, 0)]
    assert time.monotonic() - started < 60
