import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../../src/api/index.js';
// @ts-expect-error: a plain .mjs shared with scripts/gen-client.mjs, untyped on purpose.
import { renderClientFiles } from '../../../scripts/client-files.mjs';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** The committed SDK types and document must be what `npm run gen:client` makes from the routes. */
describe('light client: generated files', () => {
  it('openapi.json and src/openapi.ts match the API (otherwise: run npm run gen:client)', async () => {
    const files = (await renderClientFiles(openApiDocument())) as Record<string, string>;
    for (const [rel, text] of Object.entries(files)) {
      const committed = readFileSync(join(ROOT, rel), 'utf8');
      expect(committed === text, `${rel} is out of date with the API's routes and schemas: run npm run gen:client (and commit the result)`).toBe(true);
    }
  });
});
