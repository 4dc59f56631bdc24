import { connect as netConnect } from 'node:net';

/**
 * What an instance answers a connection attempt with, without opening a session: the startup
 * packet is sent over TCP and the connection closed at the first answer. An authentication
 * request means the server accepts connections (a client that leaves at that point is not logged
 * and does not count as a session, exactly like `pg_isready`); an error answer says why not
 * ("the database system is in recovery mode", "… is starting up", "… is shutting down").
 */
export type PingResult =
  | { readonly kind: 'accepting' }
  | { readonly kind: 'rejecting'; readonly sqlstate: string; readonly message: string }
  | { readonly kind: 'unreachable'; readonly reason: string };

export interface PingOptions {
  readonly host?: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly timeoutMs?: number;
}

const PROTOCOL_3_0 = 196608;

function startupPacket(user: string, database: string): Buffer {
  const body = Buffer.concat([Buffer.from(`user\0${user}\0database\0${database}\0application_name\0pgbranch-health\0\0`, 'utf8')]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(PROTOCOL_3_0, 4);
  return Buffer.concat([head, body]);
}

/** Fields of an ErrorResponse body (code byte, then a C string, until a zero byte). */
function errorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const code = String.fromCharCode(body[i]!);
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    fields.set(code, body.toString('utf8', i + 1, end));
    i = end + 1;
  }
  return fields;
}

export function pingInstance(options: PingOptions): Promise<PingResult> {
  const timeoutMs = options.timeoutMs ?? 3_000;
  return new Promise((resolve) => {
    let done = false;
    let buffered = Buffer.alloc(0);
    const socket = netConnect({ host: options.host ?? '127.0.0.1', port: options.port });
    const finish = (result: PingResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ kind: 'unreachable', reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on('connect', () => socket.write(startupPacket(options.user, options.database)));
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'unreachable', reason: err.code === 'ECONNREFUSED' ? 'connection refused' : err.message }));
    socket.on('close', () => finish({ kind: 'unreachable', reason: 'connection closed without an answer' }));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 5) return;
      const type = String.fromCharCode(buffered[0]!);
      // R (Authentication*): the server got as far as authenticating us, so it accepts connections.
      if (type === 'R') return finish({ kind: 'accepting' });
      if (type === 'E') {
        const length = buffered.readInt32BE(1);
        if (buffered.length < 1 + length) return;
        const fields = errorFields(buffered.subarray(5, 1 + length));
        return finish({ kind: 'rejecting', sqlstate: fields.get('C') ?? '', message: fields.get('M') ?? 'error without a message' });
      }
      // N (NoticeResponse) or anything else before authentication: it answers, so it is up.
      finish({ kind: 'accepting' });
    });
  });
}
