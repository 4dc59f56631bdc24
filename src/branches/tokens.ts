import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { PgbranchError } from '../errors.js';
import type { StateStore, TokenRecord, TokenRole } from '../state/index.js';

export const TOKEN_ROLES: readonly TokenRole[] = ['read', 'write', 'admin'];

/** What a request wants to do; a role allows its own level and those below it. */
export type Access = TokenRole;
const LEVEL: Record<TokenRole, number> = { read: 0, write: 1, admin: 2 };

/** An authenticated token, as edges see it (never the secret). */
export interface Principal {
  readonly tokenId: string;
  readonly name: string;
  readonly role: TokenRole;
  readonly branchPatterns: readonly string[];
  /** Sees and operates masked branches only; creates branches only from masked branches. */
  readonly maskedOnly: boolean;
}

/** The token as stored and listed: no secret, not even its hash. */
export interface TokenInfo extends Principal {
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

const TOKEN_FORMAT = /^pgb_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const PATTERN_FORMAT = /^[a-z0-9._/*?-]{1,63}$/;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export function tokenInfo(t: TokenRecord): TokenInfo {
  return { tokenId: t.id, name: t.name, role: t.role, branchPatterns: t.branchPatterns, maskedOnly: t.maskedOnly, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt };
}

/** `*` matches any run of characters (including `/`), `?` one character; nothing else is special. */
export function matchesPattern(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(name);
}

export function validateTokenRequest(request: { name: string; role: string; branchPatterns?: readonly string[] }): void {
  if (!/^[\w .:@/-]{1,64}$/.test(request.name)) {
    throw new PgbranchError('INVALID_ARGUMENT', 'a token name is 1-64 characters of letters, digits, space and _ . : @ / -');
  }
  if (!(TOKEN_ROLES as readonly string[]).includes(request.role)) {
    throw new PgbranchError('INVALID_ARGUMENT', `unknown role "${request.role}": use one of ${TOKEN_ROLES.join(', ')}`);
  }
  for (const pattern of request.branchPatterns ?? []) {
    if (!PATTERN_FORMAT.test(pattern)) {
      throw new PgbranchError('INVALID_ARGUMENT', `invalid branch pattern "${pattern}": branch-name characters plus * and ?`);
    }
  }
}

export interface TokenRequest {
  readonly name: string;
  readonly role: TokenRole;
  readonly branchPatterns?: readonly string[];
  readonly maskedOnly?: boolean;
}

/**
 * Creates a token. The secret is 256 random bits, so a fast hash is enough to store it (no
 * password stretching needed); the full token is returned once and never again.
 */
export function createToken(
  store: StateStore,
  request: TokenRequest,
  creator?: Principal,
): { token: string; info: TokenInfo } {
  validateTokenRequest(request);
  if (creator) assertCanDelegate(creator, request);
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record = store.insertToken({
    id,
    name: request.name,
    secretSha256: sha256(secret),
    role: request.role,
    branchPatterns: [...(request.branchPatterns ?? [])],
    maskedOnly: request.maskedOnly ?? false,
  });
  return { token: `pgb_${id}_${secret}`, info: tokenInfo(record) };
}

/**
 * A token can only hand out what it has: no higher role, and if it is limited to branch
 * patterns, the new token must be limited to some of those same patterns.
 */
export function assertCanDelegate(creator: Principal, request: Omit<TokenRequest, 'name'>): void {
  if (LEVEL[request.role] > LEVEL[creator.role]) {
    throw new PgbranchError('PERMISSION_DENIED', `token "${creator.name}" (role ${creator.role}) cannot create a ${request.role} token`);
  }
  if (creator.maskedOnly && !request.maskedOnly) {
    throw new PgbranchError('PERMISSION_DENIED', `token "${creator.name}" is masked-only; a token it creates must be masked-only too`);
  }
  if (creator.branchPatterns.length === 0) return;
  const wanted = request.branchPatterns ?? [];
  if (wanted.length === 0 || wanted.some((p) => !creator.branchPatterns.includes(p))) {
    throw new PgbranchError('PERMISSION_DENIED', `token "${creator.name}" is limited to ${creator.branchPatterns.join(', ')}; a token it creates must be limited to some of these patterns`);
  }
}

export function authenticate(store: StateStore, token: string | undefined): Principal {
  const match = token ? TOKEN_FORMAT.exec(token) : null;
  const record = match ? store.getToken(match[1]!) : undefined;
  if (!match || !record) throw new PgbranchError('UNAUTHENTICATED', 'missing or invalid API token');
  const expected = Buffer.from(record.secretSha256, 'hex');
  const actual = Buffer.from(sha256(match[2]!), 'hex');
  if (!timingSafeEqual(expected, actual)) throw new PgbranchError('UNAUTHENTICATED', 'missing or invalid API token');
  store.touchToken(record.id);
  return tokenInfo(record);
}

/**
 * A branch as access checks see it: its name, and whether it holds masked data. A bare name is a
 * branch whose masking is not known to the caller: a masked-only token is refused it (fail-closed).
 */
export type BranchRef = string | { readonly name: string; readonly masked: boolean };

export function canAccessBranch(principal: Principal, branch: BranchRef): boolean {
  const name = typeof branch === 'string' ? branch : branch.name;
  if (principal.maskedOnly && (typeof branch === 'string' || !branch.masked)) return false;
  return principal.branchPatterns.length === 0 || principal.branchPatterns.some((p) => matchesPattern(p, name));
}

/**
 * Throws PERMISSION_DENIED unless the token's role covers `access` and, when a branch is named,
 * one of its patterns matches it. A scoped token may still create branches *from* a branch it
 * cannot touch (a `pr-*` token branches `pr-1` off `main`): the parent is only read by the host.
 */
export function authorize(principal: Principal, access: Access, branch?: BranchRef): void {
  if (LEVEL[principal.role] < LEVEL[access]) {
    throw new PgbranchError('PERMISSION_DENIED', `token "${principal.name}" has role ${principal.role}; this needs ${access}`, {
      details: { role: principal.role, needs: access },
    });
  }
  if (branch !== undefined && !canAccessBranch(principal, branch)) {
    const name = typeof branch === 'string' ? branch : branch.name;
    const why = principal.maskedOnly && (typeof branch === 'string' || !branch.masked) ? ' (the token is masked-only and the branch is not masked)' : '';
    throw new PgbranchError('PERMISSION_DENIED', `token "${principal.name}" may not act on branch "${name}"${why}`, {
      details: { branch: name, patterns: principal.branchPatterns, maskedOnly: principal.maskedOnly },
    });
  }
}

/** Revokes a token; TOKEN_NOT_FOUND when there is none with that id. */
export function revokeToken(store: StateStore, id: string): void {
  if (!store.deleteToken(id)) throw new PgbranchError('TOKEN_NOT_FOUND', `no token with id "${id}"`, { details: { id } });
}
