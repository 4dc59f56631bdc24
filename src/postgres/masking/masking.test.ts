import { describe, expect, it } from 'vitest';
import { classifyValue, isCardNumber, isIban, isIp, isPhone, isUsSsn, matchName, normalizeName } from './pii-patterns.js';
import { crc32cUpdate, parseControlFile, walFileName, segmentOfFileName } from './wal-files.js';
import { formatJsonPath, jsonPathCovers } from './detect.js';
import { hmacPads } from './sql-functions.js';
import { createHash, createHmac } from 'node:crypto';

describe('personal names', () => {
  it('normalizes names of every case style', () => {
    expect(normalizeName('dateOfBirth')).toBe('date_of_birth');
    expect(normalizeName('E-Mail Address')).toBe('e_mail_address');
    expect(normalizeName('Straße')).toBe('strasse');
    expect(normalizeName('HTTPRemoteAddr')).toBe('http_remote_addr');
    expect(normalizeName('prénom')).toBe('prenom');
  });

  it('flags personal names in several languages, for types that can hold the data', () => {
    const kind = (column: string, cls: Parameters<typeof matchName>[1] = 'string', table?: string) => matchName(column, cls, table)?.kind;
    expect(kind('email')).toBe('email');
    expect(kind('customerEmail')).toBe('email');
    expect(kind('courriel')).toBe('email');
    expect(kind('alt_emails')).toBe('email');
    expect(kind('phone_number')).toBe('phone');
    expect(kind('mobile')).toBe('phone');
    expect(kind('telefono')).toBe('phone');
    expect(kind('msisdn', 'integer')).toBe('phone');
    expect(kind('first_name')).toBe('name');
    expect(kind('Vorname')).toBe('name');
    expect(kind('apellidos')).toBe('name');
    expect(kind('date_of_birth', 'date')).toBe('birth');
    expect(kind('birth_date', 'date')).toBe('birth');
    expect(kind('geburtsdatum', 'date')).toBe('birth');
    expect(kind('ssn')).toBe('national_id');
    expect(kind('passport_no')).toBe('national_id');
    expect(kind('iban')).toBe('iban');
    expect(kind('card_number', 'numeric')).toBe('card');
    expect(kind('ip_address', 'inet')).toBe('ip');
    expect(kind('street_address')).toBe('address');
    expect(kind('postal_code')).toBe('address');
    expect(kind('username')).toBe('username');
    expect(kind('password_hash')).toBe('secret');
    expect(kind('name', 'string', 'customers')).toBe('name');
    expect(kind('name', 'string', 'app_users')).toBe('name');
  });

  it('leaves names about the data, other types and non-person names alone', () => {
    for (const [column, cls, table] of [
      ['email_verified', 'boolean'],
      ['email_status', 'string'],
      ['address_id', 'integer'],
      ['phone_type', 'string'],
      ['birth_date', 'integer'],
      ['created_at', 'timestamp'],
      ['name', 'string', 'products'],
      ['product_name', 'string'],
      ['hotel', 'string'],
      ['is_mobile', 'boolean'],
      ['email', 'integer'],
    ] as const) {
      expect(matchName(column, cls, table), `${column} (${cls})`).toBeUndefined();
    }
  });
});

describe('personal content', () => {
  it('recognizes card numbers by Luhn and issuer, IBANs by checksum, SSNs, phones and IPs', () => {
    expect(isCardNumber('4111 1111 1111 1111')).toBe(true);
    expect(isCardNumber('4111111111111112')).toBe(false);
    expect(isCardNumber('1234567812345670')).toBe(false); // passes Luhn, no issuer starts with 1
    expect(isIban('GB82 WEST 1234 5698 7654 32')).toBe(true);
    expect(isIban('GB82WEST12345698765433')).toBe(false);
    expect(isUsSsn('123-45-6789')).toBe(true);
    expect(isUsSsn('666-45-6789')).toBe(false);
    expect(isUsSsn('123-00-6789')).toBe(false);
    expect(isPhone('+33 6 12 34 56 78')).toBe(true);
    expect(isPhone('(415) 555-0132')).toBe(true);
    expect(isPhone('2024-01-15')).toBe(false);
    expect(isPhone('123-45-6789')).toBe(false);
    expect(isPhone('12345678')).toBe(false);
    expect(isIp('192.168.1.20')).toBe(true);
    expect(isIp('300.1.1.1')).toBe(false);
    expect(isIp('2001:db8::1')).toBe(true);
    expect(isIp('12:30:00')).toBe(false);
  });

  it('finds personal data embedded in free text', () => {
    expect([...classifyValue('Call me at +44 20 7946 0958 or write to jane.doe@example.org')].sort()).toEqual(['email', 'phone']);
    expect([...classifyValue('paid with 4111-1111-1111-1111 yesterday')]).toEqual(['card']);
    expect([...classifyValue('IBAN DE89 3704 0044 0532 0130 00 for the refund')]).toEqual(['iban']);
    expect([...classifyValue('order 123456 shipped on 2024-01-05')]).toEqual([]);
  });
});

