#!/usr/bin/env bash
# `make bench`: every benchmark, one after the other (each prints its own figures).
# Append a line per benchmark; keep each bounded in time (the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

echo "== PDF dossier (bench/bench_pdf.py)"
$PY bench/bench_pdf.py --runs 10

echo "== Lead API at 100k leads (bench/seed_leads.py + bench/bench_leads_api.py)"
$PY bench/seed_leads.py --leads 100000
$PY bench/bench_leads_api.py --duration 60 --connections 50

echo "== Vector tiles vs tipg on lfs_bench (bench/generate.py + bench/bench_tiles.py)"
$PY bench/generate.py
$PY bench/bench_tiles.py --duration 30 --runs 3 --connections 1,8,32 --cache-mb 0

echo "== Enrichment on lfs_bench: spatial part vs bare SQL, 10k leads through the queue (bench/enrichment.py)"
$PY bench/generate.py
$PY bench/enrichment.py --sample 1000 --leads 10000 --concurrency 8

echo "== Import of 1M parcels from GeoJSON (bench/make_geojson.py + bench/bench_import.py)"
[ -f bench/out/cadastre-bench-parcelles.json ] || $PY bench/make_geojson.py
$PY bench/bench_import.py --reimport

echo "== Web app: bundle sizes, cold first load, pans at z15 (bench/bench_web.py)"
$PY bench/bench_web.py --runs 5 --pans 12
