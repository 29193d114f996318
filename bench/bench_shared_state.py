"""What the shared state (geo.shared_state) adds to a request, PostgreSQL vs Redis.

    DATABASE_URL=$(scripts/pg.sh url) .venv/bin/python bench/bench_shared_state.py [-n 2000]

Creates a scratch database migrated to head (dropped at the end) and starts its own
redis-server on a free loopback port (temporary directory, no persistence). Measures, one
caller at a time, so each figure is the round trip and not a queue:

1. each store operation (``hit``, ``get``, ``set``) on both backends;
2. an authenticated ``GET /api/auth/me`` through the app in process (httpx ASGI transport),
   three apps called in turn: rate limits off (the baseline: before, the per-process counter
   was a few µs of Python), counted in PostgreSQL, counted in Redis;
3. a cached ``GET /api/analytics/funnel`` (every call a hit, the answer in PostgreSQL or
   Redis) on the same three apps.

Prints one JSON line per figure (median and P99, µs or ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from asgi_lifespan import LifespanManager

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from api.security import hash_password  # noqa: E402
from api.settings import Settings, resolve_dev_secrets, to_async_url, to_plain_url  # noqa: E402
from geo.db import make_engine  # noqa: E402
from geo.shared_state import PostgresState, RedisState, SharedState  # noqa: E402

PASSWORD = "Bench-shared-state-2026!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summary(name: str, samples: list[float], cpu_s: float | None = None) -> dict[str, Any]:
    """Median and P99 of ``samples`` (seconds) in µs; the mean CPU of this process per call."""
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    out = {"what": name, "n": len(samples), "p50_us": round(statistics.median(samples) * 1e6)}
    out["p99_us"] = round(p99 * 1e6)
    if cpu_s is not None:
        out["cpu_us"] = round(cpu_s / len(samples) * 1e6)
    print(json.dumps(out), flush=True)
    return out


async def time_calls(n: int, call: Any) -> tuple[list[float], float]:
    """Each call's wall time, and this process' CPU time for all of them."""
    for _ in range(min(200, n)):  # warm-up: pools, prepared statements, scripts loaded
        await call()
    samples = []
    cpu = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples, time.process_time() - cpu


async def bench_store(name: str, store: SharedState, n: int) -> None:
    key = f"bench:{uuid.uuid4().hex[:8]}"
    summary(f"{name} hit", *await time_calls(n, lambda: store.hit(key, 60)))
    await store.set(key, 1, b"x" * 2000, 300)
    summary(f"{name} get (2 kB)", *await time_calls(n, lambda: store.get(key)))
    summary(f"{name} set (2 kB)", *await time_calls(n, lambda: store.set(key, 1, b"y" * 2000, 300)))


def settings_for(url: str, data_dir: Path, **extra: Any) -> Settings:
    base: dict[str, Any] = {
        "environment": "test",
        "database_url": url,
        "data_dir": data_dir,
        "auth": {"bcrypt_rounds": 10},
        "web_dist": data_dir / "no-web",
        "storage": {"local_dir": data_dir / "files"},
        "rate_limit": {"login_per_minute": 0, "api_per_minute": 0},
    }
    base |= extra
    return resolve_dev_secrets(Settings.model_validate(base))


async def bench_apps(configs: dict[str, Settings], email: str, n: int) -> None:
    """The same requests on every app, interleaved call by call: the machine's load drifts
    alike for all of them (a 2-core machine shared with other jobs)."""
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, tuple[httpx.AsyncClient, dict[str, str]]] = {}
        for name, settings in configs.items():
            app = create_app(settings)
            await stack.enter_async_context(LifespanManager(app))
            transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1))
            c = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://bench")
            )
            r = await c.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            r.raise_for_status()
            clients[name] = (c, {"Authorization": f"Bearer {r.json()['access_token']}"})
        for path in ("/api/auth/me", "/api/analytics/funnel"):
            samples: dict[str, list[float]] = {name: [] for name in clients}
            cpu: dict[str, float] = dict.fromkeys(clients, 0.0)
            for i in range(n + 200):
                for name, (c, h) in clients.items():
                    cpu_started = time.process_time()
                    started = time.perf_counter()
                    r = await c.get(path, headers=h)
                    took = time.perf_counter() - started
                    assert r.status_code == 200, r.text
                    if i >= 200:  # warm-up: pools, caches filled, scripts loaded
                        samples[name].append(took)
                        cpu[name] += time.process_time() - cpu_started
            for name, values in samples.items():
                summary(f"GET {path}, {name}", values, cpu[name])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="calls per figure")
    args = parser.parse_args()
    server = to_plain_url(os.environ["DATABASE_URL"]).rsplit("/", 1)[0]
    db = f"bench_shared_{uuid.uuid4().hex[:8]}"
    url = f"{server}/{db}"
    work = Path(tempfile.mkdtemp(prefix="bench-shared-"))
    redis_bin = shutil.which("redis-server")
    assert redis_bin, "redis-server is missing: scripts/system-deps.sh bench installs it"
    port = free_port()
    redis_proc = subprocess.Popen(
        [redis_bin, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )
    redis_url = f"redis://127.0.0.1:{port}/0"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        subprocess.run(
            [sys.executable, "-m", "api.cli", "migrate"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        email = "bench@example.fr"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO users (email, password_hash, role, full_name, is_active,"
                " token_version) VALUES (%s, %s, 'ADMIN', 'Bench', true, 0)",
                (email, hash_password(PASSWORD, rounds=10)),
            )
        engine = make_engine(to_async_url(url))
        pg, rd = PostgresState(engine), RedisState(redis_url, "bench:")
        await rd.check()
        await bench_store("postgresql", pg, args.n)
        await bench_store("redis", rd, args.n)
        await rd.aclose()
        await engine.dispose()
        on = {"rate_limit": {"login_per_minute": 0, "api_per_minute": 10_000_000}}
        redis = {"redis_url": redis_url, "redis_prefix": "bench:"}
        configs = {
            "rate limits off, cache in postgresql (baseline)": settings_for(url, work),
            "counted and cached in postgresql": settings_for(url, work, **on),
            "counted and cached in redis": settings_for(url, work, **on, **redis),
        }
        await bench_apps(configs, email, args.n)
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
