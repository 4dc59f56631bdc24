// Bundles the web console (src/web/app) into dist/web/console: one script, one stylesheet, the
// page and its icon. Content-hashed names let the server cache assets for good; the page itself
// is served with no-cache. Type checking is `npm run typecheck` (src/web/tsconfig.json).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const app = join(root, 'src/web/app');
const out = join(root, 'dist/web/console');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [
    { in: join(app, 'main.tsx'), out: 'app' },
    { in: join(app, 'styles.css'), out: 'style' },
  ],
  outdir: out,
  entryNames: '[name]-[hash]',
  bundle: true,
  // The icon is served as it is, next to the bundle.
  external: ['/console/*'],
  minify: true,
  format: 'esm',
  target: ['chrome111', 'firefox115', 'safari16.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`console build: expected one .js and one .css, got ${outputs.join(', ')}`);
const page = readFileSync(join(app, 'index.html'), 'utf8').replace('%JS%', js).replace('%CSS%', css);
writeFileSync(join(out, 'index.html'), page);
copyFileSync(join(app, 'favicon.svg'), join(out, 'favicon.svg'));

const size = (f) => {
  const bytes = readFileSync(join(out, f));
  return `${f} ${(statSync(join(out, f)).size / 1024).toFixed(1)} KiB (${(gzipSync(bytes).length / 1024).toFixed(1)} KiB gzip)`;
};
console.error(`web console: ${size(js)}, ${size(css)}`);
