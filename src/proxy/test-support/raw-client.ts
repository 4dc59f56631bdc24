import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { bytes, cancelRequest, startupMessage } from './bytes.js';

/**
 * A minimal wire-protocol client for what no installed driver does: protocol 3.2 (PostgreSQL
 * 18's variable-length cancel keys). SCRAM-SHA-256 without channel binding, simple queries.
 */
export interface RawMessage {
  readonly type: string;
  readonly body: Buffer;
}

export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private ended = false;
  backendKey: { processId: number; secretKey: Buffer } | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  /** Startup + SCRAM login; returns every message up to the first ReadyForQuery. */
  async login(options: { user: string; database: string; password: string; protocolVersion: number }): Promise<RawMessage[]> {
    this.socket.write(startupMessage({ user: options.user, database: options.database }, options.protocolVersion));
    const seen: RawMessage[] = [];
    const nonce = randomBytes(18).toString('base64');
    const clientFirstBare = `n=*,r=${nonce}`;
    let authMessage = '';
    let saltedPassword = Buffer.alloc(0);
    for (;;) {
      const msg = await this.next();
      seen.push(msg);
      if (msg.type === 'E') throw new Error(`server error: ${errorText(msg.body)}`);
      if (msg.type === 'K') this.backendKey = { processId: msg.body.readInt32BE(0), secretKey: Buffer.from(msg.body.subarray(4)) };
      if (msg.type === 'Z') return seen;
      if (msg.type !== 'R') continue;
      const kind = msg.body.readInt32BE(0);
      if (kind === 10) {
        const initial = Buffer.from(`n,,${clientFirstBare}`);
        this.socket.write(bytes().cstring('SCRAM-SHA-256').int32(initial.length).raw(initial).message('p'));
      } else if (kind === 11) {
        const serverFirst = msg.body.subarray(4).toString();
        const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
        saltedPassword = pbkdf2Sync(options.password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 32, 'sha256');
        const withoutProof = `c=biws,r=${attrs.r}`;
        authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
        const clientKey = createHmac('sha256', saltedPassword).update('Client Key').digest();
        const signature = createHmac('sha256', createHash('sha256').update(clientKey).digest()).update(authMessage).digest();
        const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
        this.socket.write(bytes().raw(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)).message('p'));
      } else if (kind === 12) {
        const serverKey = createHmac('sha256', saltedPassword).update('Server Key').digest();
        const expected = createHmac('sha256', serverKey).update(authMessage).digest('base64');
        if (msg.body.subarray(4).toString() !== `v=${expected}`) throw new Error('server signature mismatch');
      } else if (kind !== 0) {
        throw new Error(`unexpected authentication request ${kind}`);
      }
    }
  }

  /** Sends a simple query; resolves with the messages up to ReadyForQuery. */
  async query(text: string): Promise<RawMessage[]> {
    this.socket.write(bytes().cstring(text).message('Q'));
    const seen: RawMessage[] = [];
    for (;;) {
      const msg = await this.next();
      seen.push(msg);
      if (msg.type === 'Z') return seen;
    }
  }

  close(): void {
    this.socket.end(bytes().message('X'));
  }

  private async next(): Promise<RawMessage> {
    for (;;) {
      if (this.buffer.length >= 5) {
        const length = this.buffer.readInt32BE(1);
        if (this.buffer.length >= 1 + length) {
          const msg = { type: String.fromCharCode(this.buffer[0]!), body: Buffer.from(this.buffer.subarray(5, 1 + length)) };
          this.buffer = this.buffer.subarray(1 + length);
          return msg;
        }
      }
      if (this.ended) throw new Error('connection closed');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Sends a CancelRequest with `key` on a new connection and waits until the server hangs up. */
export async function sendRawCancel(port: number, key: { processId: number; secretKey: Buffer }): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.on('connect', () => socket.write(cancelRequest(key.processId, key.secretKey)));
    socket.on('data', () => undefined);
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

/** The SQLSTATE and message of an ErrorResponse body. */
export function errorText(body: Buffer): string {
  const fields: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length && body[pos] !== 0) {
    const end = body.indexOf(0, pos + 1);
    fields[String.fromCharCode(body[pos]!)] = body.toString('utf8', pos + 1, end);
    pos = end + 1;
  }
  return `${fields.C}: ${fields.M}`;
}
