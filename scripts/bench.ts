/**
 * `npm run bench -- <suite> [--json] [suite options]`: runs scripts/bench/<suite>.ts and prints its rows as a
 * table, or as one JSON document { suite, machine, rows } with --json. Suites read their own options from `args`;
 * those that take a value may be written `--only=a,b` or `--only a,b` (suites see the `=` form).
 * With --json, stdout carries that one document and nothing else (suites report progress on stderr), so
 * `npm run -s bench -- core --json | jq` works; hence one suite per run with --json. Without -s, npm itself
 * prints its script banners ("> prebench", "> bench") on stdout, before this program starts.
 */
import { printReport, machineInfo, type BenchSuite } from './bench/report.ts';

const SUITES = ['core', 'backend', 'nn', 'models', 'transport', 'browsers', 'sharing'] as const;
const VALUE_OPTIONS = ['--only', '--reps', '--model', '--tokens', '--llama7b-layers', '--max-gib', '--weight-cache-mib'];

/** `--only a,b` -> `--only=a,b`, so the value is not read as a suite name and suites parse one form. */
function joinOptionValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (VALUE_OPTIONS.includes(args[i]) && i + 1 < args.length && !args[i + 1].startsWith('--')) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

async function main(): Promise<void> {
  const args = joinOptionValues(process.argv.slice(2));
  const json = args.includes('--json');
  const names = args.filter((a) => !a.startsWith('--'));
  if (names.length === 0) {
    console.error(`usage: npm run bench -- <${SUITES.join('|')}> [--json] [--only a,b]`);
    process.exit(2);
  }
  if (json && names.length > 1) {
    console.error(`--json prints one JSON document, so it takes one suite per run; got ${names.length}: ${names.join(', ')}`);
    process.exit(2);
  }
  for (const name of names) {
    if (!(SUITES as readonly string[]).includes(name)) {
      console.error(`unknown bench suite "${name}"; choose one of: ${SUITES.join(', ')}`);
      process.exit(2);
    }
    const mod = (await import(`./bench/${name}.ts`)) as { default: BenchSuite };
    const rows = await mod.default({ json, args });
    printReport(name, { machine: machineInfo(), rows }, json);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
