import { randomBytes } from 'node:crypto';

/** Identifiers and secrets pgbranch makes up: never reused, never derived from names. */

export function newBranchId(): string {
  return `br-${randomBytes(5).toString('hex')}`;
}

export function newSnapshotId(): string {
  return `sn-${randomBytes(5).toString('hex')}`;
}

/** 144 bits, URL-safe alphabet: needs no escaping in a connection URI. */
export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** A new volume name per generation: reset swaps generations, never rewrites one in place. */
export function volumeName(ownerId: string): string {
  return `${ownerId}.${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}
