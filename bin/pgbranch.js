#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript (npm run build).
import { main } from '../dist/cli/index.js';

process.exitCode = await main(process.argv);
