/**
 * `npm run bench -- <suite> [--json] [suite options]`: runs scripts/bench/<suite>.ts and prints its rows as a
 * table, or as one JSON document { suite, machine, rows } with --json. Suites read their own options from `args`;
 * those that take a value may be written `--only=a,b` or `--only a,b` (suites see the `=` form).
 * With --json, stdout carries that one document and nothing else (suites report progress on stderr), so
 * `npm run -s bench -- core --json | jq` works; hence one suite per run with --json. Without -s, npm itself
 * prints its script banners ("> prebench", "> bench") on stdout, before this program starts.
 */
import { printReport, machineInfo, type BenchSuite } from './bench/report.ts';

/**
 * Each suite's options and what they do: `--help` prints them, and an option a suite does not know is refused
 * before anything runs (a mistyped option would otherwise be ignored and start a long default run).
 */
const SUITE_OPTIONS = {
  core: { about: 'secure ops with three parties in worker threads, and the raw transport', options: {} },
  backend: { about: 'raw kernel throughput of each backend', options: { '--large': 'also matmul 2048^3 and large elementwise sizes' } },
  nn: { about: 'every nn function at 4096 elements', options: { '--reps': 'N: repetitions per function (default 5)', '--only': 'substring: functions whose name contains it' } },
  models: {
    about: 'secure inference of whole models (three parties in worker threads, shares streamed from disk)',
    options: {
      '--only': 'a,b: these workloads only',
      '--llama7b-layers': 'k: LLaMA-2-7B layers to measure',
      '--weight-cache-mib': 'N: per-party weight cache (0 streams every pass)',
    },
  },
  transport: {
    about: 'throughput and round-trip latency of one WebRTC link on loopback, the owner\'s share-parts pattern, CPU per MB',
    options: { '--parts-only': 'only the share-parts rows (one tab to one and two tabs, 8 MiB parts)' },
  },
  browsers: {
    about: 'owner, client and three party pages in headless Chromium: first and cached run',
    options: {
      '--model': 'stories260k|gpt2-base|<dir>',
      '--tokens': 'N: tokens to generate',
      '--no-cached': 'skip the cached run',
      '--no-build': 'use the pages already built in dist/pages',
      '--max-gib': 'G: stop when the browsers together hold more',
      '--weight-cache-mib': 'N: party pages\' weight cache',
      '--cached-weight-cache-mib': 'N|default,...: one cached run per value, each with that weight cache',
      '--owner-only': 'only the owner page: the model loaded and split once, its tab peak',
    },
  },
  'idb-reads': {
    about: "how fast a party page's worker reads share parts back from IndexedDB, by way of reading and value type",
    options: { '--total-mib': 'N: MiB written and read back per way (default 256)' },
  },
  sharing: {
    about: "the owner's sharing of whole models",
    options: { '--reps': 'N: repetitions (default 3)', '--only': 'models', '--one-thread': 'also on one thread', '--before': 'also the JavaScript path' },
  },
} satisfies Record<string, { about: string; options: Record<string, string> }>;
type Suite = keyof typeof SUITE_OPTIONS;
const SUITES = Object.keys(SUITE_OPTIONS) as Suite[];
const COMMON_OPTIONS: Record<string, string> = { '--json': 'one JSON document on stdout', '--help': 'this text' };
const VALUE_OPTIONS = ['--only', '--reps', '--model', '--tokens', '--llama7b-layers', '--max-gib', '--weight-cache-mib', '--cached-weight-cache-mib', '--total-mib'];

function usage(names: readonly Suite[] = SUITES): string {
  const lines = [`usage: npm run bench -- <${SUITES.join('|')}> [--json] [suite options]`];
  for (const name of names) {
    lines.push('', `${name}: ${SUITE_OPTIONS[name].about}`);
    for (const [opt, what] of Object.entries({ ...SUITE_OPTIONS[name].options, ...COMMON_OPTIONS })) lines.push(`  ${opt.padEnd(20)} ${what}`);
  }
  return lines.join('\n');
}

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
  const names = args.filter((a) => !a.startsWith('-'));
  const known = new Set([...Object.keys(COMMON_OPTIONS), '-h', ...SUITES.flatMap((n) => Object.keys(SUITE_OPTIONS[n].options))]);
  const stray = args.find((a) => a.startsWith('-') && !known.has(a.split('=')[0]));
  if (stray !== undefined) {
    console.error(`unknown option ${stray.split('=')[0]}; run with --help to see each suite's options`);
    process.exit(2);
  }
  const unknownSuite = names.find((n) => !(SUITES as string[]).includes(n));
  if (unknownSuite !== undefined) {
    console.error(`unknown bench suite "${unknownSuite}"; choose one of: ${SUITES.join(', ')}`);
    process.exit(2);
  }
  const suites = names as Suite[];
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usage(suites.length ? suites : SUITES));
    return;
  }
  if (suites.length === 0) {
    console.error(usage());
    process.exit(2);
  }
  if (json && suites.length > 1) {
    console.error(`--json prints one JSON document, so it takes one suite per run; got ${suites.length}: ${suites.join(', ')}`);
    process.exit(2);
  }
  for (const a of args.filter((x) => x.startsWith('-'))) {
    const opt = a.split('=')[0];
    const takers = suites.filter((n) => opt in SUITE_OPTIONS[n].options);
    if (!(opt in COMMON_OPTIONS) && takers.length === 0) {
      console.error(`unknown option ${opt} for ${suites.join(', ')}; run with --help to see the options`);
      process.exit(2);
    }
  }
  for (const name of suites) {
    const mod = (await import(`./bench/${name}.ts`)) as { default: BenchSuite };
    const rows = await mod.default({ json, args });
    printReport(name, { machine: machineInfo(), rows }, json);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
