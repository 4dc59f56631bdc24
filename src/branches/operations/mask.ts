import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { PgbranchError } from '../../errors.js';
import {
  findPersonalColumns,
  maskDatabase,
  readMaskCatalog,
  sealWal,
  wipeResidue,
  withClient,
  type MaskingRules,
  type MaskReport,
  type PersonalColumn,
  type WipeReport,
} from '../../postgres/index.js';
import type { BranchRecord } from '../../state/index.js';
import { checkMaskingRules, parseMaskingRules, uncoveredColumnsError, rulesInvalidError } from '../masking/index.js';
import type { Runtime } from '../runtime.js';

/**
 * Masking as a branch operation: the rules file text (the user's, from their repository) applied
 * to a branch's own data. The engine is postgres/masking (mask, seal, wipe) and branches/masking
 * (rules file); this module decides which databases, which key, and what "covered" means.
 */

/** What a masked create or a check is given: the rules file's text and its name for messages. */
export interface MaskRequest {
  readonly rules: string;
  /** Shown in problems (`masking.yaml:12:5 …`); default "masking rules". */
  readonly file?: string;
}

/** A passed check: every personal-looking column of every database has a rule or an explicit keep. */
export interface MaskCheckView {
  readonly branch: string;
  /** The database the rules are for (the rules' `database`, else the branch's). */
  readonly database: string;
  readonly rulesSha256: string;
  /** Databases sampled (all that accept connections, templates excluded). */
  readonly databasesChecked: readonly string[];
  /** Columns the rules mask or keep explicitly. */
  readonly ruledColumns: number;
}

export const rulesSha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

const fileOf = (mask: MaskRequest): string => mask.file ?? 'masking rules';

/** Parses the rules text (syntax and shape only; the catalog check comes once a branch is up): line-numbered problems. */
export function parseRulesText(mask: MaskRequest): MaskingRules {
  return parseMaskingRules(mask.rules, { file: fileOf(mask) });
}

/**
 * THE masking attribute a branch takes from its parent, on every create path (cloned, or a warm
 * clone claimed): a branch of a masked branch holds the same masked data, so it is masked too.
 */
export function inheritMasking(parent: Pick<BranchRecord, 'maskedRulesSha256' | 'maskedAt'>): Pick<BranchRecord, 'maskedRulesSha256' | 'maskedAt'> {
  return { maskedRulesSha256: parent.maskedRulesSha256, maskedAt: parent.maskedAt };
}

export const isMasked = (branch: Pick<BranchRecord, 'maskedRulesSha256'>): boolean => branch.maskedRulesSha256 !== null;

/**
 * Whether what a reset or rebase of `branch` brings in holds masked data, and what that is: a
 * reset takes its parent or the snapshot it was made from; a rebase its parent, the branch a
 * snapshot it was made from was taken of, or `onto` (a snapshot of the parent).
 */
function parentIsMasked(rt: Runtime, branch: BranchRecord, operation: 'reset' | 'rebase', onto?: string): { masked: boolean; parent: { name: string } | undefined } {
  const snapshot = onto !== undefined ? rt.store.getSnapshotByName(onto) : branch.parentSnapshotId !== null ? rt.store.getSnapshotById(branch.parentSnapshotId) : undefined;
  if (onto !== undefined || (operation === 'reset' && branch.parentSnapshotId !== null)) {
    return { masked: snapshot !== undefined && isMasked(snapshot), parent: snapshot && { name: `snapshot ${snapshot.name}` } };
  }
  const parentId = branch.parentId ?? snapshot?.sourceBranchId;
  const parent = parentId ? rt.store.getBranchById(parentId) : undefined;
  return { masked: parent !== undefined && isMasked(parent), parent };
}

/**
 * The rules a reset of `branch` re-masks with when none are given: those it was masked with, kept
 * when it ran the masking itself (create --mask, reset --mask), if its parent is not masked. A
 * branch of a masked branch needs none (its parent's data is masked already).
 */
export function remaskRules(rt: Runtime, branch: BranchRecord): MaskRequest | undefined {
  if (!isMasked(branch) || parentIsMasked(rt, branch, 'reset').masked) return undefined;
  const stored = rt.store.getMaskRules(branch.id);
  return stored && { rules: stored.rules, ...(stored.file !== null ? { file: stored.file } : {}) };
}

/**
 * Reset and rebase bring the parent's data in: for a masked branch whose parent is not masked
 * (the branch masked at create), that would be unmasked data in a branch marked masked. Refused
 * unless the reset re-masks (rules given, or kept by the branch: see remaskRules).
 */
