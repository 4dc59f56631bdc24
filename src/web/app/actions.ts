/**
 * Everything the console can change, as one union: the same value decides whether its button is
 * shown (`permits`), which request it sends (`runAction`) and which CLI command it is equivalent
 * to (`cliCommand`), so the three cannot drift apart.
 */
import type { ConsoleApi } from './api.js';
import type { Branch, CallerToken, Role, Snapshot } from './wire.js';

export type BranchVerb = 'reset' | 'suspend' | 'start' | 'stop' | 'delete' | 'protect' | 'unprotect';

export type ConsoleAction =
  | { readonly kind: 'create'; readonly name: string; readonly parent: string; readonly ttl?: string }
  | { readonly kind: 'create-from-snapshot'; readonly name: string; readonly snapshot: string; readonly ttl?: string }
  | { readonly kind: BranchVerb; readonly branch: string }
  /** `ttl` is a duration such as 3d or 12h, or "none" to never expire. */
  | { readonly kind: 'set-ttl'; readonly branch: string; readonly ttl: string }
  | { readonly kind: 'snapshot'; readonly branch: string; readonly name: string }
  | { readonly kind: 'delete-snapshot'; readonly snapshot: string; readonly branch: string };

// --- permissions: the API's rules (src/api/*-routes.ts), applied before a button is drawn ---

const LEVEL: Record<Role, number> = { read: 0, write: 1, admin: 2 };

/** The domain's pattern rule (branches/tokens.ts): `*` any run of characters, `?` one character. */
export function matchesPattern(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(name);
}

export function canAccessBranch(caller: CallerToken, branch: string): boolean {
  return caller.branch_patterns.length === 0 || caller.branch_patterns.some((p) => matchesPattern(p, branch));
}

function allows(caller: CallerToken, role: Role, branch: string): boolean {
  return LEVEL[caller.role] >= LEVEL[role] && canAccessBranch(caller, branch);
}

/** Whether the token may start creating branches at all (the name is checked as it is typed). */
export function canCreate(caller: CallerToken): boolean {
  return LEVEL[caller.role] >= LEVEL.write;
}

/** Whether the token may do `action` (role and branch patterns), whatever the branch's state. */
export function permits(caller: CallerToken, action: ConsoleAction): boolean {
  switch (action.kind) {
    case 'create':
    case 'create-from-snapshot':
      // The parent or snapshot is only read by the host: the new name is what the token must cover.
      return allows(caller, 'write', action.name);
    case 'unprotect':
      // Lifting protection is the admin's, so a write token cannot undo the guard set against it.
      return allows(caller, 'admin', action.branch);
    case 'delete-snapshot':
      return allows(caller, 'write', action.branch);
    default:
      return allows(caller, 'write', action.branch);
  }
}

/** Whether `verb` makes sense for the branch as it is now (the API would refuse it otherwise). */
export function applies(branch: Branch, verb: BranchVerb | 'set-ttl' | 'snapshot'): boolean {
  switch (verb) {
    case 'reset':
      return !branch.protected && ((branch.parent !== null && !branch.parent_deleted) || branch.source.kind === 'snapshot');
    case 'delete':
      return !branch.protected;
    case 'protect':
      return !branch.protected;
    case 'unprotect':
      return branch.protected;
    case 'suspend':
      return branch.state === 'running';
    case 'start':
      return branch.state !== 'running';
    case 'stop':
      return branch.state !== 'stopped';
    case 'set-ttl':
    case 'snapshot':
      return true;
  }
}

/** The branch verbs to offer on a branch page, in display order. */
export function branchVerbs(caller: CallerToken, branch: Branch): BranchVerb[] {
  const order: BranchVerb[] = ['start', 'suspend', 'stop', 'reset', 'protect', 'unprotect', 'delete'];
  return order.filter((kind) => applies(branch, kind) && permits(caller, { kind, branch: branch.name }));
}

// --- the equivalent CLI command ---

