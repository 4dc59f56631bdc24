/**
 * Byte builder for protocol fixtures (like pg-protocol's testing BufferList): tests write the
 * bytes a peer would send field by field, independently of the encoders under test.
 */
export class Bytes {
  private readonly parts: Buffer[] = [];

  int32(value: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(value);
    this.parts.push(b);
    return this;
  }

  byte(value: number): this {
    this.parts.push(Buffer.from([value]));
    return this;
  }

  char(c: string): this {
    return this.byte(c.charCodeAt(0));
  }

  cstring(s: string): this {
    this.parts.push(Buffer.from(`${s}\0`, 'utf8'));
    return this;
  }

  raw(b: Buffer | readonly number[]): this {
    this.parts.push(Buffer.from(b));
    return this;
  }

  /** The bytes as they are. */
  build(): Buffer {
    return Buffer.concat(this.parts);
  }

  /** Untyped startup-phase packet: int32 length (including itself) first. */
  packet(): Buffer {
    const body = this.build();
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(body.length + 4);
    return Buffer.concat([length, body]);
  }

  /** Typed message: type byte, then int32 length (including itself, not the type). */
  message(type: string): Buffer {
    const body = this.build();
    const header = Buffer.allocUnsafe(5);
    header[0] = type.charCodeAt(0);
    header.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([header, body]);
  }
}

export const bytes = (): Bytes => new Bytes();

export const sslRequest = (): Buffer => bytes().int32(80877103).packet();
export const gssEncRequest = (): Buffer => bytes().int32(80877104).packet();
export const cancelRequest = (processId: number, secret: Buffer): Buffer => bytes().int32(80877102).int32(processId).raw(secret).packet();

export function startupMessage(parameters: Record<string, string>, version = 196608): Buffer {
  const b = bytes().int32(version);
  for (const [name, value] of Object.entries(parameters)) b.cstring(name).cstring(value);
  return b.byte(0).packet();
}

/** Every way of cutting `data` in two, plus byte by byte. */
export function splits(data: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 1; i < data.length; i++) out.push([data.subarray(0, i), data.subarray(i)]);
  out.push([...data].map((b) => Buffer.from([b])));
  return out;
}
