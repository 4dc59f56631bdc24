import { describe, expect, it } from 'vitest';
import { defaultSettings, renderSettings } from './config-defaults.js';
import { hbaContent } from './hba.js';
import { classifyStartFailure, postgresArgs } from './start-instance.js';
import type { StartOptions } from './types.js';

describe('pg_hba.conf', () => {
  const rules = (text: string) => text.split('\n').filter((l) => l.trim() && !l.startsWith('#'));

  it('is trust on the private socket only, until TCP is allowed', () => {
    expect(rules(hbaContent({ allowTcp: false }))).toEqual(['local   all       all                  trust']);
  });

  it('adds scram-sha-256 on loopback IPv4 and IPv6, nothing else', () => {
    const lines = rules(hbaContent({ allowTcp: true }));
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^host\s+all\s+all\s+127\.0\.0\.1\/32\s+scram-sha-256$/);
    expect(lines[2]).toMatch(/^host\s+all\s+all\s+::1\/128\s+scram-sha-256$/);
  });
});

describe('postgresql.conf defaults', () => {
  it('keeps clones small and instances light', () => {
    const s = defaultSettings(18);
    expect(s).toMatchObject({ wal_init_zero: 'off', wal_recycle: 'off', logging_collector: 'off', password_encryption: "'scram-sha-256'" });
    expect(Number(s.max_connections)).toBeLessThanOrEqual(100);
    expect(renderSettings(s)).toContain('\nwal_recycle = off\n');
  });

  it('guards major-specific settings', () => {
    expect(defaultSettings(18).io_method).toBeDefined();
    expect(defaultSettings(17).io_method).toBeUndefined();
    expect(defaultSettings(15).wal_recycle).toBe('off');
    expect(defaultSettings(11).wal_recycle).toBeUndefined();
  });
});

describe('postmaster command line', () => {
  const base = {
    binaries: { binDir: '/pg/bin', major: 18, version: '18.4', source: 'npm' },
    dataDir: '/pool/v/pgdata',
    osUser: { name: 'pgbranch', uid: 999, gid: 999 },
    logFile: '/pool/v/postgres.log',
    port: 40001,
    socketDir: '/run/pgbranch/v',
  } satisfies StartOptions;

  it('listens on loopback, or on no TCP address at all', () => {
    expect(postgresArgs(base)).toEqual(['-D', '/pool/v/pgdata', '-p', '40001', '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=/run/pgbranch/v']);
    expect(postgresArgs({ ...base, listenTcp: false })).toContain('listen_addresses=');
  });

  it('passes settings as -c and quotes socket dirs with separators', () => {
    const args = postgresArgs({ ...base, socketDir: '/tmp/a b', settings: { work_mem: '8MB', 'auto_explain.log_min_duration': '0' } });
    expect(args).toContain('unix_socket_directories="/tmp/a b"');
    expect(args.slice(-4)).toEqual(['-c', 'work_mem=8MB', '-c', 'auto_explain.log_min_duration=0']);
    expect(() => postgresArgs({ ...base, settings: { 'x; rm': '1' } })).toThrow(/invalid server setting/);
  });
});

describe('start failure classification', () => {
  const where = { port: 40001, dataDir: '/d' };

  it('recognises a taken port', () => {
    const log = 'LOG:  could not bind IPv4 address "127.0.0.1": Address already in use\nFATAL:  could not create any TCP/IP sockets';
    expect(classifyStartFailure(log, where).code).toBe('PORT_IN_USE');
  });

  it('explains a live postmaster.pid', () => {
    const log = 'FATAL:  lock file "postmaster.pid" already exists\nHINT:  Is another postmaster (PID 77) running in data directory "/d"?';
    const { code, message } = classifyStartFailure(log, where);
    expect(code).toBe('POSTGRES_START_FAILED');
    expect(message).toMatch(/pid 77.*copy/);
  });

  it('treats a socket lock held by another postmaster as the port being in use', () => {
    expect(classifyStartFailure('FATAL:  lock file "/s/.s.PGSQL.40001.lock" already exists', where).code).toBe('PORT_IN_USE');
  });
});
