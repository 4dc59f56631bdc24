import { describe, expect, it } from 'vitest';
import { endpointUser } from '../branches/index.js';
import { branchFromServerName, resolveRoute, rewriteStartupParameters, splitEndpointUser, type Route } from './routing.js';

const route = (user: string | undefined, serverName?: string, publicHost = 'db.example.com') => resolveRoute({ user, serverName, publicHost });

describe('routing by user name', () => {
  it('splits <role>.<branch> at the first dot, so branch names keep their dots and slashes', () => {
    expect(route('postgres.pr-1')).toEqual({ ok: true, route: { role: 'postgres', branch: 'pr-1', via: 'user' } });
    expect(route('postgres.feature/x.y')).toEqual({ ok: true, route: { role: 'postgres', branch: 'feature/x.y', via: 'user' } });
    expect(route('app_rw.v1.2_rc')).toEqual({ ok: true, route: { role: 'app_rw', branch: 'v1.2_rc', via: 'user' } });
  });

  it('is the inverse of the domain\'s endpointUser', () => {
    for (const [role, branch] of [['postgres', 'main'], ['x', 'feature/login'], ['r', 'a.b.c']] as const) {
      expect(splitEndpointUser(endpointUser(role, branch))).toEqual({ role, branch });
    }
  });

  it('refuses a user name without a branch with 28000 and says how to route', () => {
    const r = route('postgres');
    expect(r).toMatchObject({ ok: false, error: { code: '28000', message: 'no branch in user name "postgres"' } });
    expect(!r.ok && r.error.hint).toContain('postgres.main');
    expect(!r.ok && r.error.hint).toContain('<branch>.db.example.com');
    expect(route('.pr-1')).toMatchObject({ ok: false, error: { code: '28000' } });
    expect(route('postgres.')).toMatchObject({ ok: false, error: { code: '28000' } });
    expect(route(undefined)).toMatchObject({ ok: false, error: { code: '28000', message: 'no PostgreSQL user name specified in startup packet' } });
  });
});

describe('routing by TLS server name (SNI)', () => {
  it('takes the branch from <branch>.<publicHost>, case-insensitively, and the user as the bare role', () => {
    expect(route('postgres', 'pr-1.db.example.com')).toEqual({ ok: true, route: { role: 'postgres', branch: 'pr-1', via: 'sni' } });
    expect(route('postgres', 'PR-1.DB.Example.com.')).toEqual({ ok: true, route: { role: 'postgres', branch: 'pr-1', via: 'sni' } });
    expect(branchFromServerName('pr-1.localhost', 'localhost')).toBe('pr-1');
  });

  it('wins over the user name; a user name <role>.<same branch> is accepted as is', () => {
    expect(route('postgres.pr-1', 'pr-1.db.example.com')).toEqual({ ok: true, route: { role: 'postgres', branch: 'pr-1', via: 'sni' } });
    // With SNI a role may contain dots.
    expect(route('svc.reader', 'pr-1.db.example.com')).toEqual({ ok: true, route: { role: 'svc.reader', branch: 'pr-1', via: 'sni' } });
  });

  it('ignores server names outside the public host, the public host itself and IP-less absence', () => {
    expect(branchFromServerName('db.example.com', 'db.example.com')).toBeUndefined();
    expect(branchFromServerName('pr-1.other.com', 'db.example.com')).toBeUndefined();
    expect(branchFromServerName('xdb.example.com', 'db.example.com')).toBeUndefined();
    expect(branchFromServerName(undefined, 'db.example.com')).toBeUndefined();
    expect(route('postgres.pr-2', 'pr-1.other.com')).toEqual({ ok: true, route: { role: 'postgres', branch: 'pr-2', via: 'user' } });
  });
});

describe('rewriting the startup parameters', () => {
  const viaUser: Route = { role: 'postgres', branch: 'pr-1', via: 'user' };

  it('replaces user with the bare role and keeps everything else, in order', () => {
    const params = [['user', 'postgres.pr-1'], ['database', 'app'], ['options', '-c work_mem=64MB'], ['application_name', 'x']] as const;
    expect(rewriteStartupParameters(params, viaUser)).toEqual([['user', 'postgres'], ['database', 'app'], ['options', '-c work_mem=64MB'], ['application_name', 'x']]);
  });

  it('maps libpq\'s default database (= the user name as sent) to the bare role', () => {
    expect(rewriteStartupParameters([['user', 'postgres.pr-1'], ['database', 'postgres.pr-1']], viaUser)).toEqual([['user', 'postgres'], ['database', 'postgres']]);
    expect(rewriteStartupParameters([['database', 'postgres.pr-1'], ['user', 'postgres.pr-1']], viaUser)).toEqual([['database', 'postgres'], ['user', 'postgres']]);
    expect(rewriteStartupParameters([['user', 'postgres.pr-1']], viaUser)).toEqual([['user', 'postgres']]);
    const viaSni: Route = { role: 'postgres', branch: 'pr-1', via: 'sni' };
    expect(rewriteStartupParameters([['user', 'postgres'], ['database', 'postgres']], viaSni)).toEqual([['user', 'postgres'], ['database', 'postgres']]);
  });
});
