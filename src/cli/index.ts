import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Host, TOKEN_ROLES, type BranchService, type BranchView, type ConnectionInfo, type HostStatus, type RootSource, type TokenInfo } from '../branches/index.js';
import { PgbranchError, toPgbranchError } from '../errors.js';
import { log } from '../util/log.js';
import { asTree, formatAge, formatBytes } from './format.js';
import { stderrProgress } from './progress.js';
import { OUTPUT_FORMATS, Writer, parseOutputFormat, renderFields, renderTable, type Streams } from './writer.js';

interface GlobalOptions {
  home?: string;
  apiUrl?: string;
  output: string;
  quiet?: boolean;
}

/**
 * In-process host, or the server named by PGBRANCH_API_URL (with PGBRANCH_TOKEN): the same
 * commands either way.
 */
async function openService(opts: GlobalOptions, env: NodeJS.ProcessEnv): Promise<BranchService> {
  const apiUrl = opts.apiUrl ?? env.PGBRANCH_API_URL;
  if (apiUrl) {
    const { createApiClient } = await import('../api/index.js');
    return createApiClient({ baseUrl: apiUrl, token: env.PGBRANCH_TOKEN });
  }
  return Host.open({ home: opts.home });
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "5m", "90s", "2h", "0" (never) → milliseconds; "default" → null (the host's default). */
export function parseIdleTimeout(value: string): number | null {
  if (value === 'default') return null;
  if (value === '0' || value === 'never') return 0;
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not a duration (examples: 5m, 90s, 2h, 0 = never, default)`);
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return 'never';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not a size (examples: 20G, 512M)`);
  return Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!);
}

function parseMajor(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 14 || n > 18) throw new InvalidArgumentError('PostgreSQL major must be 14 to 18');
  return n;
}

function rootSource(opts: { fromDump?: string; fromUrl?: string }): RootSource | undefined {
  if (opts.fromDump && opts.fromUrl) throw new PgbranchError('INVALID_ARGUMENT', 'give --from-dump or --from-url, not both');
  if (opts.fromDump) return { kind: 'dump', file: opts.fromDump };
  if (opts.fromUrl) return { kind: 'url', url: opts.fromUrl };
  return undefined;
}

function branchFields(b: BranchView): [string, string][] {
  return [
    ['name', b.name],
    ['id', b.id],
    ['parent', b.parent ? `${b.parent}${b.parentDeleted ? ' (deleted)' : ''}` : '-'],
    ['state', b.state],
    ['idle timeout', formatDuration(b.idleTimeoutMs)],
    ['port', String(b.port)],
    ['database', b.database],
    ['user', b.user],
    ['branch point', b.branchPoint.lsn ? `${b.branchPoint.lsn} at ${b.branchPoint.time}` : '-'],
    ['created', b.createdAt],
    ['reset', b.resetAt ?? '-'],
    ['own data', formatBytes(b.ownBytes)],
    ['total data', formatBytes(b.totalBytes)],
  ];
}

function statusFields(s: HostStatus): [string, string][] {
  return [
    ['home', s.home],
    ['driver', `${s.driver}${s.loopImage ? ` (loop image ${s.loopImage})` : ''}`],
    ['pool', s.poolPath],
    ['pool used', `${formatBytes(s.pool.usedBytes)} of ${formatBytes(s.pool.totalBytes)} (${formatBytes(s.pool.freeBytes)} free)`],
    ['postgres', `${s.postgres.version} (${s.postgres.source}, ${s.postgres.binDir}) as OS user ${s.postgres.osUser}`],
    ['branches', String(s.branches)],
  ];
}

/**
 * Builds the command tree. Each action opens the host in-process, does one domain call and
 * prints its result through the writer; no business rule lives here.
 */
