"""Tiles benchmark: our /tiles against tipg on the same lfs_bench data (wrk, loopback).

Workloads (issue #6): W1 parcels z14-15; W2 mixed layers z12-15; W3 low zoom z6-11 every layer;
W4 a 12-tile viewport (our composite vs tipg's request per layer); W5 If-None-Match revisits;
W6 change a lead's status through the API then fetch its tile (freshness).

    .venv/bin/python bench/bench_tiles.py [--duration 30] [--runs 3] [--connections 1,8,32]
    .venv/bin/python bench/bench_tiles.py --per-zoom [--zooms 14,15,16] [--duration 10]

``--per-zoom`` is the like-for-like figure: the parcels layer only, at zooms where both servers
serve the same parcels (ours from z13; tipg at every zoom), our cache off, runs interleaved
ours / tipg / floor, where the floor is our same tile statement run on asyncpg directly (no HTTP,
no Python around it) with as many connections. The mixed W2 figure is secondary: it mixes z12,
where we serve no parcels (204) and tipg serves 10,000-feature tiles, with four other layers.

Works on a private clone ``lfs_bench_tiles`` of ``lfs_bench`` (built by bench/generate.py) with
leads and users added, so the shared database is never modified. Servers run one at a time on
127.0.0.1 with 2 workers each. Prints figures; writes nothing into the repository.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.security import create_token  # noqa: E402
from geo.models import Role  # noqa: E402
from tiles.features import encode_cursor  # noqa: E402
from tiles.layers import LAYERS as LAYER_REGISTRY  # noqa: E402

VENV = ROOT / ".venv" / "bin"
TMS = morecantile.tms.get("WebMercatorQuad")
SRC_DB = "lfs_bench"
DB = "lfs_bench_tiles"
LAYERS = ["parcels", "substations", "env_zones", "communes", "urban_zones", "leads"]
REFERENCE = LAYERS[:-1]
N_LEADS = 20_000

LUA = r"""
local paths, tags = {}, {}
for line in io.lines(os.getenv("WRK_PATHS")) do
  local p, t = line:match("([^\t]+)\t?(.*)")
  table.insert(paths, p); table.insert(tags, t)
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6) + #threads)
  i = math.random(#paths)
  n200, n204, n304, nother = 0, 0, 0, 0
end
function request()
  i = i % #paths + 1
  local h = { ["Accept-Encoding"] = "gzip" }
  if tags[i] ~= "" and os.getenv("WRK_ETAG") == "1" then h["If-None-Match"] = tags[i] end
  return wrk.format("GET", paths[i], h)
end
function response(status, headers, body)
  if status == 200 then n200 = n200 + 1 elseif status == 204 then n204 = n204 + 1
  elseif status == 304 then n304 = n304 + 1 else nother = nother + 1 end
end
function done(summary, latency, requests)
  local c = {0, 0, 0, 0}
  for _, t in ipairs(threads) do
    c[1] = c[1] + t:get("n200"); c[2] = c[2] + t:get("n204")
    c[3] = c[3] + t:get("n304"); c[4] = c[4] + t:get("nother")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50":%d,"p95":%d,"p99":%d,' ..
    '"errors":%d,"c200":%d,"c204":%d,"c304":%d,"cother":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status, c[1], c[2], c[3], c[4]))
end
"""


def admin_url(db: str = "postgres") -> str:
    """A URL of the local cluster for database ``db``."""
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:54329/leadfactory")
    return base.rsplit("/", 1)[0] + "/" + db


def prepare_db(src: str = SRC_DB, db: str = DB) -> None:
    """Clone src (lfs_bench), migrate the clone, add users and leads (idempotent)."""
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if not exists:
            for attempt in range(30):
                try:
                    conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{src}"')
                    break
                except psycopg.errors.ObjectInUse:
                    print(f"{src} is in use; waiting to clone it…", flush=True)
                    time.sleep(5 + attempt)
            else:
                raise SystemExit(f"could not clone {src} (always in use)")
    from api.cli import run_migrations

    run_migrations(admin_url(db))
    with psycopg.connect(admin_url(db)) as conn:
        have = conn.execute("SELECT count(*) FROM leads").fetchone()[0]
        if have >= N_LEADS:
            return
        conn.execute(
            "INSERT INTO users (email, full_name, password_hash, role) VALUES "
            "('bench-manager@lfs', 'Bench Manager', 'x', 'MANAGER'), "
            "('bench-ops1@lfs', 'Bench Ops 1', 'x', 'OPS'), "
            "('bench-ops2@lfs', 'Bench Ops 2', 'x', 'OPS') ON CONFLICT DO NOTHING"
        )
        # Every ~50th parcel becomes a lead (seeded), statuses spread over the pipeline.
        conn.execute(
            """
            INSERT INTO leads (internal_name, name, status, assignee_id, is_public,
                               commune_insee, quality_score, geom)
            SELECT 'BENCH-' || row_number() OVER (), 'Bench site ' || p.id,
                   (ARRAY['NEW','NEW','ENRICHED','QUALIFIED','IN_REVIEW','CLIENT_READY','SOLD',
                          'REJECTED'])[1 + (hashtext(p.id) & 7)],
                   (SELECT id FROM users WHERE email =
                      CASE WHEN hashtext(p.id) & 16 = 0 THEN 'bench-ops1@lfs'
                           ELSE 'bench-ops2@lfs' END),
                   (hashtext(p.id) & 96) = 0, p.commune, (abs(hashtext(p.id)) %% 100)::float8,
                   p.geom
            FROM (SELECT * FROM parcels WHERE abs(hashtext(id)) %% 50 = 0
                  ORDER BY id LIMIT %s) p
            """,
            (N_LEADS,),
        )
        conn.execute(
            "INSERT INTO layer_versions (layer, version) VALUES ('leads', 1) "
            "ON CONFLICT (layer) DO UPDATE SET version = layer_versions.version + 1"
        )
        conn.commit()
        conn.execute("ANALYZE leads")


def extent(db: str = DB) -> tuple[float, float, float, float]:
    """The bench region (communes' extent)."""
    with psycopg.connect(admin_url(db)) as conn:
        row = conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(geom) e FROM communes) s"
        ).fetchone()
    return tuple(float(v) for v in row)  # type: ignore[return-value]


