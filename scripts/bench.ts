/**
 * `npm run bench -- <suite> [--json]`: runs scripts/bench/<suite>.ts and prints its rows as a table, or as
 * one JSON document { machine, rows } with --json.
 */
import { printReport, machineInfo, type BenchSuite } from './bench/report.ts';

const SUITES = ['core', 'backend', 'nn', 'models', 'transport'] as const;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const names = args.filter((a) => !a.startsWith('--'));
  if (names.length === 0) {
    console.error(`usage: npm run bench -- <${SUITES.join('|')}> [--json]`);
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
