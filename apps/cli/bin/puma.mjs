#!/usr/bin/env node
// The CLI is TypeScript; register the loader, then run it.
import { register } from 'tsx/esm/api';

register();
let main;
try {
  ({ main } = await import('../src/main.ts'));
} catch (e) {
  // A broken install (a package missing, a module that fails to load) is named in one line, not a stack trace.
  console.error(`puma: the CLI could not load: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
