import { chown, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface HbaOptions {
  /** Add scram-sha-256 lines for 127.0.0.1 and ::1. */
  readonly allowTcp: boolean;
}

/** The whole pg_hba.conf pgbranch uses: trust on the private (0700) socket dir, SCRAM on loopback. */
export function hbaContent({ allowTcp }: HbaOptions): string {
  const lines = [
    '# Written by pgbranch; rewritten on password rotation. Local connections come through a',
    '# private socket directory (mode 0700, owned by the instance user), hence trust.',
    '# TYPE  DATABASE  USER  ADDRESS        METHOD',
    'local   all       all                  trust',
  ];
  if (allowTcp) {
    lines.push('host    all       all   127.0.0.1/32   scram-sha-256');
    lines.push('host    all       all   ::1/128        scram-sha-256');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Replaces pg_hba.conf (atomically, keeping the file's owner). A running instance needs
 * reloadConfig() afterwards.
 */
export async function writeHba(dataDir: string, options: HbaOptions): Promise<void> {
  const target = join(dataDir, 'pg_hba.conf');
  const tmp = `${target}.pgbranch-tmp`;
  const dirStat = await stat(dataDir);
  await writeFile(tmp, hbaContent(options), { mode: 0o600 });
  if (dirStat.uid !== process.getuid?.()) await chown(tmp, dirStat.uid, dirStat.gid);
  await rename(tmp, target);
}
