import { describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { redactUrl, scrubSecret } from './redact-url.js';
import { splitSourceUrl, versionCheckUrl } from './copy-from-url.js';

describe('redactUrl', () => {
  it('masks the password and keeps everything else', () => {
    expect(redactUrl('postgres://app:hunter2@db.example.com:5433/prod?sslmode=require')).toBe(
      'postgres://app:****@db.example.com:5433/prod?sslmode=require',
    );
  });

  it('masks URL-encoded passwords and password= parameters', () => {
    const out = redactUrl('postgresql://u:p%40ss%3Aw0rd@h/db?password=other&application_name=x');
    expect(out).not.toContain('p%40ss');
    expect(out).not.toContain('other');
    expect(out).toContain('application_name=x');
  });

  it('leaves URLs without a password unchanged', () => {
    expect(redactUrl('postgres://app@localhost/db')).toBe('postgres://app@localhost/db');
  });

  it('masks something that looks like a password even in an unparsable URL', () => {
    expect(redactUrl('postgres://u:sec ret@ho st/db')).not.toContain('sec ret');
  });

  it('scrubs a secret and its URL-encoded form from text', () => {
    expect(scrubSecret('auth failed for p@ss and p%40ss', 'p@ss')).toBe('auth failed for **** and ****');
    expect(scrubSecret('nothing', undefined)).toBe('nothing');
  });
});

describe('splitSourceUrl', () => {
  it('takes the password out of the URL for PGPASSWORD', () => {
    expect(splitSourceUrl('postgres://app:p%40ss@db:5432/prod?sslmode=require')).toEqual({
      url: 'postgres://app@db:5432/prod?sslmode=require',
      password: 'p@ss',
    });
    expect(splitSourceUrl('postgresql://app@db/prod?password=x').password).toBe('x');
    expect(splitSourceUrl('postgresql://app@db/prod?password=x').url).not.toContain('password');
  });

  it('never puts the password in an error cause either', () => {
    let err: unknown;
    try {
      splitSourceUrl('postgres://u:topsecret@[bad/db');
    } catch (e) {
      err = e;
    }
    {
      expect(isPgbranchError(err, 'INVALID_ARGUMENT')).toBe(true);
      expect(JSON.stringify(err, ['message', 'cause', 'input'])).not.toContain('topsecret');
      expect(String((err as Error).cause)).not.toContain('topsecret');
    }
  });

  it('gives node-postgres libpq sslmode semantics for the version check', () => {
    expect(versionCheckUrl('postgres://u@h/db?sslmode=require')).toBe('postgres://u@h/db?sslmode=require&uselibpqcompat=true');
    expect(versionCheckUrl('postgres://u@h/db', 'require')).toBe('postgres://u@h/db?uselibpqcompat=true&sslmode=require');
  });

  it('rejects other schemes without echoing the password', () => {
    expect(() => splitSourceUrl('mysql://u:topsecret@h/db')).toThrowError(/postgres:\/\//);
    try {
      splitSourceUrl('mysql://u:topsecret@h/db');
    } catch (err) {
      expect((err as Error).message).not.toContain('topsecret');
    }
  });
});
