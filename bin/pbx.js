#!/usr/bin/env node
// The `pbx` command. The server is TypeScript run through tsx's loader, so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/index.ts');
const code = await main(process.argv.slice(2));
if (code >= 0) process.exit(code);
