import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Secrets at rest in state.db (branch passwords, the new password of a rotation in flight):
 * AES-256-GCM with a key kept outside the database, so that a copy of state.db alone reveals
 * none. A value written before this existed is plain text and is read as it is (then sealed).
 */
const PREFIX = 'enc:v1:';
export const STATE_KEY_BYTES = 32;

export function isSealed(text: string): boolean {
  return text.startsWith(PREFIX);
}

export function sealText(key: Buffer, text: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return `${PREFIX}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

export function openText(key: Buffer | undefined, text: string): string {
  if (!isSealed(text)) return text;
  if (!key) throw new Error('state.db holds sealed secrets but no key was given to read them');
  const raw = Buffer.from(text.slice(PREFIX.length), 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