export function buildProgram(streams: Streams, env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('pgbranch')
    .description('Copy-on-write PostgreSQL branches: an isolated, production-like database per PR, CI run or QA session.')
    .addOption(new Option('--home <dir>', 'host directory (default: $PGBRANCH_HOME, /var/lib/pgbranch as root, ~/.pgbranch otherwise)'))
    .addOption(new Option('--api-url <url>', 'talk to a `pgbranch serve` host (default: $PGBRANCH_API_URL; token from $PGBRANCH_TOKEN)'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .option('-q, --quiet', 'no progress on stderr')
    .showHelpAfterError()
    .configureOutput({
      writeOut: (s) => streams.stdout.write(s),
      writeErr: (s) => streams.stderr.write(s),
    })
    .exitOverride();

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const writerFor = (cmd: Command): Writer => new Writer(parseOutputFormat(globals(cmd).output), streams);
  const progressFor = (cmd: Command) => stderrProgress(streams.stderr, { quiet: globals(cmd).quiet });
  const withHost = async <T>(cmd: Command, fn: (host: BranchService) => Promise<T>): Promise<T> => {
    const service = await openService(globals(cmd), env);
    try {
      return await fn(service);
    } finally {
      service.close();
    }
  };

  program
    .command('init')
    .description('create the host: pick or make a CoW pool, write the config, create the root branch "main"')
    .addOption(new Option('--driver <driver>', 'storage driver').choices(['auto', 'btrfs', 'reflink', 'copy']).default('auto'))
    .option('--pool-path <dir>', 'directory for the pool (default <home>/pool)')
    .option('--pool-size <size>', 'size of the sparse loop image when one is made', parseSize)
    .option('--pg-major <n>', 'PostgreSQL major version (18 is bundled)', parseMajor)
    .option('--pg-bin-dir <dir>', 'use PostgreSQL server binaries from this directory')
    .option('--os-user <name>', 'unprivileged OS user that runs the instances', 'pgbranch')
    .option('--database <name>', 'database name of the branches', 'app')
    .option('--user <name>', 'database superuser of the branches', 'postgres')
    .option('--root <name>', 'name of the root branch', 'main')
    .option('--from-dump <file>', 'fill the root branch from a pg_dump file (custom, tar, directory or plain SQL)')
    .option('--from-url <url>', 'fill the root branch with a logical copy of a live PostgreSQL server')
    .option('--if-not-exists', 'succeed without changes if the host already exists')
    .action(async (opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const { host, root, created, adminToken } = await Host.init({
        home: globals(cmd).home,
        driver: opts.driver,
        poolPath: opts.poolPath,
        poolSizeBytes: opts.poolSize,
        pgMajor: opts.pgMajor,
        pgBinDir: opts.pgBinDir,
        osUser: opts.osUser,
        dbName: opts.database,
        dbUser: opts.user,
        rootName: opts.root,
        source: rootSource(opts),
        ifNotExists: opts.ifNotExists,
        onProgress: progressFor(cmd),
      });
      try {
        // The endpoint's TLS certificate is made now, so clients can pin it before the first serve.
        const { ensureEndpointCertificate } = await import('../serve/index.js');
        await ensureEndpointCertificate(host);
        const status = await host.status();
        const tokenNote = adminToken ? ['', `admin API token (shown once, keep it secret): ${adminToken}`] : [];
        writer.data({ created, host: status, root, ...(adminToken ? { adminToken } : {}) }, () =>
          [created ? 'host initialised' : 'host already initialised', renderFields(statusFields(status)), '', renderFields(branchFields(root)), ...tokenNote].join('\n'),
        );
      } finally {
        host.close();
      }
    });

  program
    .command('serve')
    .description('run the host: HTTP API, the Postgres endpoint for every branch, idle suspension; stops cleanly on SIGTERM/SIGINT')
    .action(async (_opts, cmd: Command) => {
      const writer = writerFor(cmd);
      if (!env.PGBRANCH_LOG_LEVEL) log.level = 'info';
      const { startServer } = await import('../serve/index.js');
      const server = await startServer({ home: globals(cmd).home });
      const endpoint = `${server.endpoint.host}:${server.endpoint.port}`;
      writer.data({ api: server.apiUrl, endpoint }, () => `api:      ${server.apiUrl}\nendpoint: ${endpoint}`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await server.stop();
    });

  program
    .command('status')
    .description('show the host: pool, driver, PostgreSQL, number of branches')
    .action(async (_opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const status = await withHost(cmd, (host) => host.status());
      writer.data(status, () => renderFields(statusFields(status)));
    });

  const branch = program.command('branch').alias('branches').description('create, list, connect to, reset and delete branches');

  branch
    .command('create <name>')
    .description('create a branch from a parent (copy-on-write), or a new root branch from a dump, a URL or empty')
    .option('--from <parent>', 'parent branch (default "main" unless a root source is given)')
    .option('--from-dump <file>', 'make a root branch from a pg_dump file')
    .option('--from-url <url>', 'make a root branch from a live PostgreSQL server (logical copy)')
    .option('--empty', 'make an empty root branch')
    .option('--if-not-exists', 'return the existing branch if it has the same parent (for CI retries)')
    .action(async (name: string, opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const source = opts.empty ? ({ kind: 'empty' } as const) : rootSource(opts);
      if (opts.empty && (opts.fromDump || opts.fromUrl)) throw new PgbranchError('INVALID_ARGUMENT', '--empty excludes --from-dump and --from-url');
      const from: string | undefined = opts.from ?? (source ? undefined : 'main');
      const result = await withHost(cmd, (host) =>
        host.createBranch(name, { from, source, ifNotExists: opts.ifNotExists, onProgress: progressFor(cmd) }),
      );
      writer.data({ ...result.branch, created: result.created }, () =>
        [`${result.created ? 'created' : 'exists'}: ${name}`, renderFields(branchFields(result.branch))].join('\n'),
      );
    });

  branch
    .command('list')
    .alias('ls')
    .description('list branches as a tree with state, own data size and age')
    .option('--no-size', 'skip measuring data sizes (faster on large pools)')
    .action(async (opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const branches = await withHost(cmd, (host) => host.listBranches({ withUsage: opts.size }));
      writer.data(branches, () =>
        renderTable(
          ['NAME', 'STATE', 'PORT', 'OWN DATA', 'TOTAL', 'AGE', 'BRANCH POINT'],
          asTree(branches).map(({ branch: b, prefix }) => [
            `${prefix}${b.name}${b.parentDeleted ? ` (parent ${b.parent} deleted)` : ''}`,
            b.state,
            String(b.port),
            formatBytes(b.ownBytes),
            formatBytes(b.totalBytes),
            formatAge(b.resetAt ?? b.createdAt),
            b.branchPoint.lsn ?? '-',
          ]),
        ),
      );
    });

  branch
    .command('get <name>')
    .alias('show')
    .description('show one branch')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.getBranch(name));
      writer.data(view, () => renderFields(branchFields(view)));
    });

  branch
    .command('url <name>')
    .alias('connection-string')
    .description('print the direct postgresql:// connection string (starts the branch if it is stopped); -o json shows both URLs')
    .option('--endpoint', "print the URL through the host's Postgres endpoint (pgbranch serve) instead")
    .action(async (name: string, opts: { endpoint?: boolean }, cmd: Command) => {
      const writer = writerFor(cmd);
      const info = await withHost(cmd, (host) => host.connectionInfo(name));
      writer.data(info, () => (opts.endpoint ? endpointUrl(info) : info.url));
    });

  branch
    .command('rotate-password <name>')
    .description('give the branch a new password (the old one stops working); prints the new direct URL')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const info = await withHost(cmd, (host) => host.rotatePassword(name));
      writer.data(info, () => info.url);
    });

  branch
    .command('set <name>')
    .description('change branch settings')
    .requiredOption('--idle-timeout <duration>', 'suspend after this long without connections: 5m, 90s, 2h, 0 = never, default = host default', parseIdleTimeout)
    .action(async (name: string, opts: { idleTimeout: number | null }, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.updateBranch(name, { idleTimeoutMs: opts.idleTimeout }));
      writer.data(view, () => renderFields(branchFields(view)));
    });

  branch
    .command('suspend <name>')
    .description('stop the instance until the next connection through the endpoint wakes it')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.suspendBranch(name));
      writer.data(view, () => `${name}: ${view.state}`);
    });

  branch
    .command('reset <name>')
    .description("replace the branch's data with its parent's current state; name, port, password and URL stay")
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.resetBranch(name));
      writer.data(view, () => [`reset: ${name}`, renderFields(branchFields(view))].join('\n'));
    });

  branch
    .command('delete <name>')
    .alias('rm')
    .description('stop the branch and remove its data (its children keep working)')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      await withHost(cmd, (host) => host.deleteBranch(name));
      writer.data({ name, deleted: true }, () => `deleted: ${name}`);
    });

  branch
    .command('start <name>')
    .description('start the branch instance')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.startBranch(name));
      writer.data(view, () => `${name}: ${view.state}`);
    });

  branch
    .command('stop <name>')
    .description('stop the branch instance (data is kept)')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.stopBranch(name));
      writer.data(view, () => `${name}: ${view.state}`);
    });

  const token = program.command('token').alias('tokens').description('API tokens for `pgbranch serve` (roles read, write, admin; optional branch patterns)');

  token
    .command('create')
    .description('create a token; it is shown once')
    .requiredOption('--name <name>', 'what the token is for, e.g. "github-ci"')
    .addOption(new Option('--role <role>', 'read, write or admin').choices(TOKEN_ROLES).default('read'))
    .option('--branches <patterns...>', 'limit to branch names matching these patterns, e.g. "pr-*"')
    .action(async (opts: { name: string; role: TokenInfo['role']; branches?: string[] }, cmd: Command) => {
      const writer = writerFor(cmd);
      const created = await withHost(cmd, (host) => host.createToken({ name: opts.name, role: opts.role, branchPatterns: opts.branches ?? [] }));
      writer.data({ token: created.token, ...created.info }, () =>
        [renderFields(tokenFields(created.info)), '', `token (shown once, keep it secret): ${created.token}`].join('\n'),
      );
    });

  token
    .command('list')
    .alias('ls')
    .description('list tokens (never their secrets)')
    .action(async (_opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const tokens = await withHost(cmd, (host) => host.listTokens());
      writer.data(tokens, () =>
        renderTable(
          ['ID', 'NAME', 'ROLE', 'BRANCHES', 'CREATED', 'LAST USED'],
          tokens.map((t) => [t.tokenId, t.name, t.role, t.branchPatterns.join(',') || '*', t.createdAt, t.lastUsedAt ?? '-']),
        ),
      );
    });

  token
    .command('revoke <id>')
    .alias('delete')
    .description('revoke a token at once')
    .action(async (id: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      await withHost(cmd, (host) => host.revokeToken(id));
      writer.data({ id, revoked: true }, () => `revoked: ${id}`);
    });

  return program;
}

function tokenFields(t: TokenInfo): [string, string][] {
  return [
    ['id', t.tokenId],
    ['name', t.name],
    ['role', t.role],
    ['branches', t.branchPatterns.join(', ') || '* (all)'],
    ['created', t.createdAt],
  ];
}

function endpointUrl(info: ConnectionInfo): string {
  if (!info.endpoint) throw new PgbranchError('INVALID_ARGUMENT', 'the endpoint port is not known (configured as 0): ask the running server, or use the direct URL');
  return info.endpoint.url;
}

/** Runs the CLI and returns the exit code (see README, "Exit codes"). */
export async function main(
  argv: readonly string[],
  streams: Streams = { stdout: process.stdout, stderr: process.stderr },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const program = buildProgram(streams, env);
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; everything else commander rejects is usage.
      return err.exitCode === 0 ? 0 : 2;
    }
    const format = (() => {
      try {
        return parseOutputFormat(program.opts<GlobalOptions>().output ?? 'table');
      } catch {
        return 'table' as const;
      }
    })();
    const error = toPgbranchError(err);
    new Writer(format, streams).error(error);
    return error.spec.exitCode;
  }
}
