// `npm run size:client`: the light client against the full package, as a user installs them:
// tarball size, installed size (node_modules) and install time into an empty project, from the
// local npm cache (--prefer-offline: network time left out, so the figures are the packages' own).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'pgbranch-size-'));
const mib = (bytes) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

function measure(label, packageDir) {
  const [info] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: packageDir, encoding: 'utf8' }));
  const project = join(work, label);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `size-${label}`, version: '1.0.0', private: true }));
  const started = process.hrtime.bigint();
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, info.filename)], { cwd: project, stdio: 'ignore' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const installed = Number(execFileSync('du', ['-sb', join(project, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]);
  const packages = Number(execFileSync('sh', ['-c', 'find node_modules -name package.json -not -path "*/node_modules/*/node_modules/*/node_modules/*" | wc -l'], { cwd: project, encoding: 'utf8' }).trim());
  return { package: info.name, tarball: mib(info.size), unpacked: mib(info.unpackedSize), installed: mib(installed), installSeconds: Number(seconds.toFixed(1)), packageJsonFiles: packages };
}

try {
  const rows = [measure('client', join(root, 'packages/client')), measure('full', root)];
  console.table(rows);
} finally {
  rmSync(work, { recursive: true, force: true });
}