export function assertNoUnmaskedData(rt: Runtime, branch: BranchRecord, operation: 'reset' | 'rebase', onto?: string): void {
  if (!isMasked(branch)) return;
  const { masked, parent } = parentIsMasked(rt, branch, operation, onto);
  if (masked) return;
  const instead = operation === 'reset' ? 'reset it with --mask RULES, or create a new masked branch' : 'reset it (it re-masks), or create a new masked branch';
  throw new PgbranchError(
    'BRANCH_MASKED',
    `"${branch.name}" is a masked branch and ${parent ? `"${parent.name}" is not masked` : 'origin is not a masked branch'}: ${operation} would bring unmasked data in; ${instead}`,
    { details: { branch: branch.name, operation } },
  );
}

/**
 * The host's masking key (HMAC of hash and fake strategies): 32 random bytes made once, kept in
 * <home>/secrets/masking.key (0600), never in state.db or a volume. The same key gives the same
 * masked values on every masking of this host, so a re-masked branch joins with an older one.
 */
export async function maskingKey(rt: Runtime): Promise<Buffer> {
  await mkdir(rt.paths.secretsDir, { recursive: true, mode: 0o711 });
  await chmod(rt.paths.secretsDir, 0o711);
  const file = join(rt.paths.secretsDir, 'masking.key');
  try {
    await writeFile(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = await readFile(file);
  if (key.length !== 32) throw new PgbranchError('INTERNAL', `${file} is not a masking key (${key.length} bytes, not 32)`, { details: { file } });
  return key;
}

type Target = Pick<BranchRecord, 'id' | 'port' | 'dbUser' | 'dbName'>;

async function databasesOf(rt: Runtime, branch: Target): Promise<string[]> {
  return withClient(rt.adminTarget(branch), async (client) => {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname');
    return rows.map((r) => r.datname);
  });
}

/**
 * The fail-closed check on a running instance: the rules fit the target database's catalog
 * (MASK_RULES_INVALID with line numbers otherwise), and no database has a personal-looking column
 * without a rule (MASK_UNCOVERED_COLUMNS naming them). Databases other than the rules' one get no
 * rules, so any personal column there fails the check too.
 */
export async function checkCoverage(rt: Runtime, branch: Target & Pick<BranchRecord, 'name'>, mask: MaskRequest): Promise<{ rules: MaskingRules; view: MaskCheckView }> {
  const file = fileOf(mask);
  const syntax = parseRulesText(mask);
  const database = syntax.database ?? branch.dbName;
  const databases = await databasesOf(rt, branch);
  if (!databases.includes(database)) {
    throw rulesInvalidError([{ file, line: 1, column: 1, code: 'unknown-table', message: `branch "${branch.name}" has no database ${JSON.stringify(database)}` }]);
  }
  const found: PersonalColumn[] = [];
  let rules: MaskingRules = syntax;
  for (const db of databases) {
    await withClient(rt.adminTarget(branch, db), async (client: pg.Client) => {
      if (db === database) {
        const checked = checkMaskingRules(mask.rules, { file, catalog: await readMaskCatalog(client) });
        if (!checked.rules) throw rulesInvalidError(checked.problems);
        rules = checked.rules;
        found.push(...(await findPersonalColumns(client, rules)));
      } else {
        const other = await findPersonalColumns(client, { tables: [] });
        // Another database's findings name it: the rules file is per database.
        found.push(...other.map((f) => ({ ...f, message: `${db}: ${f.message}` })));
      }
    });
  }
  if (found.length > 0) throw uncoveredColumnsError(found, file);
  return {
    rules,
    view: {
      branch: branch.name,
      database,
      rulesSha256: rulesSha256(mask.rules),
      databasesChecked: databases,
      ruledColumns: rules.tables.reduce((n, t) => n + t.columns.length, 0),
    },
  };
}

/** The LSN of the instance's latest checkpoint (after maskInstance: the one of its clean restart, the masked data's branch point). */
export async function checkpointLsn(rt: Runtime, branch: Target): Promise<string> {
  return withClient(rt.adminTarget(branch), async (client) => (await client.query<{ lsn: string }>('SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()')).rows[0]!.lsn);
}

/**
 * Masks the running instance of a not yet committed branch in place, then leaves no original
 * value in its files: tables rewritten by maskDatabase, WAL sealed, instance stopped cleanly,
 * WAL and other residue wiped, instance started again (on the masked data only). `step` records
 * progress (the intent's steps and crash points).
 */
export async function maskInstance(
  rt: Runtime,
  branch: Target & Pick<BranchRecord, 'name' | 'password' | 'pgMajor'>,
  volume: string,
  rules: MaskingRules,
  step: (name: 'masked' | 'wiped') => void,
): Promise<{ report: MaskReport; wipe: WipeReport }> {
  const key = await maskingKey(rt);
  const database = rules.database ?? branch.dbName;
  const { report, seal } = await withClient(rt.adminTarget(branch, database), async (client) => {
    const report = await maskDatabase(client, rules, { key });
    const seal = await sealWal(client);
    return { report, seal };
  });
  step('masked');
  await rt.stop(volume);
  const wipe = await wipeResidue(rt.dataDir(volume), seal);
  step('wiped');
  await rt.start(branch, volume);
  return { report, wipe };
}
