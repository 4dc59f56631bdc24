// Bundles the GitHub Action (src/integrations/github-action/main.ts) with its dependencies into
// actions/branch/dist/index.mjs, which is committed: a JavaScript action runs from the checked-out
// repository without `npm install`. `.mjs` because the repository's package.json says
// "type": "module" and the bundle must not depend on which package.json the runner sees.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [join(root, 'src/integrations/github-action/main.ts')],
  outfile: join(root, 'actions/branch/dist/index.mjs'),
  bundle: true,
  platform: 'node',
  // Runs under node24 on GitHub; the tests here run it on Node 20.
  target: 'node20',
  format: 'esm',
  // Some bundled CommonJS code calls require() for Node built-ins.
  banner: { js: "import { createRequire as __pgbranchCreateRequire } from 'node:module';\nconst require = __pgbranchCreateRequire(import.meta.url);" },
  legalComments: 'eof',
  logLevel: 'warning',
});
