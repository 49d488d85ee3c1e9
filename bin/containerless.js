#!/usr/bin/env node
// Launcher for the `containerless` command: registers tsx's loader in this process and runs compiler/cli.ts,
// so `node bin/containerless.js ...` and `npx containerless ...` work from any directory.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../compiler/cli.ts');
await run(process.argv.slice(2));
