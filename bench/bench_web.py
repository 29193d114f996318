"""Web app figures: bundle sizes, cold first load on loopback, parcels shown after a pan at z15.

Builds a throw-away database with the demo data (``data/``) and an OPS user, serves the API and
the built bundle with ``leadfactory serve`` on a free loopback port, and drives Debian's Chromium
(``web/e2e/perf.mjs``). Baselines: the same first load without compression (Accept-Encoding:
identity), and pans with only the parcels layer against the full style.

Usage: .venv/bin/python bench/bench_web.py [--runs 5] [--pans 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.cli import run_migrations  # noqa: E402
from api.security import hash_password  # noqa: E402
from api.settings import to_plain_url  # noqa: E402
from geo.db import make_engine, make_sessionmaker  # noqa: E402
from geo.importers.demo import load_demo  # noqa: E402
from geo.models import Role, User  # noqa: E402

DB = "lfs_bench_web"
EMAIL = "ops@bench.local"
PASSWORD = "bench-password-1"


def bundle_sizes(dist: Path) -> dict[str, object]:
    """Sizes of what the first page load fetches, and of every route chunk (raw and gzip)."""
    index = (dist / "index.html").read_text()
    initial = {"index.html"} | set(re.findall(r'(?:src|href)="/(assets/[^"]+)"', index))

    def size(rel: str) -> tuple[int, int]:
        raw = (dist / rel).stat().st_size
        gz = dist / (rel + ".gz")
        return raw, gz.stat().st_size if gz.exists() else raw

    first = [size(r) for r in sorted(initial)]
    chunks = {
        p.name: size(str(p.relative_to(dist)))
        for p in sorted((dist / "assets").glob("*.js")) + sorted((dist / "assets").glob("*.css"))
    }
    return {
        "first_load_files": sorted(initial),
        "first_load_raw_kb": round(sum(r for r, _ in first) / 1024, 1),
        "first_load_gzip_kb": round(sum(g for _, g in first) / 1024, 1),
        "chunks_kb": {k: [round(r / 1024, 1), round(g / 1024, 1)] for k, (r, g) in chunks.items()},
    }


def server_url(name: str) -> str:
    """The cluster URL pointed at database ``name``."""
    base = to_plain_url(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:54329/x"))
    return f"{base.rsplit('/', 1)[0]}/{name}"


def admin(sql: str) -> None:
    """Run SQL on the maintenance database."""
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


async def seed(url: str) -> None:
    """Demo data and one OPS user."""
    engine = make_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        factory = make_sessionmaker(engine)
        await load_demo(factory, ROOT / "data")
        async with factory() as s:
            s.add(
                User(
                    email=EMAIL,
                    full_name="Bench Ops",
                    role=Role.OPS,
                    password_hash=hash_password(PASSWORD, rounds=10),
                )
            )
            await s.commit()
    finally:
        await engine.dispose()


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summary(values: list[float]) -> str:
    """median / p90 / max of a series."""
    v = sorted(values)
    p90 = v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]
    return f"median {statistics.median(v):7.0f}  p90 {p90:7.0f}  max {v[-1]:7.0f}"


def main() -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5, help="cold loads per variant")
    ap.add_argument("--pans", type=int, default=10, help="pans per map variant")
    args = ap.parse_args()
    subprocess.run([str(ROOT / "scripts" / "build-web.sh")], check=True)
    dist = ROOT / "web" / "dist"
    sizes = bundle_sizes(dist)

    admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DB}"')
    url = server_url(DB)
    proc = None
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        run_migrations(url)
        asyncio.run(seed(url))
        port = free_port()
        tmp = tempfile.mkdtemp(prefix="lfs-bench-web-")
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "LFS_ENVIRONMENT": "test",
            "LFS_DATA_DIR": tmp,
            "LFS_WEB_DIST": str(dist),
            "LFS_RATE_LIMIT__API_PER_MINUTE": "0",
            "LFS_RATE_LIMIT__LOGIN_PER_MINUTE": "0",
            "LFS_AUTH__BCRYPT_ROUNDS": "10",
        }
        proc = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/leadfactory"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.3)
        out = subprocess.run(
            ["node", "e2e/perf.mjs", base, EMAIL, PASSWORD, str(args.runs), str(args.pans)],
            cwd=ROOT / "web",
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')

    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"first page load: {len(sizes['first_load_files'])} files, "
        f"{sizes['first_load_raw_kb']} kB raw, {sizes['first_load_gzip_kb']} kB gzipped"
    )
    print("route and library chunks (kB raw / gzip):")
    for name, (raw, gz) in sizes["chunks_kb"].items():  # type: ignore[union-attr]
        print(f"  {name:40s} {raw:8.1f} {gz:8.1f}")
    for variant in ("gzip", "identity"):
        loads = figures[variant]
        print(
            f"cold first load ({variant:8s}, {len(loads)} runs, ms): "
            f"usable {summary([x['usable_ms'] for x in loads])}; "
            f"load event {summary([x['load'] for x in loads])}; "
            f"{statistics.median(x['kb'] for x in loads):.0f} kB transferred"
        )
    for variant in ("pans_all_layers", "pans_parcels_only"):
        print(f"pan → parcels drawn at z15 ({variant}, ms): {summary(figures[variant])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