describe('json paths', () => {
  it('formats and matches paths with wildcards and prefixes', () => {
    expect(formatJsonPath(['items', '*', 'email'])).toBe('items[*].email');
    expect(formatJsonPath(['*', 'email'])).toBe('[*].email');
    expect(jsonPathCovers(['contact'], ['contact', 'email'])).toBe(true);
    expect(jsonPathCovers(['items', '*', 'email'], ['items', '*', 'email'])).toBe(true);
    expect(jsonPathCovers(['addresses', '*', 'zip'], ['addresses', 'home', 'zip'])).toBe(true);
    expect(jsonPathCovers(['contact', 'email'], ['contact'])).toBe(false);
    expect(jsonPathCovers(['contact', 'email'], ['contact', 'phone'])).toBe(false);
  });
});

describe('WAL and pg_control formats', () => {
  it('computes CRC-32C (Castagnoli)', () => {
    expect((crc32cUpdate(0xffffffff, Buffer.from('123456789')) ^ 0xffffffff) >>> 0).toBe(0xe3069283);
  });

  it('names WAL segments as PostgreSQL does', () => {
    const seg = 16 * 1024 * 1024;
    expect(walFileName(1, 0x1an, seg)).toBe('00000001000000000000001A');
    expect(walFileName(3, 0x100n + 5n, seg)).toBe('000000030000000100000005');
    expect(segmentOfFileName('000000030000000100000005', seg)).toBe(0x105n);
  });

  it('reads the fields it needs from pg_control', () => {
    const buf = Buffer.alloc(8192);
    buf.writeBigUInt64LE(7_000_000_000_000_000_001n, 0);
    buf.writeUInt32LE(1800, 8);
    buf.writeUInt32LE(1, 16);
    buf.writeBigUInt64LE(0x3000028n, 32);
    buf.writeBigUInt64LE(0x3000028n, 40);
    buf.writeUInt32LE(2, 48);
    expect(parseControlFile(buf)).toEqual({ systemIdentifier: 7_000_000_000_000_000_001n, controlVersion: 1800, state: 1, checkPoint: 0x3000028n, redo: 0x3000028n, timeline: 2 });
  });
});

describe('the keyed hash', () => {
  it('derives HMAC pads that reproduce HMAC-SHA256, and refuses short keys', () => {
    const { ipad, opad } = hmacPads('a-masking-key-of-some-length');
    const inner = createHash('sha256').update(Buffer.concat([Buffer.from(ipad, 'hex'), Buffer.from('value')])).digest();
    const outer = createHash('sha256').update(Buffer.concat([Buffer.from(opad, 'hex'), inner])).digest('hex');
    expect(outer).toBe(createHmac('sha256', 'a-masking-key-of-some-length').update('value').digest('hex'));
    const long = 'k'.repeat(100);
    const p = hmacPads(long);
    const i2 = createHash('sha256').update(Buffer.concat([Buffer.from(p.ipad, 'hex'), Buffer.from('v')])).digest();
    expect(createHash('sha256').update(Buffer.concat([Buffer.from(p.opad, 'hex'), i2])).digest('hex')).toBe(createHmac('sha256', long).update('v').digest('hex'));
    expect(() => hmacPads('short')).toThrow(/at least 16 bytes/);
  });
});
