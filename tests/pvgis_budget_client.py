"""One process of the shared-budget test: ``python -m tests.pvgis_budget_client``.

Makes ``--calls`` PVcalc calls at once (distinct points, no cache) through a PvgisClient whose
budget is the database's (``--shared``), Redis' (``--redis URL``) or its own, and prints
``{"ok": n, "failed": n}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from api.settings import to_async_url
from enrichment.config import PvgisConfig
from enrichment.pvgis import PvgisClient, PvgisError
from geo.db import make_engine
from geo.shared_state import RedisState


async def _main(args: argparse.Namespace) -> dict[str, int]:
    engine = make_engine(to_async_url(args.database_url), pool_size=4, max_overflow=4)
    config = PvgisConfig(
        base_url=args.url, retries=0, max_calls_per_second=args.rate, cache_precision_deg=0.01
    )
    shared = RedisState(args.redis, args.redis_prefix) if args.redis else None
    client = PvgisClient(config, engine=engine if args.shared else None, shared=shared)

    async def one(i: int) -> bool:
        try:
            await client.pvcalc(44.0 + i * 0.01, 2.0 + args.offset)
        except PvgisError:
            return False
        return True

    try:
        results = await asyncio.gather(*(one(i) for i in range(args.calls)))
    finally:
        await client.aclose()
        if shared is not None:
            await shared.aclose()
        await engine.dispose()
    return {"ok": sum(results), "failed": args.calls - sum(results)}


def main() -> None:
    """Parse the arguments, run the calls, print the counts."""
    p = argparse.ArgumentParser()
    p.add_argument("--database-url", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--rate", type=float, default=25.0)
    p.add_argument("--offset", type=float, default=0.0)
    p.add_argument("--shared", action="store_true")
    p.add_argument("--redis", help="the budget in this Redis (geo.shared_state.RedisState)")
    p.add_argument("--redis-prefix", default="budget:")
    print(json.dumps(asyncio.run(_main(p.parse_args()))))


def run_two(db_url: str, url: str, calls: int, *extra: str) -> list[tuple[dict[str, int], str]]:
    """This client in two real processes (offsets 0 and 1) at once: each one's figures and
    stderr; both killed if they outlive the wait."""
    root = Path(__file__).resolve().parent.parent
    args = ["--database-url", db_url, "--url", url, "--calls", str(calls), *extra]
    env = {**os.environ, "PYTHONPATH": str(root)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.pvgis_budget_client", *args, "--offset", str(k)],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    try:
        out = []
        for p in procs:
            stdout, stderr = p.communicate(timeout=120)
            assert p.returncode == 0, stderr
            out.append((json.loads(stdout.strip().splitlines()[-1]), stderr))
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


if __name__ == "__main__":
    main()
