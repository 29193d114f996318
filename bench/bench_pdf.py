"""PDF dossier benchmark: a lead of 20 real cadastral parcels with 3 annexes (2 PDFs, 1 photo).

    .venv/bin/python bench/bench_pdf.py [--runs 10]

Works on its own database ``lfs_bench_pdf`` (created from the migrations, dropped at the end)
on the cluster of DATABASE_URL. Prints P50/P95/max of the whole generation as the API does it
(facts from PostGIS + template summary + render + annex merge) and of each stage. Target: < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.cli import run_migrations  # noqa: E402
from api.settings import to_async_url, to_plain_url  # noqa: E402
from geo.crypto import FieldCipher  # noqa: E402
from geo.db import make_engine, make_sessionmaker  # noqa: E402
from geo.models import Lead  # noqa: E402
from reports import charts, maps, sections  # noqa: E402
from reports.dossier import Annex, DossierOptions, build_dossier  # noqa: E402
from reports.facts import load_facts, monthly_mwh  # noqa: E402
from reports.summary import SummaryConfig, write_summary  # noqa: E402
from tests.dossier_factory import seed_site  # noqa: E402

DB = "lfs_bench_pdf"


def db_url(name: str) -> str:
    base = to_plain_url(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:54329/x"))
    return base.rsplit("/", 1)[0] + "/" + name


def annexes() -> list[Annex]:
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    out = []
    for name, pages in (("etude-raccordement.pdf", 6), ("extrait-plu.pdf", 2)):
        buf = io.BytesIO()
        c = Canvas(buf, pagesize=A4)
        for i in range(pages):
            c.setFont("Helvetica", 11)
            for line in range(40):
                c.drawString(60, 780 - 18 * line, f"{name} page {i + 1} ligne {line} " + "x" * 60)
            c.showPage()
        c.save()
        out.append(Annex(name, "application/pdf", buf.getvalue(), "grid_study"))
    img = Image.effect_mandelbrot((1600, 1200), (-2.2, -1.2, 1.0, 1.2), 60).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    out.append(Annex("photo-site.jpg", "image/jpeg", buf.getvalue(), "photo"))
    return out


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    p50 = statistics.median(xs)
    return f"p50 {p50 * 1000:6.0f} ms  p95 {p95 * 1000:6.0f} ms  max {xs[-1] * 1000:6.0f} ms"


async def run(runs: int, profile: bool = False) -> None:
    """Seed the lead, then time ``runs`` generations."""
    if True:
        engine = make_engine(to_async_url(db_url(DB)), pool_size=2)
        sessions = make_sessionmaker(engine)
        cipher = FieldCipher({"k1": b"\x01" * 32}, "k1")
        async with sessions() as s:
            lead_id = await seed_site(s, cipher, n_parcels=20)
        files = annexes()
        total, facts_t, render_t, cpu_t, pages = [], [], [], [], 0
        stage: dict[str, list[float]] = {
            k: []
            for k in ("site map", "context map", "monthly chart", "score chart", "economics chart")
        }
        for _ in range(runs):
            t0 = time.perf_counter()
            async with sessions() as s:
                lead = await s.get(Lead, lead_id)
                facts = await load_facts(s, lead, cipher=cipher, include_owners=True)
            t1 = time.perf_counter()
            summary = await write_summary(facts, SummaryConfig())
            c1 = time.process_time()
            result = await asyncio.to_thread(build_dossier, facts, summary, files, DossierOptions())
            cpu_t.append(time.process_time() - c1)
            t2 = time.perf_counter()
            total.append(t2 - t0)
            facts_t.append(t1 - t0)
            render_t.append(t2 - t1)
            pages = result.pages
            if profile and _ == 0:
                import cProfile
                import pstats

                pr = cProfile.Profile(time.process_time)
                pr.enable()
                build_dossier(facts, summary, files, DossierOptions())
                pr.disable()
                pstats.Stats(pr).sort_stats("cumtime").print_stats(25)
            for name, fn in (
                ("site map", lambda f=facts: maps.site_map(f.layers, 17, 9)),
                ("context map", lambda f=facts: maps.context_map(f.layers, 17, 9)),
                ("monthly chart", lambda f=facts: charts.monthly_chart(monthly_mwh(f.technical))),
                ("score chart", lambda f=facts: charts.score_chart(f.criteria)),
                (
                    "economics chart",
                    lambda f=facts: charts.economics_chart(*sections.cash_flow(f)[:2]),
                ),
            ):
                ts = time.perf_counter()
                fn()
                stage[name].append(time.perf_counter() - ts)
        await engine.dispose()
        print(
            f"PDF dossier: 20 parcels, 3 annexes (PDF 6 p + PDF 2 p + JPEG 1600x1200), "
            f"{pages} pages, {len(result.pdf) / 1024:.0f} KiB, {runs} runs"
        )
        print(f"  whole generation      {stats(total)}   (target < 2000 ms)")
        print(f"  facts from PostGIS    {stats(facts_t)}")
        print(f"  render + merge        {stats(render_t)}")
        print(f"  render CPU time       {stats(cpu_t)}   (less sensitive to a busy machine)")
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for k, v in stage.items():
            print(f"    {k:<19} {stats(v)}")


def main(runs: int, profile: bool = False) -> None:
    """Create and migrate the database (outside the event loop: Alembic runs its own), bench."""
    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    try:
        with psycopg.connect(db_url(DB), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        run_migrations(db_url(DB))
        asyncio.run(run(runs, profile))
    finally:
        with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one render")
    args = ap.parse_args()
    main(args.runs, args.profile)
