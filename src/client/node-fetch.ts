import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The part of a fetch Response the API client reads. */
export interface HttpAnswer {
  readonly ok: boolean;
  readonly status: number;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

export interface HttpCall {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

export type HttpTransport = (url: string, call: HttpCall) => Promise<HttpAnswer>;

/**
 * One request over node:http(s). The global fetch would do, but its first use loads undici,
 * 40–50 ms of a CLI call that lasts about 100; node:http is already in memory.
 */
export const nodeTransport: HttpTransport = (url, call) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const body = call.body === undefined ? undefined : Buffer.from(call.body, 'utf8');
    const headers = body === undefined ? call.headers : { ...call.headers, 'content-length': String(body.length) };
    const req = send(target, { method: call.method, headers, signal: call.signal }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, text: async () => text, json: async () => JSON.parse(text) as unknown });
      });
    });
    // An abort (AbortSignal.timeout) fails with the signal's reason, as fetch does (a TimeoutError).
    req.on('error', (err) => reject(call.signal?.aborted ? call.signal.reason : err));
    req.end(body);
  });

/** A fetch given by the caller (tests, custom agents), as a transport. */
export function fetchTransport(fetchImpl: typeof fetch): HttpTransport {
  return (url, call) => fetchImpl(url, call);
}
