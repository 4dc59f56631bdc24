// `npm run gen:client`: writes the light client's OpenAPI document (packages/client/openapi.json)
// and the TypeScript types generated from it (packages/client/src/openapi.ts) from the API's
// routes, deterministically. `--check` writes nothing and fails when either file is out of date.
// Needs the compiled API (the npm script runs tsc first).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { openApiDocument } = await import(join(root, 'dist/api/index.js'));
const { renderClientFiles } = await import(join(root, 'scripts/client-files.mjs'));

const files = await renderClientFiles(openApiDocument());
const stale = [];
for (const [rel, text] of Object.entries(files)) {
  const path = join(root, rel);
  let before = '';
  try {
    before = readFileSync(path, 'utf8');
  } catch {
    // new file
  }
  if (before === text) continue;
  stale.push(rel);
  if (!process.argv.includes('--check')) writeFileSync(path, text);
}
if (process.argv.includes('--check') && stale.length > 0) {
  console.error(`out of date: ${stale.join(', ')} — run npm run gen:client`);
  process.exit(1);
}
console.error(stale.length > 0 ? `wrote ${stale.join(', ')}` : 'client files up to date');
