import { describe, expect, it } from 'vitest';
import { encodeStartupMessage } from './protocol.js';
import { StartupReader, type StartupPacket } from './startup.js';
import { bytes, cancelRequest, gssEncRequest, splits, sslRequest, startupMessage } from './test-support/bytes.js';

function readAll(chunks: readonly Buffer[]): { packets: StartupPacket[]; rest: Buffer } {
  const reader = new StartupReader();
  const packets: StartupPacket[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let p = reader.next(); p; p = reader.next()) {
      packets.push(p);
      // The startup phase ends there (as in the server).
      if (p.type !== 'sslRequest' && p.type !== 'gssEncRequest') return { packets, rest: reader.takeBuffered() };
    }
  }
  return { packets, rest: reader.takeBuffered() };
}

const libpqStartup = startupMessage({ user: 'postgres.pr-1', database: 'app', application_name: 'psql', client_encoding: 'UTF8' });
const expectedStartup: StartupPacket = {
  type: 'startup',
  protocolVersion: 196608,
  parameters: [
    ['user', 'postgres.pr-1'],
    ['database', 'app'],
    ['application_name', 'psql'],
    ['client_encoding', 'UTF8'],
  ],
};

describe('StartupReader', () => {
  it('reads a StartupMessage with its parameters in order', () => {
    expect(readAll([libpqStartup]).packets).toEqual([expectedStartup]);
  });

  it('reads the same packet however it is split, down to one byte per read', () => {
    for (const chunks of splits(libpqStartup)) {
      expect(readAll(chunks).packets).toEqual([expectedStartup]);
    }
  });

  it('reads SSLRequest and StartupMessage coalesced in one read, split anywhere too', () => {
    const both = Buffer.concat([sslRequest(), libpqStartup]);
    expect(readAll([both]).packets).toEqual([{ type: 'sslRequest' }, expectedStartup]);
    for (const chunks of splits(both)) expect(readAll(chunks).packets).toEqual([{ type: 'sslRequest' }, expectedStartup]);
  });

  it('reads GSSENCRequest, then SSLRequest, then the StartupMessage (libpq with gssencmode=prefer)', () => {
    expect(readAll([gssEncRequest(), sslRequest(), libpqStartup]).packets.map((p) => p.type)).toEqual(['gssEncRequest', 'sslRequest', 'startup']);
  });

  it('reads a 3.0 CancelRequest (4-byte secret) and a 3.2 one (32 bytes)', () => {
    const short = Buffer.from([1, 2, 3, 4]);
    const long = Buffer.alloc(32, 7);
    for (const chunks of splits(cancelRequest(4242, short))) {
      expect(readAll(chunks).packets).toEqual([{ type: 'cancelRequest', key: { processId: 4242, secretKey: short } }]);
    }
    expect(readAll([cancelRequest(99, long)]).packets).toEqual([{ type: 'cancelRequest', key: { processId: 99, secretKey: long } }]);
  });

  it('accepts protocol 3.2 and passes the version on', () => {
    const [p] = readAll([startupMessage({ user: 'u.b' }, 196610)]).packets;
    expect(p).toEqual({ type: 'startup', protocolVersion: 196610, parameters: [['user', 'u.b']] });
  });

  it('keeps the bytes that follow the StartupMessage for the backend', () => {
    const extra = bytes().cstring('SCRAM-SHA-256').int32(-1).message('p');
    const { packets, rest } = readAll([Buffer.concat([libpqStartup, extra])]);
    expect(packets).toEqual([expectedStartup]);
    expect(rest).toEqual(extra);
  });

  it('recognises a TLS ClientHello at the very start (direct TLS) without consuming it', () => {
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    const { packets, rest } = readAll([hello]);
    expect(packets).toEqual([{ type: 'tlsClientHello' }]);
    expect(rest).toEqual(hello);
  });

  it('refuses bad lengths and layouts with 08P01, and unsupported protocols with 0A000', () => {
    const invalid = (data: Buffer): StartupPacket | undefined => readAll([data]).packets.at(-1);
    expect(invalid(bytes().int32(4).int32(196608).build())).toMatchObject({ type: 'invalid', code: '08P01', message: 'invalid length of startup packet' });
    expect(invalid(bytes().int32(10_001).int32(196608).build())).toMatchObject({ type: 'invalid', code: '08P01' });
    expect(invalid(bytes().int32(-5).build())).toMatchObject({ type: 'invalid', code: '08P01' });
    expect(invalid(bytes().int32(80877103).int32(0).packet())).toMatchObject({ code: '08P01', message: 'invalid length of SSL request packet' });
    expect(invalid(bytes().int32(80877102).int32(1).raw([1, 2]).packet())).toMatchObject({ code: '08P01', message: 'invalid length of query cancel packet' });
    expect(invalid(bytes().int32(80877102).int32(1).raw(Buffer.alloc(257)).packet())).toMatchObject({ code: '08P01' });
    // No list terminator, a name without value, an empty name before the end, nothing at all:
    expect(invalid(bytes().int32(196608).cstring('user').cstring('x').packet())).toMatchObject({ code: '08P01' });
    expect(invalid(bytes().int32(196608).cstring('user').byte(0).packet())).toMatchObject({ code: '08P01' });
    expect(invalid(bytes().int32(196608).byte(0).cstring('user').cstring('x').byte(0).packet())).toMatchObject({ code: '08P01' });
    expect(invalid(bytes().int32(196608).packet())).toMatchObject({ code: '08P01' });
    expect(invalid(bytes().int32(0x00020000).cstring('user').cstring('x').byte(0).packet())).toMatchObject({
      type: 'invalid',
      code: '0A000',
      message: 'unsupported frontend protocol 2.0: server supports 3.0 to 3.2',
    });
  });

  it('waits for more bytes on an incomplete packet and stays failed after an invalid one', () => {
    const reader = new StartupReader();
    reader.push(libpqStartup.subarray(0, 3));
    expect(reader.next()).toBeUndefined();
    reader.push(libpqStartup.subarray(3, 20));
    expect(reader.next()).toBeUndefined();
    const bad = new StartupReader();
    bad.push(bytes().int32(3).build());
    expect(bad.next()).toMatchObject({ type: 'invalid' });
    bad.push(libpqStartup);
    expect(bad.next()).toMatchObject({ type: 'invalid' });
  });

  it('round-trips with the encoder the endpoint sends to the backend', () => {
    const params = [['user', 'postgres'], ['database', 'app'], ['options', '-c search_path=a,b'], ['_pq_.x', 'é']] as const;
    expect(readAll([encodeStartupMessage(196610, params)]).packets).toEqual([{ type: 'startup', protocolVersion: 196610, parameters: params }]);
    expect(encodeStartupMessage(196608, [['user', 'postgres']])).toEqual(startupMessage({ user: 'postgres' }));
  });
});
