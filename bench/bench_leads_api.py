"""Load-test the lead API on loopback against the 100k-lead database (bench/seed_leads.py).

    .venv/bin/python bench/bench_leads_api.py [--duration 60] [--connections 50] [--workers 2]

Serves the app with uvicorn on a free 127.0.0.1 port (rate limits off), then drives it with wrk
(Lua scripts: random filters, random ids, random polygons), 50 concurrent connections for
``--duration`` seconds per scenario: GET /api/leads with filters, GET /api/leads/{id},
POST /api/leads. Prints requests/s, P50/P95/P99 and errors per scenario, then times every
analytics endpoint cold (cache invalidated by a leads-layer bump before each call) and warm.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from seed_leads import DB_NAME, PASSWORD, server_url  # noqa: E402

ANALYTICS = ["funnel", "weekly", "scores", "departments", "stage-times", "throughput"]

LUA_COMMON = r"""
math.randomseed(os.time())
local token = "%(token)s"
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_s": %%.2f, "p50_ms": %%.2f, "p95_ms": %%.2f, '
    .. '"p99_ms": %%.2f, "max_ms": %%.2f, "non_2xx": %%d, "socket_errors": %%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""

LUA_LIST = r"""
local statuses = {"NEW", "ENRICHED", "QUALIFIED", "IN_REVIEW", "CLIENT_READY", "SOLD"}
local depts = {"15", "17", "27", "69"}
local sorts = {"-created_at", "-quality_score", "area_m2", "-updated_at"}
request = function()
  local q = "/api/leads?page_size=50&sort=" .. sorts[math.random(#sorts)]
  local r = math.random()
  if r < 0.4 then
    q = q .. "&status=" .. statuses[math.random(#statuses)]
    q = q .. "&status=" .. statuses[math.random(#statuses)]
  end
  if math.random() < 0.5 then q = q .. "&department=" .. depts[math.random(#depts)] end
  if math.random() < 0.3 then q = q .. "&score_min=" .. math.random(0, 80) end
  if math.random() < 0.2 then q = q .. "&page=" .. math.random(2, 5) end
  if math.random() < 0.1 then q = q .. "&q=" .. math.random(10000, 99999) end
  return wrk.format("GET", q, headers)
end
"""

# Ids drawn from leads that exist (the ids have gaps: deleted and rolled-back leads), so that
# every request is a lead's detail, not a 404.
LUA_DETAIL = r"""
local ids = %(ids)s
request = function()
  return wrk.format("GET", "/api/leads/" .. ids[math.random(#ids)], headers)
end
"""

