import { describe, expect, it } from 'vitest';
import {
  encodeQuery,
  encodeStartup,
  MessageSplitter,
  MSG_DATA_ROW,
  MSG_ERROR_RESPONSE,
  MSG_READY_FOR_QUERY,
  parseDataRow,
  parseErrorFields,
  PROTOCOL_3_0,
  ProtocolError,
} from './wire.js';

/** A backend message built byte by byte, like the server would send it. */
function message(type: string, ...parts: (Buffer | string | number[])[]): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const int16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const int32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

const errorResponse = message('E', 'SFATAL\0', 'VFATAL\0', 'C28P01\0', 'Mpassword authentication failed for user "repl"\0', 'Hcheck it\0', [0]);
const dataRow = message('D', int16(3), int32(2), '16', int32(-1), int32(0));
const ready = message('Z', 'I');

describe('MessageSplitter', () => {
  it('reassembles messages fed one byte at a time', () => {
    const stream = Buffer.concat([errorResponse, dataRow, ready]);
    const splitter = new MessageSplitter();
    const out = [];
    for (const byte of stream) out.push(...splitter.push(Buffer.from([byte])));
    expect(out.map((m) => m.type)).toEqual([MSG_ERROR_RESPONSE, MSG_DATA_ROW, MSG_READY_FOR_QUERY]);
    expect(splitter.buffered).toBe(0);
  });

  it('splits several messages in one chunk and keeps a partial tail', () => {
    const stream = Buffer.concat([dataRow, ready, errorResponse.subarray(0, 7)]);
    const splitter = new MessageSplitter();
    expect(splitter.push(stream).map((m) => String.fromCharCode(m.type))).toEqual(['D', 'Z']);
    expect(splitter.buffered).toBe(7);
    expect(splitter.push(errorResponse.subarray(7)).map((m) => String.fromCharCode(m.type))).toEqual(['E']);
  });

  it('refuses an impossible length', () => {
    const bad = Buffer.from([0x44, 0, 0, 0, 2]);
    expect(() => new MessageSplitter().push(bad)).toThrow(ProtocolError);
  });
});

describe('message parsing', () => {
  it('reads ErrorResponse fields with the non-localised severity', () => {
    const [msg] = new MessageSplitter().push(errorResponse);
    expect(parseErrorFields(msg!.body)).toEqual({
      severity: 'FATAL',
      sqlstate: '28P01',
      message: 'password authentication failed for user "repl"',
      hint: 'check it',
    });
  });

  it('reads DataRow values with NULL and empty strings apart', () => {
    const [msg] = new MessageSplitter().push(dataRow);
    const values = parseDataRow(msg!.body);
    expect(values.map((v) => (v === null ? null : v.toString()))).toEqual(['16', null, '']);
  });
});

describe('frontend messages', () => {
  it('encodes a StartupMessage for a replication connection', () => {
    const buf = encodeStartup({ user: 'repl', replication: 'true' });
    expect(buf.readInt32BE(0)).toBe(buf.length);
    expect(buf.readInt32BE(4)).toBe(PROTOCOL_3_0);
    expect(buf.subarray(8).toString('latin1')).toBe('user\0repl\0replication\0true\0\0');
  });

  it('encodes a Query with its terminating NUL', () => {
    const buf = encodeQuery('IDENTIFY_SYSTEM');
    expect(buf.toString('latin1', 0, 1)).toBe('Q');
    expect(buf.readInt32BE(1)).toBe(4 + 'IDENTIFY_SYSTEM'.length + 1);
    expect(buf.at(-1)).toBe(0);
  });
});

describe('MessageSplitter with large messages', () => {
  it('joins a 1 MiB CopyData sent in 64 KiB pieces, with the next message glued to its end', () => {
    const payload = Buffer.alloc(1024 * 1024, 7);
    const stream = Buffer.concat([message('d', payload), ready]);
    const splitter = new MessageSplitter();
    const out = [];
    for (let i = 0; i < stream.length; i += 65536) out.push(...splitter.push(stream.subarray(i, i + 65536)));
    expect(out.map((m) => String.fromCharCode(m.type))).toEqual(['d', 'Z']);
    expect(out[0]!.body.equals(payload)).toBe(true);
  });
});