def tiles_in(bounds: tuple[float, float, float, float], zooms: range) -> list[tuple[int, int, int]]:
    """Every (z, x, y) covering the bounds at the given zooms."""
    return [(t.z, t.x, t.y) for z in zooms for t in TMS.tiles(*bounds, zooms=[z])]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One HTTP server process (2 uvicorn workers) on a free loopback port."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], probe: str) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            str(VENV / "uvicorn"),
            *args,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            cmd,
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + probe, timeout=30).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise SystemExit(f"{name} did not start; see {self.log.name}")

    def stop(self) -> None:
        """Stop the server's process group (its own, started here)."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)


def ours_url(layer: str, z: int, x: int, y: int) -> str:
    """Our XYZ tile path."""
    return f"/tiles/{layer}/{z}/{x}/{y}.mvt"


def tipg_url(layer: str, z: int, x: int, y: int) -> str:
    """tipg's OGC tile path for the same table."""
    return f"/collections/public.{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}"


def workloads(bounds: tuple[float, float, float, float], seed: int = 6) -> dict[str, list]:
    """Shuffled lists of distinct (layer, z, x, y) per workload."""
    rnd = random.Random(seed)
    w1 = [("parcels", *t) for t in tiles_in(bounds, range(14, 16))]
    mixed = [
        (layer, *t)
        for t in tiles_in(bounds, range(12, 16))
        for layer in ("parcels", "substations", "env_zones", "communes", "urban_zones")
        if not (layer == "parcels" and t[0] < 13)
    ]
    w2 = rnd.sample(mixed, min(len(mixed), 6000))
    w3 = [(layer, *t) for t in tiles_in(bounds, range(6, 12)) for layer in REFERENCE]
    for lst in (w1, w2, w3):
        rnd.shuffle(lst)
    return {"W1": w1, "W2": w2, "W3": w3}


def run_wrk(url: str, paths: list[str], tags: list[str] | None, conns: int, duration: int) -> dict:
    """One wrk run; returns its RESULT json plus req/s."""
    with tempfile.TemporaryDirectory() as tmp:
        lua, lst = Path(tmp) / "bench.lua", Path(tmp) / "paths.tsv"
        lua.write_text(LUA)
        lines = [f"{p}\t{t}" for p, t in zip(paths, tags or [""] * len(paths), strict=True)]
        lst.write_text("\n".join(lines) + "\n")
        env = {**os.environ, "WRK_PATHS": str(lst), "WRK_ETAG": "1" if tags else "0"}
        cmd = [
            "wrk",
            "-t",
            str(min(conns, 2)),
            "-c",
            str(conns),
            "-d",
            f"{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(lua),
            url,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=duration + 60)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    res = json.loads(line[7:])
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


