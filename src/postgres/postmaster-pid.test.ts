import { describe, expect, it } from 'vitest';
import { parsePostmasterPid } from './postmaster-pid.js';

const READY = ['4242', '/srv/pool/main/pgdata', '1732170000', '54321', '/run/pgbranch/main', '127.0.0.1', '  5432001    131072', 'ready   ', ''].join('\n');

describe('parsePostmasterPid', () => {
  it('reads pid, data dir, port, socket dir, listen address and status', () => {
    expect(parsePostmasterPid(READY)).toEqual({
      pid: 4242,
      dataDir: '/srv/pool/main/pgdata',
      startTime: 1732170000,
      port: 54321,
      socketDir: '/run/pgbranch/main',
      listenAddress: '127.0.0.1',
      pmStatus: 'ready',
    });
  });

  it('has no status while starting up (line 8 not written yet)', () => {
    const starting = READY.split('\n').slice(0, 7).join('\n') + '\n';
    expect(parsePostmasterPid(starting)?.pmStatus).toBeUndefined();
    expect(parsePostmasterPid(starting)?.port).toBe(54321);
    expect(parsePostmasterPid(READY.replace('ready   ', 'starting'))?.pmStatus).toBe('starting');
    expect(parsePostmasterPid(READY.replace('ready   ', 'stopping'))?.pmStatus).toBe('stopping');
  });

  it('ignores lines whose newline is not written yet', () => {
    expect(parsePostmasterPid('')).toBeUndefined();
    expect(parsePostmasterPid('42')).toBeUndefined();
    expect(parsePostmasterPid('42\n/data\n17')).toMatchObject({ pid: 42, dataDir: '/data', startTime: undefined });
    expect(parsePostmasterPid(READY.slice(0, -1))?.pmStatus).toBeUndefined();
  });

  it('treats a standalone backend (negative pid) as its absolute pid, and junk as absent', () => {
    expect(parsePostmasterPid('-77\n/data\n')?.pid).toBe(77);
    expect(parsePostmasterPid('garbage\n')).toBeUndefined();
  });
});
