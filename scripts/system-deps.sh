#!/usr/bin/env bash
# Installs the Debian packages the product and its tests need, only those that are missing.
# Usage: scripts/system-deps.sh [run|test|bench]
set -euo pipefail

want=(postgresql-15 postgresql-15-postgis-3)
case "${1:-run}" in
  test) want+=(gdal-bin poppler-utils chromium redis-server) ;;
  bench) want+=(gdal-bin poppler-utils wrk redis-server) ;;
esac

missing=()
# The web app needs Node.js 20+ and npm; the machine image ships them, Debian's packages are the
# fallback on a machine without any.
if [ "${1:-run}" != "bench" ] && ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != "0" ]; then
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
