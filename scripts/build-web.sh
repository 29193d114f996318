#!/usr/bin/env bash
# Builds the web app into web/dist, doing only what changed:
#   npm ci        when package-lock.json changed since the last install (stamp in node_modules/),
#   npm run build when a source, config or the lock file changed since the last build (web/.build-stamp).
# FORCE=1 rebuilds anyway.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: install Node.js 20+ (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi

sum() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

lock_sum=$(sum package-lock.json)
lock_stamp=node_modules/.lfs-lock-stamp
if [ ! -f "$lock_stamp" ] || [ "$(cat "$lock_stamp")" != "$lock_sum" ]; then
  echo "web: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$lock_stamp"
fi

src_sum=$(sum package-lock.json package.json index.html vite.config.ts tsconfig.json \
  tailwind.config.js postcss.config.js scripts/compress.mjs \
  $(find src public -type f ! -name '*.test.ts' ! -name '*.test.tsx' | LC_ALL=C sort))
build_stamp=.build-stamp
if [ "${FORCE:-0}" = "1" ] || [ ! -f dist/index.html ] || [ ! -f "$build_stamp" ] \
  || [ "$(cat "$build_stamp")" != "$src_sum" ]; then
  echo "web: npm run build" >&2
  npm run build --silent
  echo "$src_sum" > "$build_stamp"
else
  echo "web: up to date" >&2
fi
