import { describe, expect, it } from 'vitest';
import { encodeBackendKeyData, encodeCancelRequest, encodeErrorResponse } from './protocol.js';
import { bytes, cancelRequest } from './test-support/bytes.js';

describe('ErrorResponse', () => {
  it('encodes S, V, C, M (and D, H when given) fields like the server', () => {
    const encoded = encodeErrorResponse({ code: '3D000', message: 'branch "x" does not exist', hint: 'list them' });
    const expected = bytes()
      .char('S').cstring('FATAL')
      .char('V').cstring('FATAL')
      .char('C').cstring('3D000')
      .char('M').cstring('branch "x" does not exist')
      .char('H').cstring('list them')
      .byte(0)
      .message('E');
    expect(encoded).toEqual(expected);
  });

  it('drops NUL bytes from the text instead of ending the field early', () => {
    const encoded = encodeErrorResponse({ severity: 'ERROR', code: '08P01', message: 'a\0b', detail: 'd' });
    expect(encoded).toEqual(bytes().char('S').cstring('ERROR').char('V').cstring('ERROR').char('C').cstring('08P01').char('M').cstring('ab').char('D').cstring('d').byte(0).message('E'));
  });

  it('is read back by node-postgres\'s own parser as a DatabaseError with the SQLSTATE', async () => {
    const { parse } = await import('pg-protocol');
    const { PassThrough } = await import('node:stream');
    const stream = new PassThrough();
    const messages: unknown[] = [];
    const done = parse(stream, (msg) => messages.push(msg));
    stream.end(encodeErrorResponse({ code: '57P03', message: 'branch "b" is stopped', hint: 'start it' }));
    await done;
    expect(messages).toMatchObject([{ name: 'error', severity: 'FATAL', code: '57P03', message: 'branch "b" is stopped', hint: 'start it' }]);
  });
});

describe('keys', () => {
  it('encodes CancelRequest and BackendKeyData with the secret length in the length word', () => {
    const secret = Buffer.alloc(32, 9);
    expect(encodeCancelRequest({ processId: 77, secretKey: secret })).toEqual(cancelRequest(77, secret));
    expect(encodeBackendKeyData({ processId: 77, secretKey: Buffer.from([1, 2, 3, 4]) })).toEqual(bytes().int32(77).raw([1, 2, 3, 4]).message('K'));
  });
});