def median_run(url, paths, tags, conns, duration, runs) -> dict:
    """The run with the median req/s of ``runs`` runs."""
    results = sorted(
        (run_wrk(url, paths, tags, conns, duration) for _ in range(runs)), key=lambda r: r["rps"]
    )
    return results[len(results) // 2]


def sample_sizes(base: str, paths: list[str], n: int, headers: dict | None = None) -> dict:
    """Bytes (gzip) and features per tile over a sample of the list."""
    sizes, feats, raw_max = [], [], 0
    with httpx.Client(
        base_url=base, timeout=60, headers={"Accept-Encoding": "gzip", **(headers or {})}
    ) as c:
        for p in paths[:n]:
            r = c.get(p)
            if r.status_code != 200:
                sizes.append(0)
                feats.append(0)
                continue
            body = r.content  # httpx decompresses; measure the wire size from the header
            wire = int(r.headers.get("content-length", len(body)))
            sizes.append(wire)
            raw_max = max(raw_max, len(body))
            tile = mapbox_vector_tile.decode(body)
            feats.append(sum(len(v["features"]) for v in tile.values()))
    return {
        "bytes_mean": statistics.mean(sizes),
        "bytes_max": max(sizes),
        "raw_max": raw_max,
        "features_mean": statistics.mean(feats),
        "features_max": max(feats),
    }


async def viewport_times(base: str, urls_per_view: list[list[str]], headers: dict) -> list[float]:
    """Seconds to load each viewport with 6 parallel connections (like a browser)."""
    times = []
    limits = httpx.Limits(max_connections=6)
    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=limits, headers={"Accept-Encoding": "gzip", **headers}
    ) as c:
        for urls in urls_per_view:
            t0 = time.perf_counter()
            rs = await asyncio.gather(*(c.get(u) for u in urls))
            times.append(time.perf_counter() - t0)
            assert all(r.status_code in (200, 204) for r in rs), [r.status_code for r in rs]
    return times


def viewports(bounds, n: int, seed: int = 7) -> list[list[tuple[int, int, int]]]:
    """n random 4×3 viewports at z14 inside the region."""
    rnd = random.Random(seed)
    z = 14
    t0 = TMS.tile(bounds[0], bounds[3], z)
    t1 = TMS.tile(bounds[2], bounds[1], z)
    out = []
    for _ in range(n):
        x = rnd.randint(t0.x, t1.x - 4)
        y = rnd.randint(t0.y, t1.y - 3)
        out.append([(z, x + i, y + j) for i in range(4) for j in range(3)])
    return out


def freshness(base: str, token: str, n: int) -> dict:
    """W6: transition n NEW leads through the API, then fetch each one's tile at once."""
    with psycopg.connect(admin_url(DB)) as conn:
        rows = conn.execute(
            "SELECT id, ST_X(centroid), ST_Y(centroid) FROM leads WHERE status = 'NEW' "
            "ORDER BY id LIMIT %s",
            (n,),
        ).fetchall()
    h = {"Authorization": f"Bearer {token}"}
    fresh, lat = 0, []
    with httpx.Client(base_url=base, timeout=60, headers=h) as c:
        for lead_id, lon, lat_ in rows:
            t = TMS.tile(lon, lat_, 14)
            c.get(f"/tiles/leads/14/{t.x}/{t.y}.mvt")  # warm: cache the old tile
            r = c.post(
                f"/api/leads/{lead_id}/transition",
                json={"status": "REJECTED", "reason": "bench W6"},
            )
            assert r.status_code == 200, r.text
            t0 = time.perf_counter()
            tile = c.get(f"/tiles/leads/14/{t.x}/{t.y}.mvt")
            lat.append(time.perf_counter() - t0)
            feats = mapbox_vector_tile.decode(tile.content).get("leads", {}).get("features", [])
            status = {f["id"]: f["properties"]["status"] for f in feats}.get(lead_id)
            fresh += status == "REJECTED"
    return {
        "checked": len(rows),
        "fresh": fresh,
        "tile_ms_p50": statistics.median(lat) * 1000 if lat else 0,
    }


