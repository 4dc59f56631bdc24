#!/usr/bin/env node
// The light client's CLI: the same commands as `pgbranch` in remote mode, bundled with no dependencies.
import { mainRemote } from '../dist/cli.js';

process.exitCode = await mainRemote(process.argv);
