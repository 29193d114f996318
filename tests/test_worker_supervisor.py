"""``leadfactory serve --with-worker`` keeps one enrichment worker alive and takes it down with it
(api/supervisor.py), tested with real processes: a worker killed with SIGKILL is reaped and
replaced, and the new one drains a job; a server killed with SIGKILL leaves no worker behind; a
worker that keeps exiting is restarted after growing pauses."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import Settings
from api.supervisor import WorkerSupervisor
from geo.models import Role
from tests.enrichment_helpers import ewkt, make_lead, pvgis_fixtures, rect
from tests.server_process import ServerProcess, alive, cmdline, wait_until, zombie

standin, settings = pvgis_fixtures(
    "supervisor",
    rate=1000,
    pvgis={"retries": 1, "backoff_s": 0.05},
    enrichment={"task_chunk": 2, "stalled_after_s": 2},
)


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[ServerProcess]:
    s = ServerProcess(settings, tmp_path / "server.log", with_worker=True)
    try:
        yield s.start()
    finally:
        s.close()


def one_worker(server: ServerProcess) -> int:
    """The server's only worker, once it has one (a loaded 2-core CI machine may take a while)."""
    deadline = time.monotonic() + 60
    while len(server.workers()) != 1:
        assert server.process is not None and server.process.poll() is None, (
            f"the server exited: {server.log.read_text()[-3000:]}"
        )
        children = {pid: cmdline(pid) for pid in server.children()}
        assert time.monotonic() < deadline, (
            f"no single worker after 60 s; children {children}; "
            f"log: {server.log.read_text()[-3000:]}"
        )
        time.sleep(0.05)
    [pid] = server.workers()
    return pid


async def test_a_killed_worker_is_replaced_and_runs_jobs(
    server,
    client,
    state,
    make_user,
    auth_headers,
) -> None:
    first = one_worker(server)
    os.kill(first, signal.SIGKILL)
    # Reaped by the server (not a zombie), and replaced by exactly one new worker.
    wait_until(lambda: not alive(first) and not zombie(first), 5, "the dead worker reaped")
    wait_until(lambda: server.workers() not in ([], [first]), 15, "a new worker")
    time.sleep(1.5)  # longer than the first pause: a second replacement would show by now
    [second] = server.workers()
    assert second != first

    manager = await make_user(Role.MANAGER)
    headers = await auth_headers(user=manager)
    ids = [
        await make_lead(state.sessions, ewkt(rect(3000 * i, 9000, 3000 * i + 300, 9300)))
        for i in range(3)
    ]
    r = await client.post("/api/enrichment/batch", json={"lead_ids": ids}, headers=headers)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while True:
        job = (await client.get(r.headers["location"], headers=headers)).json()
        if job["status"] == "done":
            break
        assert time.monotonic() < deadline, (job, server.log.read_text()[-3000:])
        await asyncio.sleep(0.2)
    assert (job["done"], job["failed"]) == (3, 0), job
    assert server.workers() == [second]


def test_the_worker_dies_with_the_server(server: ServerProcess) -> None:
    worker = one_worker(server)
    server.kill(signal.SIGKILL)
    wait_until(lambda: not alive(worker), 10, "the orphaned worker to exit")


def test_restarts_back_off_and_stop_ends_the_worker(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    exits_at_once = [
        sys.executable,
        "-c",
        f"import time; open({str(starts)!r}, 'a').write(f'{{time.monotonic()}}\\n'); exit(3)",
    ]
    sup = WorkerSupervisor(exits_at_once, min_backoff_s=0.2, max_backoff_s=0.8).start()
    try:
        wait_until(lambda: starts.exists() and len(starts.read_text().split()) >= 5, 10, "5 starts")
    finally:
        sup.stop(timeout_s=5)
    times = [float(t) for t in starts.read_text().split()]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Pauses 0.2, 0.4, 0.8, then capped at 0.8 (plus a Python start each).
    for gap, pause in zip(gaps, [0.2, 0.4, 0.8, 0.8], strict=False):
        assert pause <= gap < pause + 0.6, gaps
    n = len(times)
    time.sleep(1.0)
    assert len(starts.read_text().split()) == n, "a worker was started after stop()"

    sleeper = WorkerSupervisor([sys.executable, "-c", "import time; time.sleep(60)"]).start()
    try:
        wait_until(lambda: sleeper.process is not None, 5, "the worker")
        process = sleeper.process
        assert process is not None
        time.sleep(0.3)
        assert process.poll() is None
    finally:
        sleeper.stop(timeout_s=5)
    assert process.returncode == -signal.SIGTERM
    assert sleeper.starts == 1