def fmt(res: dict) -> str:
    """One table row of a wrk result."""
    codes = f"200:{res['c200']} 204:{res['c204']} 304:{res['c304']} other:{res['cother']}"
    return (
        f"{res['rps']:8.1f} req/s  p50 {res['p50'] / 1000:7.1f} ms  "
        f"p95 {res['p95'] / 1000:7.1f} ms  p99 {res['p99'] / 1000:7.1f} ms  "
        f"errors {res['errors']}  {codes}"
    )


def start(name: str, secret: str, cache_mb: str, db: str = DB) -> tuple[Server, object]:
    """Start tipg or ours on the bench database; return the server and its path function."""
    if name == "tipg":
        env = {
            "DATABASE_URL": admin_url(db),
            "TIPG_NAME": "tipg-bench",
            "TIPG_DB_TABLES": json.dumps([f"public.{t}" for t in LAYERS]),
            "TIPG_DB_SCHEMAS": '["public"]',
        }
        return Server("tipg", ["tipg.main:app"], env, "/collections"), tipg_url
    env = {
        "DATABASE_URL": admin_url(db),
        "LFS_ENVIRONMENT": "test",
        "LFS_AUTH__JWT_SECRET": secret,
        "LFS_CRYPTO__KEYS": "bench:" + "A" * 43 + "=",
        "LFS_RATE_LIMIT__API_PER_MINUTE": "0",
        "LFS_TILES__CACHE_MB": cache_mb,
        "LFS_WEB_DIST": "/nonexistent",
    }
    server = Server(
        "ours", ["--factory", "api.app:create_app_from_env"], env, "/tiles/communes.json"
    )
    return server, ours_url


