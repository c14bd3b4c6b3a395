#!/usr/bin/env node
// The CLI is TypeScript; register the loader, then run it.
import { register } from 'tsx/esm/api';

register();
let main;
try {
  ({ main } = await import('../src/main.ts'));
} catch (e) {
  // Until packages/nn provides the nonlinear functions, the secure forward pass cannot load.
  console.error(`puma: secure inference is not available in this build: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
