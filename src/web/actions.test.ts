import { describe, expect, it } from 'vitest';
import { matchesPattern as domainMatchesPattern } from '../branches/index.js';
import { applies, branchVerbs, cliCommand, diffCommand, matchesPattern, parseTtl, permits, shellWord, type ConsoleAction } from './app/actions.js';
import type { Branch, CallerToken } from './app/wire.js';

const token = (role: CallerToken['role'], branch_patterns: string[] = []): CallerToken => ({ id: 'abcdef012345', name: role, role, branch_patterns, masked_only: false });

function branch(overrides: Partial<Branch> = {}): Branch {
  return {
    id: 'br-1',
    name: 'pr-7',
    parent: 'main',
    parent_deleted: false,
    state: 'running',
    unhealthy_reason: null,
    desired_state: 'running',
    idle_timeout_ms: 0,
    port: 5500,
    database: 'app',
    user: 'postgres',
    source: { kind: 'branch' },
    branch_point: { lsn: '0/1', time: '2026-01-01T00:00:00.000Z' },
    created_at: '2026-01-01T00:00:00.000Z',
    reset_at: null,
    protected: false,
    expires_at: null,
    own_bytes: null,
    shared_bytes: null,
    total_bytes: null,
    max_own_bytes: null,
    created_by: null,
    masked: null,
    ...overrides,
  };
}

describe('the console applies the API rules before drawing a button', () => {
  it('matches branch patterns exactly as the domain does', () => {
    const names = ['pr-1', 'pr-12', 'xpr-1', 'main', 'feature/a/b', 'v1.2', 'v1x2', 'qa-', 'a.b', 'a+b', 'pr-'];
    const patterns = ['pr-*', '*', 'feature/*', 'v1.?', 'qa-*', 'a.b', 'a+b', '?r-*', 'main'];
    for (const p of patterns) for (const n of names) expect(matchesPattern(p, n), `${p} ~ ${n}`).toBe(domainMatchesPattern(p, n));
  });

  it('a read token may do nothing; a write token what its patterns cover; unprotect is the admin s', () => {
    const actions: ConsoleAction[] = [
      { kind: 'create', name: 'pr-9', parent: 'main' },
      { kind: 'create-from-snapshot', name: 'pr-9', snapshot: 'nightly' },
      { kind: 'reset', branch: 'pr-7' },
      { kind: 'delete', branch: 'pr-7' },
      { kind: 'protect', branch: 'pr-7' },
      { kind: 'set-ttl', branch: 'pr-7', ttl: '3d' },
      { kind: 'snapshot', branch: 'pr-7', name: 's' },
      { kind: 'delete-snapshot', snapshot: 's', branch: 'pr-7' },
    ];
    for (const a of actions) {
      expect(permits(token('read'), a), a.kind).toBe(false);
      expect(permits(token('write'), a), a.kind).toBe(true);
      expect(permits(token('write', ['pr-*']), a), a.kind).toBe(true);
      expect(permits(token('write', ['qa-*']), a), a.kind).toBe(false);
    }
    // The parent is only read: a pr-* token may branch off main, but not name a branch outside pr-*.
    expect(permits(token('write', ['pr-*']), { kind: 'create', name: 'pr-9', parent: 'main' })).toBe(true);
    expect(permits(token('write', ['pr-*']), { kind: 'create', name: 'main-2', parent: 'pr-7' })).toBe(false);
    expect(permits(token('write'), { kind: 'unprotect', branch: 'pr-7' })).toBe(false);
    expect(permits(token('admin'), { kind: 'unprotect', branch: 'pr-7' })).toBe(true);
    expect(permits(token('admin', ['qa-*']), { kind: 'unprotect', branch: 'pr-7' })).toBe(false);
  });

  it('offers only the verbs the branch state allows', () => {
    const admin = token('admin');
    expect(branchVerbs(admin, branch())).toEqual(['suspend', 'stop', 'reset', 'protect', 'delete']);
    expect(branchVerbs(admin, branch({ state: 'stopped' }))).toEqual(['start', 'reset', 'protect', 'delete']);
    expect(branchVerbs(admin, branch({ state: 'suspended' }))).toEqual(['start', 'stop', 'reset', 'protect', 'delete']);
    // Protected: no reset, no delete; a root has nothing to reset to, unless it came from a snapshot.
    expect(branchVerbs(admin, branch({ protected: true }))).toEqual(['suspend', 'stop', 'unprotect']);
    expect(applies(branch({ parent: null, source: { kind: 'empty' } }), 'reset')).toBe(false);
    expect(applies(branch({ parent: 'gone', parent_deleted: true }), 'reset')).toBe(false);
    expect(applies(branch({ parent: null, source: { kind: 'snapshot', snapshot: 'nightly' } }), 'reset')).toBe(true);
    expect(branchVerbs(token('read'), branch())).toEqual([]);
  });
});

describe('the equivalent CLI command', () => {
  it('is the command the CLI documents for each action', () => {
    expect(cliCommand({ kind: 'create', name: 'pr-7', parent: 'main' })).toBe('pgbranch branch create pr-7 --from main');
    expect(cliCommand({ kind: 'create', name: 'pr-7', parent: 'main', ttl: '3d' })).toBe('pgbranch branch create pr-7 --from main --ttl 3d');
    expect(cliCommand({ kind: 'create-from-snapshot', name: 'qa', snapshot: 'nightly' })).toBe('pgbranch branch create qa --from-snapshot nightly');
    for (const kind of ['reset', 'suspend', 'start', 'stop', 'delete', 'protect', 'unprotect'] as const) {
      expect(cliCommand({ kind, branch: 'feature/login' })).toBe(`pgbranch branch ${kind} feature/login`);
    }
    expect(cliCommand({ kind: 'set-ttl', branch: 'pr-7', ttl: 'none' })).toBe('pgbranch branch set pr-7 --ttl none');
    expect(cliCommand({ kind: 'snapshot', branch: 'pr-7', name: 'before' })).toBe('pgbranch snapshot create pr-7 before');
    expect(cliCommand({ kind: 'delete-snapshot', snapshot: 'before', branch: 'pr-7' })).toBe('pgbranch snapshot delete before');
  });

  it('names the diff the Changes panel shows: against the branch point by default, a named side first', () => {
    expect(diffCommand('pr-7', {})).toBe('pgbranch diff pr-7');
    expect(diffCommand('pr-7', { rows: true })).toBe('pgbranch diff pr-7 --schema --rows');
    expect(diffCommand('main', { against: 'snapshot:nightly' })).toBe('pgbranch diff snapshot:nightly main');
    expect(diffCommand('main', { against: "it's" })).toBe(`pgbranch diff 'it'\\''s' main`);
  });

  it('quotes what a shell would split or expand', () => {
    expect(shellWord('pr-7')).toBe('pr-7');
    expect(shellWord('a b')).toBe("'a b'");
    expect(shellWord("it's")).toBe(`'it'\\''s'`);
    expect(shellWord('$(rm -rf /)')).toBe("'$(rm -rf /)'");
  });

  it('reads durations as the CLI --ttl does (src/cli/parse.ts: digits and ms|s|m|h|d, positive)', () => {
    const valid: Record<string, number> = { '3d': 259_200_000, '12h': 43_200_000, '90m': 5_400_000, '45s': 45_000, '500ms': 500, ' 2d ': 172_800_000 };
    for (const [value, ms] of Object.entries(valid)) expect(parseTtl(value), value).toBe(ms);
    for (const value of ['0d', '3', 'd', '1.5h', '-1h', '3w', '', 'none']) expect(parseTtl(value), value).toBeUndefined();
  });
});
