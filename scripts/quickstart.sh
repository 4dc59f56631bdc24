#!/usr/bin/env bash
# Quick start on the embedded default: install, build, create the host and `main`, branch it,
# use the branch through its connection string, show the tree. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
npm run build --silent

pgbranch() { node bin/pgbranch.js "$@"; }

pgbranch init --if-not-exists
pgbranch branch create pr-1 --from main --if-not-exists
url=$(pgbranch branch url pr-1)
psql "$url" -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE IF NOT EXISTS hello (id serial PRIMARY KEY, said_at timestamptz DEFAULT now());
INSERT INTO hello DEFAULT VALUES;
SELECT count(*) AS rows_in_pr_1 FROM hello;
SQL
pgbranch branch list
echo "connect: psql \"\$(node bin/pgbranch.js branch url pr-1)\"" >&2
