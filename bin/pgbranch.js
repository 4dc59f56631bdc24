#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript (npm run build), bundled into one file
// (scripts/build-cli.mjs: one file loads in a fraction of the time of its ~300 modules).
import { main } from '../dist/cli/bundle.mjs';

const code = await main(process.argv);
// The call is over when main returns; what is left on the event loop (the API client's keep-alive
// connection) would keep the process ~50 ms longer. Exit once stdout and stderr are flushed.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write('', resolve))));
process.exit(code);
