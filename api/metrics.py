"""``GET /metrics`` in Prometheus' text format, and the API's own metrics.

Each process records into prometheus-client's metrics. ``leadfactory serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before any process starts (its API workers and
the enrichment worker it supervises inherit it): every process then writes its values to files
there, and whichever worker answers ``/metrics`` adds up all of them. Without it (an app built
in a test, one plain process) the process' own registry is served.

What is read at scrape time rather than counted: the enrichment queue's depth (from the
database: the same for every process) and this process' connection pools (sampled every few
seconds by each process too, so the sum covers the other workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text

from api.deps import StateDep
from api.state import AppState
from geo.errors import NotAuthenticated, PermissionDenied

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PREFIX = "lfs-metrics-"  # + the server's pid: /tmp/lfs-metrics-<pid>
POOL_SAMPLE_S = 5.0
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_SECONDS = Histogram(
    "lfs_http_request_duration_seconds",
    "Time from a request's arrival to its last response byte, by method, route template and "
    "status class (its _count is the number of requests).",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
LOGIN_FAILURES = Counter(
    "lfs_login_failures", "Refused logins (wrong email or password, disabled user)."
)
DB_POOL = Gauge(
    "lfs_db_pool_connections",
    "Database connections of the API processes by pool (orm: SQLAlchemy, "
    "tiles: tiles and OGC) and state (in_use; open: for tiles, the pool's size); summed "
    "over the live processes.",
    ["pool", "state"],
    multiprocess_mode="livesum",
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count a request in the latency histogram."""
    label = method if method in _METHODS else "other"
    HTTP_SECONDS.labels(label, route, f"{status // 100}xx").observe(seconds)


def prepare_multiprocess_dir() -> Path:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an empty folder for this server and the processes it
    starts: the operator's (emptied: values of a previous run would be added to this one's) or
    a new temporary one. Call it before any process serving requests starts."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for db in folder.glob("*.db"):
            db.unlink()
    else:
        _remove_orphans()
        folder = Path(tempfile.gettempdir()) / f"{_PREFIX}{os.getpid()}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        os.environ[MULTIPROC_ENV] = str(folder)
    # Metrics made from now on in this process write to files (children read the variable at
    # import).
    values.ValueClass = values.get_value_class()
    return folder


def remove_multiprocess_dir(folder: Path) -> None:
    """Delete the folder :func:`prepare_multiprocess_dir` made (not an operator's)."""
    if folder.name.startswith(_PREFIX) and folder.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(folder, ignore_errors=True)


def _remove_orphans() -> None:
    """The folders of servers that were killed (their process is gone) and left them."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        pid = folder.name.removeprefix(_PREFIX)
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # alive, another user's
            pass


def sample_pools(state: AppState) -> None:
    """Record this process' connection pools in :data:`DB_POOL`."""
    pool = state.engine.pool
    checked_out = getattr(pool, "checkedout", lambda: 0)()
    DB_POOL.labels("orm", "in_use").set(checked_out)
    DB_POOL.labels("orm", "open").set(checked_out + getattr(pool, "checkedin", lambda: 0)())
    tiles = state.tiles  # api.tile_access: made on the first tile or OGC request
    if tiles is not None:
        DB_POOL.labels("tiles", "in_use").set(tiles.service.pool.in_use)
        DB_POOL.labels("tiles", "open").set(tiles.service.pool.size)


def start_pool_sampler(state: AppState) -> Callable[[], Awaitable[None]]:
    """Sample the pools every few seconds until the returned coroutine function is awaited."""

    async def loop() -> None:
        while True:
            sample_pools(state)
            await asyncio.sleep(POOL_SAMPLE_S)

    task = asyncio.create_task(loop())

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop


QUEUE_SQL = text(
    """
    SELECT status::text, count(*)
    FROM procrastinate_jobs
    WHERE queue_name = 'enrichment' AND status IN ('todo', 'doing')
    GROUP BY status
    """
)


async def _queue_families(state: AppState) -> list[GaugeMetricFamily]:
    depth = GaugeMetricFamily(
        "lfs_enrichment_queue_tasks",
        "Enrichment tasks (chunks of leads) waiting (todo) or running (doing), deployment-wide.",
        labels=["status"],
    )
    counts = {"todo": 0, "doing": 0}
    async with state.engine.connect() as conn:
        rows = (await conn.execute(QUEUE_SQL)).all()
    for status, count in rows:
        counts[status] = count
    for status, count in counts.items():
        depth.add_metric([status], count)
    return [depth]


class _Families:
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self.families


def _check_access(request: Request, state: AppState) -> None:
    """A bearer token equal to ``LFS_METRICS__TOKEN`` when it is set, else a loopback client."""
    token = state.settings.metrics.token
    if token is not None:
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise NotAuthenticated("GET /metrics needs the metrics bearer token")
        return
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise PermissionDenied("GET /metrics answers loopback clients only (or set a token)")


router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, state: StateDep) -> Response:
    """The service's metrics in Prometheus' text format (loopback or the metrics token)."""
    _check_access(request, state)
    sample_pools(state)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Families(await _queue_families(state)))
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
