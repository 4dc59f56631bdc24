import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layer rules of shared/DESIGN.md, checked on every import of every file under src/:
 *
 *   composition  bench, test-support (the shared test harness), index.ts (the package entry)
 *   edges        cli, api, client, web, proxy, integrations, serve
 *   domain       branches
 *   mechanisms   storage, postgres, state
 *   base         util, errors.ts
 *
 * 1. No upward import (a lower layer never imports a higher one).
 * 2. A mechanism never imports another mechanism.
 * 3. Another folder is reached only through its index.ts (tests and test support may also reach
 *    another folder's `test-support/` files).
 * 4. Production code never imports test support; only tests and test support may reach the
 *    shared harness in src/test-support (it sits above everything so it can drive the CLI).
 */

const SRC = resolve(import.meta.dirname);

const RANK: Readonly<Record<string, number>> = {
  util: 0,
  errors: 0,
  storage: 1,
  postgres: 1,
  state: 1,
  branches: 2,
  cli: 3,
  api: 3,
  client: 3,
  web: 3,
  proxy: 3,
  integrations: 3,
  // `pgbranch serve` composes the API and the endpoint; the CLI starts it.
  serve: 3,
  bench: 4,
  // src/index.ts: the package's public entry (`import 'pgbranch'`), above everything it re-exports.
  index: 4,
  'test-support': 4,
};
const MECHANISM = 1;
const LAYER_NAMES = ['base', 'mechanism', 'domain', 'edge', 'composition'];

export interface Violation {
  readonly file: string;
  readonly imports: string;
  readonly rule: string;
}

/** The top-level folder (or root file, without its extension) a path under src/ belongs to. */
function unitOf(relPath: string): string {
  return relPath.split('/')[0]!.replace(/\.(ts|js)$/, '');
}

const isTestFile = (relPath: string): boolean => /\.test\.ts$/.test(relPath) || relPath.split('/').includes('test-support');

/**
 * Checks one file's imports. `relPath` is relative to src/ with forward slashes; `specifiers`
 * are the module names it imports (static, re-exports and dynamic).
 */
export function checkImports(relPath: string, specifiers: readonly string[]): Violation[] {
  const violations: Violation[] = [];
  const from = unitOf(relPath);
  const fromRank = RANK[from];
  const test = isTestFile(relPath);
  if (fromRank === undefined && !relPath.endsWith('.test.ts')) {
    violations.push({ file: relPath, imports: '', rule: `"${from}" is in no layer: add it to RANK in src/layers.test.ts` });
  }
  for (const spec of specifiers) {
    if (!spec.startsWith('.')) continue; // packages and node: builtins
    const target = relative(SRC, resolve(SRC, dirname(relPath), spec)).split(sep).join('/');
    if (target.startsWith('..')) {
      violations.push({ file: relPath, imports: spec, rule: 'imports from outside src/' });
      continue;
    }
    const to = unitOf(target);
    if (to === from) continue;
    const toRank = RANK[to];
    const report = (rule: string) => violations.push({ file: relPath, imports: spec, rule });
    if (toRank === undefined) {
      report(`"${to}" is in no layer`);
      continue;
    }
    const intoTestSupport = target.split('/').includes('test-support');
    if (to === 'test-support') {
      // The shared harness drives everything; tests of any layer may use it.
      if (!test) report('production code imports the test harness');
      continue;
    }
    if (intoTestSupport && !test) report('production code imports test support');
    if (fromRank !== undefined && toRank > fromRank) report(`upward import: ${LAYER_NAMES[fromRank]} ${from} → ${LAYER_NAMES[toRank]} ${to}`);
    if (fromRank === MECHANISM && toRank === MECHANISM) report(`a mechanism imports another mechanism: ${from} → ${to}`);
    const viaIndex = !target.includes('/') || target === `${to}/index.js` || target === `${to}/index.ts`;
    if (!viaIndex && !(intoTestSupport && test)) report(`bypasses ${to}/index.ts: import from "${to}/index.js" instead of "${target}"`);
  }
  return violations;
}

/** Module specifiers a TypeScript source imports or re-exports, dynamic imports included. */
export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('layers', () => {
  it('every import under src/ follows the layer rules', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(100);
    const violations = files.flatMap((file) => {
      const rel = relative(SRC, file).split(sep).join('/');
      return checkImports(rel, importsOf(readFileSync(file, 'utf8')));
    });
    expect(violations.map((v) => `${v.file}: ${v.imports} — ${v.rule}`)).toEqual([]);
  });

  it('catches an upward import, a mechanism importing a mechanism, a bypassed index and test support in production', () => {
    const imports = (rel: string, source: string) => checkImports(rel, importsOf(source)).map((v) => v.rule);
    expect(imports('storage/btrfs-driver.ts', "import { Host } from '../branches/index.js';")).toEqual(['upward import: mechanism storage → domain branches']);
    expect(imports('branches/host.ts', "const m = await import('../cli/index.js');")).toEqual(['upward import: domain branches → edge cli']);
    expect(imports('postgres/client.ts', "export { x } from '../storage/index.js';")).toEqual(['a mechanism imports another mechanism: postgres → storage']);
    expect(imports('api/app.ts', "import { Runtime } from '../branches/runtime.js';")).toEqual([
      'bypasses branches/index.ts: import from "branches/index.js" instead of "branches/runtime.js"',
    ]);
    expect(imports('branches/host.ts', "import { createTestHost } from '../test-support/test-host.js';")).toEqual(['production code imports the test harness']);
    // What is allowed: downward through an index, inside a folder, a test using the harness.
    expect(imports('api/app.ts', "import { Host } from '../branches/index.js'; import { log } from '../util/index.js';")).toEqual([]);
    expect(imports('branches/host.ts', "import { x } from './operations/create.js';")).toEqual([]);
    expect(imports('branches/crash.integration.test.ts', "import { t } from '../test-support/test-host.js';")).toEqual([]);
    expect(imports('api/x.test.ts', "import { p } from '../storage/test-support/loop-pools.js';")).toEqual([]);
  });
});