LUA_CREATE = r"""
local centres = %(centres)s
request = function()
  local c = centres[math.random(#centres)]
  local x = c[1] + (math.random() - 0.5) * 0.01
  local y = c[2] + (math.random() - 0.5) * 0.01
  local d = 0.001 + math.random() * 0.003
  local body = string.format(
    '{"geometry": {"type": "Polygon", "coordinates": '
    .. '[[[%%f,%%f],[%%f,%%f],[%%f,%%f],[%%f,%%f],[%%f,%%f]]]}, "name": "bench", '
    .. '"allow_duplicate": true, "duplicate_reason": "bench: random squares overlap"}',
    x, y, x + d, y, x + d, y + d, x, y + d, x, y)
  return wrk.format("POST", "/api/leads", headers, body)
end
"""


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    db: str, port: int, workers: int, tmp: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """uvicorn serving the app on 127.0.0.1 against the bench database (files under ``tmp``)."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {
        **os.environ,
        "DATABASE_URL": server_url(db),
        "LFS_ENVIRONMENT": "development",
        "LFS_DATA_DIR": str(tmp),
        "LFS_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "LFS_CRYPTO__KEYS": f"bench:{key}",
        "LFS_RATE_LIMIT__API_PER_MINUTE": "0",
        "LFS_RATE_LIMIT__LOGIN_PER_MINUTE": "0",
        "LFS_WEB_DIST": str(tmp / "no-web"),
        "LFS_STORAGE__LOCAL_DIR": str(tmp / "files"),
        **(extra_env or {}),
    }
    cmd = [
        str(ROOT / ".venv/bin/leadfactory"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the API did not start")


def token(base: str, email: str) -> str:
    """Log in and return an access token."""
    r = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    return str(r.json()["access_token"])


def run_wrk(base: str, lua: str, connections: int, duration: int, tmp: Path, name: str) -> dict:
    """One wrk run; the Lua done() prints a RESULT JSON line."""
    script = tmp / f"{name}.lua"
    script.write_text(lua)
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict = json.loads(line[len("RESULT ") :])
    result["rps"] = round(result["requests"] / result["duration_s"], 1)
    return result


def time_analytics(base: str, tok: str, db: str) -> dict[str, dict[str, float]]:
    """Per analytics endpoint: a cache miss (computed), after a write (stale-while-revalidate)
    and warm (cached) timings, medians of 5 rounds."""
    h = {"Authorization": f"Bearer {tok}"}
    out: dict[str, dict[str, float]] = {}

    def timed(c: httpx.Client, path: str, **params: str) -> float:
        t = time.perf_counter()
        c.get(path, params=params).raise_for_status()
        return (time.perf_counter() - t) * 1000

    with (
        httpx.Client(base_url=base, headers=h, timeout=60) as c,
        psycopg.connect(server_url(db), autocommit=True) as conn,
    ):
        for name in ANALYTICS:
            path = f"/api/analytics/{name}"
            miss: list[float] = []
            after_write: list[float] = []
            warm: list[float] = []
            for i in range(5):
                # A key never asked before: the SQL runs (created_from before every lead).
                miss.append(timed(c, path, created_from=f"2000-01-0{i + 1}T00:00:00Z"))
                conn.execute("UPDATE layer_versions SET version = version + 1 WHERE layer='leads'")
                after_write.append(timed(c, path))
                time.sleep(0.5)  # let the background refresh finish
                warm.extend(timed(c, path) for _ in range(3))
            out[name] = {
                "miss_median_ms": round(statistics.median(miss), 1),
                "miss_max_ms": round(max(miss), 1),
                "after_write_median_ms": round(statistics.median(after_write), 1),
                "warm_median_ms": round(statistics.median(warm), 1),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", default=DB_NAME)
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--baseline-seconds", type=int, default=10, help="first, each scenario on 1 connection"
    )
    ap.add_argument("--only", choices=["list", "detail", "create", "analytics"], action="append")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)")
        return 2
    with psycopg.connect(server_url(args.db)) as conn:
        n, max_id = conn.execute("SELECT count(*), max(id) FROM leads").fetchone()  # type: ignore[misc]
        ids = [r[0] for r in conn.execute("SELECT id FROM leads ORDER BY random() LIMIT 5000")]
        # Centres whose ±0.01° square (the random polygons' reach) is inside their commune: a
        # polygon off the communes layer is rightly refused (422 "not on land"), not a bench case.
        centres = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT insee, geom, ST_PointOnSurface(geom) AS p"
            " FROM communes) c WHERE ST_Covers(geom, ST_Expand(p, 0.01)) ORDER BY insee LIMIT 400"
        ).fetchall()
    # Each run starts from the same state: the rows a previous create scenario added and deleted
    # leave dead index entries and heap pages (the indexes on leads) that made
    # the next run's creates ~15 % slower until autovacuum came by.
    with psycopg.connect(server_url(args.db), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"load average before: {os.getloadavg()}")
    print(
        f"database {args.db}: {n:,} leads; {args.connections} connections, "
        f"{args.duration} s per scenario, {args.workers} uvicorn workers, {os.cpu_count()} CPUs"
    )
    tmp = Path(tempfile.mkdtemp(prefix="lfs-bench-leads-"))
    port = free_port()
    proc = start_server(args.db, port, args.workers, tmp)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, object] = {}
    try:
        manager = token(base, "manager1@bench.local")
        common = LUA_COMMON % {"token": manager}
        lua_centres = "{" + ",".join(f"{{{x:.6f},{y:.6f}}}" for x, y in centres) + "}"
        scenarios = {
            "list": common + LUA_LIST,
            "detail": common + LUA_DETAIL % {"ids": "{" + ",".join(map(str, ids)) + "}"},
            "create": common + LUA_CREATE % {"centres": lua_centres},
        }
        for name, lua in scenarios.items():
            if args.only and name not in args.only:
                continue
            runs = [(args.connections, args.duration, name)]
            if args.baseline_seconds:
                # One connection: the service time of a request, without queueing.
                runs.insert(0, (1, args.baseline_seconds, f"{name}@1"))
            for conns, secs, label in runs:
                r = run_wrk(base, lua, conns, secs, tmp, name)
                results[label] = r
                print(
                    f"{label:10s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                    f"p95 {r['p95_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
                    f"non-2xx {r['non_2xx']}  socket errors {r['socket_errors']}"
                )
        if not args.only or "analytics" in args.only:
            # Back to the seeded 100k leads (the create scenario added tens of thousands), with
            # fresh statistics, so the analytics are timed on the data set they are specified for.
            with psycopg.connect(server_url(args.db), autocommit=True) as conn:
                conn.execute("DELETE FROM leads WHERE id > %s", (max_id,))
                conn.execute("VACUUM ANALYZE")
            a = time_analytics(base, manager, args.db)
            results["analytics"] = a
            for name, t in a.items():
                print(
                    f"analytics/{name:12s} computed {t['miss_median_ms']:7.1f} ms "
                    f"(max {t['miss_max_ms']:.1f})  after a write "
                    f"{t['after_write_median_ms']:.1f} ms  cached {t['warm_median_ms']:.1f} ms"
                )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        with psycopg.connect(server_url(args.db), autocommit=True) as conn:
            # Keep the data set at its seeded size, and tidy, for the next run.
            conn.execute("DELETE FROM leads WHERE id > %s", (max_id,))
            conn.execute("VACUUM ANALYZE")
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}")
    print("RESULTS " + json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
