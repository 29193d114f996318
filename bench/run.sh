#!/usr/bin/env bash
# `make bench`: every benchmark, one after the other (each prints its own figures).
# Append a line per benchmark; keep each bounded in time (the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

if [ "${1:-}" = scale ]; then
  # `make bench-scale`: 1 M against 10 M parcels (issue 22, docs/scale.md). Long: the 10 M build
  # takes ~15-30 min, the measurements ~30 min; the clones (NAME_tiles, NAME_enrich) stay for
  # the next run (drop them with DROP DATABASE when done).
  echo "== 1 M and 10 M parcels (bench/generate.py; 10 départements side by side)"
  $PY bench/generate.py
  $PY bench/generate.py --parcels 10000000 --db lfs_bench_10m
  echo "== Per request, interleaved: parcel tiles, OGC items paging, lead creation by parcels"
  $PY bench/bench_tiles.py --scale lfs_bench,lfs_bench_10m --runs 3 --duration 10 --connections 8
  echo "== Enrichment, spatial part (interleaved 1 M / 10 M)"
  for db in lfs_bench lfs_bench_10m lfs_bench lfs_bench_10m; do
    $PY bench/enrichment.py --db "$db" --sample 500 --skip-queue
  done
  echo "== Import of one more département (73) into a clone of each"
  geo=bench/out/cadastre-bench-73.json
  [ -f "$geo" ] || $PY bench/make_geojson.py --departement 73 --out "$geo"
  for db in lfs_bench lfs_bench_10m; do
    $PY bench/bench_import.py --file "$geo" --into "$db"
  done
  echo "== Site finder over département 42, 2 workers (interleaved 1 M / 10 M)"
  base=${DATABASE_URL:-$(scripts/pg.sh url)}
  for db in lfs_bench_tiles lfs_bench_10m_tiles lfs_bench_tiles lfs_bench_10m_tiles; do
    echo "-- $db"
    BENCH_DATABASE_URL="${base%/*}/$db" $PY -m bench.bench_site_finder --departements 42 \
      --workers 2 --repeat 1 --declare-coverage
  done
  exit 0
fi

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

echo "== Shared state: a rate-limit hit and a cached answer, PostgreSQL vs Redis (bench/bench_shared_state.py)"
$PY bench/bench_shared_state.py