/** Quotes a word for a POSIX shell when it holds anything but safe characters. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9._/:@=+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

export function cliCommand(action: ConsoleAction): string {
  const words = ((): string[] => {
    switch (action.kind) {
      case 'create':
        return ['branch', 'create', action.name, '--from', action.parent, ...(action.ttl ? ['--ttl', action.ttl] : [])];
      case 'create-from-snapshot':
        return ['branch', 'create', action.name, '--from-snapshot', action.snapshot, ...(action.ttl ? ['--ttl', action.ttl] : [])];
      case 'set-ttl':
        return ['branch', 'set', action.branch, '--ttl', action.ttl];
      case 'snapshot':
        return ['snapshot', 'create', action.branch, action.name];
      case 'delete-snapshot':
        return ['snapshot', 'delete', action.snapshot];
      default:
        return ['branch', action.kind, action.branch];
    }
  })();
  return ['pgbranch', ...words].map(shellWord).join(' ');
}

/** The CLI command printing the same diff as the console's Changes panel. */
export function diffCommand(branch: string, options: { against?: string; rows?: boolean }): string {
  const sides = options.against ? [options.against, branch] : [branch];
  return ['pgbranch', 'diff', ...sides, ...(options.rows ? ['--schema', '--rows'] : [])].map(shellWord).join(' ');
}

/** Whether a rebase makes sense for the branch: it has a parent to catch up with (as for reset). */
export function canRebase(caller: CallerToken, branch: Branch): boolean {
  return applies(branch, 'reset') && allows(caller, 'write', branch.name);
}

/** The CLI command doing what the console's Rebase panel sends. */
export function rebaseCommand(branch: string, options: { dryRun?: boolean; onto?: string; prefer?: 'branch' | 'parent'; undo?: boolean }): string {
  const words = options.undo
    ? ['branch', 'rebase', branch, '--undo']
    : ['branch', 'rebase', branch, ...(options.dryRun ? ['--dry-run'] : []), ...(options.onto ? ['--onto', options.onto] : []), ...(options.prefer ? ['--prefer', options.prefer] : [])];
  return ['pgbranch', ...words].map(shellWord).join(' ');
}

// --- durations, as the CLI's --ttl reads them (src/cli/parse.ts) ---

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "3d", "12h", "90m" → milliseconds; undefined when it is not a positive duration. */
export function parseTtl(value: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match || Number(match[1]) === 0) return undefined;
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

// --- sending it ---

function ttlMs(ttl: string | undefined): number | undefined {
  if (ttl === undefined || ttl === '') return undefined;
  const ms = parseTtl(ttl);
  if (ms === undefined) throw new RangeError(`"${ttl}" is not a duration such as 3d, 12h or 90m`);
  return ms;
}

/** Sends the action; resolves with the branch it leaves behind, if any (for navigation). */
export async function runAction(api: ConsoleApi, action: ConsoleAction): Promise<Branch | Snapshot | undefined> {
  switch (action.kind) {
    case 'create':
      return api.createBranch({ name: action.name, parent: action.parent, ttl_ms: ttlMs(action.ttl) });
    case 'create-from-snapshot':
      return api.createBranch({ name: action.name, snapshot: action.snapshot, ttl_ms: ttlMs(action.ttl) });
    case 'reset':
    case 'suspend':
    case 'start':
    case 'stop':
      return api.branchAction(action.branch, action.kind);
    case 'delete':
      await api.deleteBranch(action.branch);
      return undefined;
    case 'protect':
    case 'unprotect':
      return api.updateBranch(action.branch, { protected: action.kind === 'protect' });
    case 'set-ttl':
      return api.updateBranch(action.branch, { ttl_ms: action.ttl === 'none' ? null : ttlMs(action.ttl) });
    case 'snapshot':
      return api.createSnapshot(action.branch, action.name);
    case 'delete-snapshot':
      await api.deleteSnapshot(action.snapshot);
      return undefined;
  }
}
