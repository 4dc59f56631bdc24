import { describe, expect, it } from 'vitest';
import { isPgbranchError } from '../../errors.js';
import { describeSource, parseReplicationSource, scrubPassword } from './source.js';

describe('parseReplicationSource', () => {
  it('reads host, port, user, password and TLS settings', () => {
    const s = parseReplicationSource('postgres://rep%40l:p%3Ass@db.example.com:6543/app?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x&connect_timeout=5');
    expect(s).toEqual({
      host: 'db.example.com',
      port: 6543,
      user: 'rep@l',
      password: 'p:ss',
      sslmode: 'verify-full',
      sslrootcert: '/etc/ca.pem',
      applicationName: 'x',
      connectTimeoutMs: 5000,
    });
  });

  it('defaults like libpq and accepts IPv6 and socket directories', () => {
    expect(parseReplicationSource('postgresql://u@[::1]/db')).toEqual({ host: '::1', port: 5432, user: 'u', sslmode: 'prefer' });
    expect(parseReplicationSource('postgres:///db?host=/run/postgresql&port=5433&user=u')).toMatchObject({ host: '/run/postgresql', port: 5433 });
    expect(describeSource(parseReplicationSource('postgresql://u:pw@[::1]:5/db'))).toBe('u@[::1]:5');
  });

  it('refuses bad input without echoing the password', () => {
    for (const url of ['postgres://u:hunter2@h:99999/db', 'mysql://u:hunter2@h/db', 'postgres://:hunter2@h/db', 'postgres://u:hunter2@h/db?sslmode=sometimes']) {
      const err = (() => {
        try {
          parseReplicationSource(url);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(isPgbranchError(err, 'INVALID_ARGUMENT')).toBe(true);
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('scrubs the password and its URL encoding from text', () => {
    const s = parseReplicationSource('postgres://u:a%2Fb@h/db');
    expect(scrubPassword('x a/b y a%2Fb', s)).toBe('x **** y ****');
  });
});