def interleaved(args: argparse.Namespace, lists: dict, conns: list[int]) -> None:
    """Both servers up (the idle one costs nothing); runs alternate tipg/ours so that the load
    of a shared machine hits both alike. Median of ``runs`` per (workload, connections)."""
    servers = {n: start(n, secrets.token_urlsafe(48), args.cache_mb) for n in ("tipg", "ours")}
    try:
        for w in [w for w in ("W1", "W2", "W3", "W5") if w in args.workloads.split(",")]:
            for c in conns:
                res: dict[str, list] = {"tipg": [], "ours": []}
                tags: dict[str, list | None] = {"tipg": None, "ours": None}
                tiles = lists["W1"][:3000] if w == "W5" else lists[w]
                if w == "W5":
                    with httpx.Client(base_url=servers["ours"][0].url, timeout=60) as cl:
                        tags["ours"] = [cl.head(ours_url(*t)).headers["etag"] for t in tiles]
                for _ in range(args.runs):
                    for n, (server, path_of) in servers.items():
                        paths = [path_of(*t) for t in tiles]
                        res[n].append(run_wrk(server.url, paths, tags[n], c, args.duration))
                med = {n: sorted(r, key=lambda x: x["rps"])[len(r) // 2] for n, r in res.items()}
                for n in ("tipg", "ours"):
                    print(f"[interleaved] {w} c={c:<3} {n:5} {fmt(med[n])}", flush=True)
                print(
                    f"[interleaved] {w} c={c}: ours/tipg = "
                    f"{med['ours']['rps'] / med['tipg']['rps']:.2f}x "
                    f"(runs ours {[round(r['rps']) for r in res['ours']]}, "
                    f"tipg {[round(r['rps']) for r in res['tipg']]})",
                    flush=True,
                )
    finally:
        for server, _ in servers.values():
            server.stop()


def floor_run(
    tiles: list[tuple[str, int, int, int]], conns: int, duration: int, db: str = DB
) -> dict:
    """Tiles/s of our tile statement on asyncpg directly: ``conns`` connections, no HTTP."""
    import asyncpg

    from tiles.layers import LAYERS as REGISTRY
    from tiles.sql import tile_sql

    async def run() -> dict:
        pool = await asyncpg.create_pool(
            admin_url(db), min_size=conns, max_size=conns, server_settings={"jit": "off"}
        )
        lat: list[float] = []
        stop = time.monotonic() + duration

        async def worker(i: int) -> None:
            j = i
            async with pool.acquire() as conn:
                while time.monotonic() < stop:
                    layer, z, x, y = tiles[j % len(tiles)]
                    j += conns
                    sql, params = tile_sql([REGISTRY[layer]], z, None)
                    t0 = time.perf_counter()
                    await conn.fetchval(sql, z, x, y, *params)
                    lat.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(conns)))
        elapsed = time.perf_counter() - t0
        await pool.close()
        lat.sort()
        return {
            "rps": len(lat) / elapsed,
            "p50": lat[len(lat) // 2] * 1e6,
            "p99": lat[int(len(lat) * 0.99)] * 1e6,
        }

    return asyncio.run(run())


def per_zoom(args: argparse.Namespace, bounds: tuple[float, float, float, float]) -> None:
    """Parcels per zoom, like for like: ours (cache off) vs tipg vs the floor, interleaved."""
    servers = {n: start(n, secrets.token_urlsafe(48), "0") for n in ("tipg", "ours")}
    conns = [int(c) for c in args.connections.split(",")]
    rnd = random.Random(19)
    try:
        for z in (int(v) for v in args.zooms.split(",")):
            tiles = [("parcels", *t) for t in tiles_in(bounds, range(z, z + 1))]
            rnd.shuffle(tiles)
            tiles = tiles[:3000]
            for c in conns:
                res: dict[str, list] = {"ours": [], "tipg": [], "floor": []}
                for _ in range(args.runs):
                    for n, (server, path_of) in servers.items():
                        paths = [path_of(*t) for t in tiles]
                        res[n].append(run_wrk(server.url, paths, None, c, args.duration))
                    res["floor"].append(floor_run(tiles, c, args.duration))
                med = {n: sorted(r, key=lambda x: x["rps"])[len(r) // 2] for n, r in res.items()}
                ours, tipg, flo = med["ours"]["rps"], med["tipg"]["rps"], med["floor"]["rps"]
                print(
                    f"[per-zoom] parcels z{z} c={c} ({len(tiles)} tiles): "
                    f"ours {ours:.1f} req/s (p99 {med['ours']['p99'] / 1000:.0f} ms), "
                    f"tipg {tipg:.1f} (p99 {med['tipg']['p99'] / 1000:.0f} ms), "
                    f"floor {flo:.1f} (p99 {med['floor']['p99'] / 1000:.0f} ms); "
                    f"ours/tipg {ours / tipg:.2f}x, server overhead {100 * (1 - ours / flo):.1f} % "
                    f"(runs ours {[round(r['rps']) for r in res['ours']]}, "
                    f"tipg {[round(r['rps']) for r in res['tipg']]}, "
                    f"floor {[round(r['rps']) for r in res['floor']]})",
                    flush=True,
                )
    finally:
        for server, _ in servers.values():
            server.stop()


def _timed(c: httpx.Client, method: str, path: str, ok: int, **kw: object) -> tuple[float, dict]:
    """Seconds of one request (asserting its status; a 503, the statement timeout, is
    counted: ``timeouts`` in the body) and its JSON body."""
    t0 = time.perf_counter()
    r = c.request(method, path, **kw)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - t0
    if r.status_code == 503 and method == "GET":
        print(f"[scale] {path}: 503 after {elapsed:.1f}s ({r.json().get('detail')})", flush=True)
        return elapsed, {"timeouts": 1, "links": []}
    if r.status_code != ok:
        raise SystemExit(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return elapsed, r.json()


def scale_probe(db: str, n: int) -> dict:
    """What the scale runner asks of one database: tiles per zoom, n commune centres for bbox
    pages, n groups of 1-3 touching parcels for lead creation (seeded, the same on every run)."""
    rnd = random.Random(22)
    bounds = extent(db)
    with psycopg.connect(admin_url(db)) as conn:
        conn.execute("SET statement_timeout = '300s'")
        parcels = conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'parcels'::regclass"
        ).fetchone()[0]
        spots = conn.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM parcels "
            "ORDER BY md5(id) LIMIT 3000) s"
        ).fetchall()
        # The parcel keys at 100,000 and at 90 % in id order: where the deep next links start.
        keys = {
            label: conn.execute(
                "SELECT id FROM parcels ORDER BY id OFFSET %s LIMIT 1", (at,)
            ).fetchone()[0]
            for label, at in (("100k", 100_000), ("90 %", int(parcels * 0.9)))
        }
        centres = conn.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM communes "
            "ORDER BY md5(insee) LIMIT %s) s",
            (n,),
        ).fetchall()
        # Parcels far from every lead (a parcel already in a lead is a 409 without
        # allow_duplicate): oversampled, then the first n groups clear of leads.
        groups = conn.execute(
            """SELECT g.ids FROM (
                 SELECT p.id, (SELECT array_agg(id) FROM (
                          SELECT q.id FROM parcels q WHERE q.geom && p.geom
                          ORDER BY q.id = p.id DESC, q.id LIMIT 1 + abs(hashtext(p.id)) %% 3) s
                        ) AS ids, p.geom
                 FROM (SELECT id, geom FROM parcels ORDER BY md5(id) LIMIT %s) p) g
               WHERE NOT EXISTS (SELECT 1 FROM parcels q JOIN leads l ON l.geom && q.geom
                                 WHERE q.id = ANY(g.ids))
               ORDER BY md5(g.id) LIMIT %s""",
            (n * 20, n),
        ).fetchall()
    return {
        "bounds": bounds,
        "parcels": int(parcels),
        "keys": keys,
        "centres": [(float(x), float(y)) for x, y in centres],
        "groups": [list(g[0]) for g in groups],
        # The tile under each of 3,000 random parcels (like for like whatever the extent's
        # empty corners: every tile holds parcels), shuffled.
        "tiles": {
            z: rnd.sample(
                ts := sorted(
                    {("parcels", z, t.x, t.y) for t in (TMS.tile(x, y, z) for x, y in spots)}
                ),
                len(ts),
            )
            for z in (14, 15)
        },
    }


def scale_round(
    base: str, token: str, probe: dict, db: str, args: argparse.Namespace, r: int
) -> dict:
    """One round of the per-request figures on one database; returns name -> seconds list or
    wrk/floor results."""
    out: dict = {}
    c = int(args.connections.split(",")[0])
    parts = args.scale_parts.split(",")
    for z, tiles in probe["tiles"].items() if "tiles" in parts else ():
        out[f"tiles z{z} ours"] = run_wrk(
            base, [ours_url(*t) for t in tiles], None, c, args.duration
        )
        out[f"tiles z{z} floor"] = floor_run(tiles, c, args.duration, db)
    h = {"Authorization": f"Bearer {token}"}
    items = "/ogc/collections/parcels/items"
    parcels = LAYER_REGISTRY["parcels"]
    with httpx.Client(base_url=base, timeout=120, headers=h) as cl:
        if "ogc" in parts:
            out["ogc first page"] = [
                _timed(cl, "GET", f"{items}?limit=100", 200)[0] for _ in range(5)
            ]
            out["ogc offset 10k (cap)"] = [
                _timed(cl, "GET", f"{items}?limit=100&offset={10_000 - 100 * k}", 200)[0]
                for k in range(5)
            ]
            # A next link deep in the collection (its cursor made as the server makes it), then
            # the next links from there.
            for label, key in probe["keys"].items():
                cursor = encode_cursor(parcels, key, True)
                url: str | None = f"{items}?limit=100&cursor={cursor}"
                deep: list[float] = []
                for _ in range(5):
                    if url is None:
                        break
                    dt, body = _timed(cl, "GET", url, 200)
                    deep.append(dt)
                    url = next((ln["href"] for ln in body["links"] if ln["rel"] == "next"), None)
                out[f"ogc next at {label}"] = deep
        pages: list[float] = []
        for x, y in probe["centres"][r :: args.runs] if "ogc" in parts else ():
            url = f"{items}?limit=100&bbox={x - 0.01},{y - 0.01},{x + 0.01},{y + 0.01}"
            for _ in range(5):  # the first page, then next links
                if url is None:
                    break
                dt, body = _timed(cl, "GET", url, 200)
                pages.append(dt)
                url = next((ln["href"] for ln in body["links"] if ln["rel"] == "next"), None)
        if pages:
            out["ogc bbox pages"] = pages
        if "leads" not in parts:
            return out
        out["lead by parcels"] = [
            _timed(cl, "POST", "/api/leads", 201, json={"parcel_ids": g, "name": "bench scale"})[0]
            for g in probe["groups"][r :: args.runs]  # new parcels each round
        ]
    return out


def scale(args: argparse.Namespace) -> None:
    """1 M vs 10 M (``--scale lfs_bench,lfs_bench_10m``): per-request figures on each database's
    clone, rounds interleaved database by database; medians over the rounds and the ratio to
    the first database."""
    dbs = args.scale.split(",")
    clones = {src: (DB if src == SRC_DB else f"{src}_tiles") for src in dbs}
    secret = secrets.token_urlsafe(48)
    probes, tokens, servers = {}, {}, {}
    for src, db in clones.items():
        t0 = time.perf_counter()
        prepare_db(src, db)
        with psycopg.connect(admin_url(db)) as conn:  # the leads of an earlier --scale run
            conn.execute("DELETE FROM leads WHERE name = 'bench scale'")
        probes[src] = scale_probe(db, args.scale_samples * args.runs)
        with psycopg.connect(admin_url(db)) as conn:
            manager = conn.execute("SELECT id FROM users WHERE email = 'bench-manager@lfs'")
            tokens[src] = create_token(
                manager.fetchone()[0], Role.MANAGER, secret, timedelta(hours=4)
            )[0]
        print(
            f"[scale] {src} → {db}: ~{probes[src]['parcels']:,} parcels, extent "
            f"{tuple(round(v, 3) for v in probes[src]['bounds'])}, "
            f"{len(probes[src]['tiles'][14])} z14 tiles sampled "
            f"(ready in {time.perf_counter() - t0:.0f}s)",
            flush=True,
        )
    try:
        for src, db in clones.items():
            servers[src] = start("ours", secret, "0", db)[0]
        results: dict[str, dict[str, list]] = {src: {} for src in dbs}
        for r in range(args.runs):
            for src, db in clones.items():
                load = os.getloadavg()[0]
                res = scale_round(servers[src].url, tokens[src], probes[src], db, args, r)
                for k, v in res.items():
                    results[src].setdefault(k, []).append(v)
                print(f"[scale] round {r + 1} {src} done (load {load:.1f})", flush=True)
    finally:
        for server in servers.values():
            server.stop()

    def figure(v: list) -> tuple[float, str]:
        """The median over the rounds of a wrk/floor result (p50 ms) or of latencies (ms)."""
        if isinstance(v[0], dict):
            p50 = statistics.median(x["p50"] / 1000 for x in v)
            rps = statistics.median(x["rps"] for x in v)
            return p50, f"p50 {p50:7.1f} ms, {rps:7.1f} req/s"
        flat = sorted(t * 1000 for run in v for t in run)
        p50, p95 = statistics.median(flat), flat[int(0.95 * (len(flat) - 1))]
        return p50, f"p50 {p50:7.1f} ms, p95 {p95:7.1f} ms (n={len(flat)})"

    base = dbs[0]
    print(f"[scale] medians over {args.runs} interleaved rounds; ratio = p50 / p50 on {base}")
    for k in results[base]:
        p_base, _ = figure(results[base][k])
        for src in dbs:
            p, txt = figure(results[src][k])
            print(f"[scale] {k:18} {src:16} {txt}  ratio {p / p_base:.2f}", flush=True)


def main() -> int:
    """Run every workload on both servers and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", default="1,8,32")
    ap.add_argument("--servers", default="tipg,ours")
    ap.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6")
    ap.add_argument("--cache-mb", default="64", help="our tile cache per worker (0 = off)")
    ap.add_argument(
        "--interleave", action="store_true", help="alternate tipg/ours run by run (W1,W2,W3,W5)"
    )
    ap.add_argument(
        "--per-zoom", action="store_true", help="parcels per zoom: ours, tipg and the floor"
    )
    ap.add_argument("--zooms", default="14,15,16", help="zooms of --per-zoom")
    ap.add_argument(
        "--scale",
        metavar="DB,DB",
        help="per-request figures (parcel tiles z14/z15 ours and floor, OGC items paging, lead "
        "creation by parcels) on clones of these databases, interleaved, e.g. "
        "lfs_bench,lfs_bench_10m; uses --runs, --duration and the first of --connections",
    )
    ap.add_argument("--scale-samples", type=int, default=20, help="bbox pages and leads per round")
    ap.add_argument(
        "--scale-parts", default="tiles,ogc,leads", help="what --scale measures (comma-separated)"
    )
    args = ap.parse_args()
    conns = [int(c) for c in args.connections.split(",")]
    wanted = set(args.workloads.split(","))
    if args.scale:
        scale(args)
        return 0

    prepare_db()
    bounds = extent()
    if args.per_zoom:
        per_zoom(args, bounds)
        return 0
    lists = workloads(bounds)
    if args.interleave:
        interleaved(args, lists, conns)
        return 0
    print(
        f"region {bounds}; tiles W1 {len(lists['W1'])}, W2 {len(lists['W2'])}, "
        f"W3 {len(lists['W3'])}; duration {args.duration}s × {args.runs} runs (median)"
    )
    secret = secrets.token_urlsafe(48)
    with psycopg.connect(admin_url(DB)) as conn:
        manager_id = conn.execute(
            "SELECT id FROM users WHERE email = 'bench-manager@lfs'"
        ).fetchone()[0]
    token, _ = create_token(manager_id, Role.MANAGER, secret, timedelta(hours=2))
    results: dict = {}
    for name in args.servers.split(","):
        if name == "tipg":
            env = {
                "DATABASE_URL": admin_url(DB),
                "TIPG_NAME": "tipg-bench",
                "TIPG_DB_TABLES": json.dumps([f"public.{t}" for t in LAYERS]),
                "TIPG_DB_SCHEMAS": '["public"]',
            }
            server = Server("tipg", ["tipg.main:app"], env, "/collections")
            path_of = tipg_url
        else:
            env = {
                "DATABASE_URL": admin_url(DB),
                "LFS_ENVIRONMENT": "test",
                "LFS_AUTH__JWT_SECRET": secret,
                "LFS_CRYPTO__KEYS": "bench:" + "A" * 43 + "=",
                "LFS_RATE_LIMIT__API_PER_MINUTE": "0",
                "LFS_TILES__CACHE_MB": args.cache_mb,
                "LFS_WEB_DIST": "/nonexistent",
            }
            server = Server(
                "ours", ["--factory", "api.app:create_app_from_env"], env, "/tiles/communes.json"
            )
            path_of = ours_url
        try:
            for w in ("W1", "W2", "W3"):
                if w not in wanted:
                    continue
                paths = [path_of(*t) for t in lists[w]]
                size = sample_sizes(server.url, paths, 150 if w != "W3" else len(paths))
                print(f"[{name}] {w} sizes: {json.dumps(size)}", flush=True)
                for c in conns:
                    res = median_run(server.url, paths, None, c, args.duration, args.runs)
                    results[(name, w, c)] = res
                    print(f"[{name}] {w} c={c:<3} {fmt(res)}", flush=True)
            if "W4" in wanted:
                views = viewports(bounds, 20)
                if name == "tipg":
                    urls = [[tipg_url(la, *t) for t in v for la in LAYERS] for v in views]
                else:
                    urls = [[ours_url(",".join(LAYERS), *t) for t in v] for v in views]
                times = asyncio.run(
                    viewport_times(server.url, urls, {"Authorization": f"Bearer {token}"})
                )
                q = statistics.quantiles(times, n=20)
                print(
                    f"[{name}] W4 viewport (12 tiles, {len(urls[0])} requests): "
                    f"median {statistics.median(times) * 1000:.0f} ms, "
                    f"p95 {q[18] * 1000:.0f} ms",
                    flush=True,
                )
            if "W5" in wanted:
                paths = [path_of(*t) for t in lists["W1"][:3000]]
                tags = []
                with httpx.Client(base_url=server.url, timeout=60) as c:
                    for p in paths:
                        tags.append(c.head(p).headers.get("etag", ""))
                has = sum(1 for t in tags if t)
                print(f"[{name}] W5 revisits: {has}/{len(tags)} tiles carry an ETag", flush=True)
                for c in conns:
                    res = median_run(
                        server.url, paths, tags if has else None, c, args.duration, args.runs
                    )
                    results[(name, "W5", c)] = res
                    print(f"[{name}] W5 c={c:<3} {fmt(res)}", flush=True)
            if "W6" in wanted and name == "ours":
                print(
                    f"[ours] W6 freshness: {json.dumps(freshness(server.url, token, 100))}",
                    flush=True,
                )
        finally:
            server.stop()
    for w in ("W1", "W2", "W3", "W5"):
        for c in conns:
            a, b = results.get(("ours", w, c)), results.get(("tipg", w, c))
            if a and b and b["rps"]:
                print(
                    f"{w} c={c}: ours/tipg = {a['rps'] / b['rps']:.2f}×  "
                    f"(p99 {a['p99'] / 1000:.0f} vs {b['p99'] / 1000:.0f} ms)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
