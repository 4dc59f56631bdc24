import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { run } from './exec.js';

/** The nice value of the shell that reads it, from /proc/<pid>/stat (field 19; comm "(sh)" has no space). */
const READ_OWN_NICE = 'read _; cut -d" " -f19 /proc/$$/stat';

describe('run', () => {
  it('runs a background command at the lowest CPU priority, others at ours', async () => {
    // The shell waits for its input, which is written after the priority was set.
    const low = await run('sh', ['-c', READ_OWN_NICE], { input: 'go\n', lowPriority: true });
    expect(low.stdout.trim()).toBe('19');
    const normal = await run('sh', ['-c', READ_OWN_NICE], { input: 'go\n' });
    expect(normal.stdout.trim()).toBe(String(getPriority()));
  });
});
