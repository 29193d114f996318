#!/usr/bin/env bash
# The project-local PostgreSQL + PostGIS cluster (used when DATABASE_URL is not set).
# Usage: scripts/pg.sh start|stop|status|url
# Idempotent: `start` reuses a running or existing cluster under .data/pg.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${LFS_PG_DATA:-$ROOT/.data/pg}"
SOCK="${LFS_PG_SOCKET_DIR:-$ROOT/.data/pgsock}"
PORT="${LFS_PG_PORT:-54329}"
DB="${LFS_PG_DB:-leadfactory}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
LOG="$ROOT/.data/postgresql.log"

# As root the server runs as `postgres`, which must reach the data folder: when the checkout sits
# under a folder it can't traverse, keep the cluster under /var/lib/postgresql instead.
if [ "$(id -u)" = "0" ] && [ -z "${LFS_PG_DATA:-}" ] && id postgres >/dev/null 2>&1; then
  mkdir -p "$ROOT/.data"
  if ! runuser -u postgres -- test -x "$ROOT/.data"; then
    alt="/var/lib/postgresql/leadfactory-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)"
    mkdir -p "$alt" && chown postgres "$alt"
    DATA="$alt/pg"; SOCK="$alt/sock"; LOG="$alt/postgresql.log"
  fi
fi

run_as() {
  # initdb and postgres refuse to run as root: run them as the unprivileged `postgres` user.
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

need_binaries() {
  if [ ! -x "$PGBIN/initdb" ]; then
    echo "PostgreSQL 15 server binaries not found in $PGBIN." >&2
    echo "Install them: apt-get install -y postgresql-15 postgresql-15-postgis-3" >&2
    exit 1
  fi
  if [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
    echo "PostGIS 3 for PostgreSQL 15 is missing: apt-get install -y postgresql-15-postgis-3" >&2
    exit 1
  fi
}

is_running() { run_as "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
  need_binaries
  mkdir -p "$ROOT/.data" "$SOCK"
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown postgres "$ROOT/.data" "$SOCK" 2>/dev/null || true
    touch "$LOG" && chown postgres "$LOG"
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ "$(id -u)" = "0" ] && chown postgres "$DATA"
    # trust on loopback and the private socket only: this is a developer's embedded database.
    run_as "$PGBIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=trust >/dev/null
    cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
max_connections = 200
shared_buffers = '1GB'
work_mem = '32MB'
maintenance_work_mem = '512MB'
effective_cache_size = '8GB'
random_page_cost = 1.1
jit = off
synchronous_commit = off
max_wal_size = '4GB'
checkpoint_timeout = '15min'
CONF
  fi
  if ! is_running; then
    run_as "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null
  fi
  if ! run_as "$PGBIN/psql" -h "$SOCK" -p "$PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    run_as "$PGBIN/createdb" -h "$SOCK" -p "$PORT" -U postgres "$DB"
  fi
  run_as "$PGBIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d "$DB" -qc \
    "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
  # The server log holds no request values: an error is logged without the statement's text
  # (log_min_error_statement) and without its DETAIL, which quotes the failing row ("Failing
  # row contains (…)") or the duplicate key (log_error_verbosity). Set on every start, so a
  # cluster made before this line gets it too (docs/decisions.md, "Logs").
  run_as "$PGBIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d "$DB" -q \
    -c "ALTER SYSTEM SET log_min_error_statement = 'panic'" \
    -c "ALTER SYSTEM SET log_error_verbosity = 'terse'" \
    -c "SELECT pg_reload_conf()" >/dev/null
  echo "PostgreSQL running on 127.0.0.1:$PORT (data: $DATA)" >&2
}

case "${1:-start}" in
  start) start ;;
  stop) is_running && run_as "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop || true ;;
  status) is_running && echo running || { echo stopped; exit 3; } ;;
  url) echo "postgresql://postgres@127.0.0.1:$PORT/$DB" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
