/**
 * Rows of the browsers bench from what one session measured (browsers-lab.ts), and the options it takes.
 * Times in seconds except per-token times; memory in MiB (tab: renderer high-water RSS; browser: the role's
 * whole Chromium, PSS, sampled); bytesPerParty: the most any party sent during the generation (prompt and all
 * tokens), from the parties' step reports. A GPT-2-base row also says how it stands against the
 * issue-13 targets.
 */
import type { BenchRow } from './report.ts';

export interface RoleMemoryFigures {
  tabPeakBytes: number;
  browserPeakBytes: number;
}

/** One party's share transfer: the owner's waits and the party's own report, in milliseconds. */
export interface PartyTransferFigures {
  /** Owner's send loop: waiting for this party's acknowledgements, and in channel.send for its parts. */
  ownerWaitingForAcksMs: number;
  ownerSendingMs: number;
  /** The party: from asking for its parts to the last stored, and within it waiting for arrivals, sha256, stores. */
  fetchMs: number;
  waitingForPartsMs: number;
  verifyingMs: number;
  waitingForStoresMs: number;
  bytes: number;
}

/** Where a first run's share transfer went (absent when no part was sent). */
export interface TransferFigures {
  /** The owner's first pass (split and hash for the manifests), started before approval. */
  splitPassMs: number | null;
  /** Approved parties' first hello to every acknowledgement. */
  serveMs: number;
  /** The owner's send loop waiting for its worker's next part (shared by the parties). */
  ownerWaitingForPartsMs: number;
  /** In the owner's worker: tensor values, dense splits, copies handed out. */
  making: { valuesMs: number; splittingMs: number; copyingMs: number; denseSplits: number } | null;
  parties: ReadonlyArray<PartyTransferFigures | null>;
}

export interface RunFigures {
  model: string;
  run: 'first' | 'cached';
  promptTokens: number;
  /** Milliseconds the client waited for each generated token; the first includes the prompt. */
  msPerToken: readonly number[];
  /** Owner page opened -> client ready. */
  readyMs: number;
  /** Owner page opened -> parties approved (the rest of readyMs is sharing, share transfer and loading). */
  approvedMs: number;
  /** Errors party pages showed while the session ended, after the last token. */
  endErrors: readonly string[];
  roundsPerToken: number | null;
  /** Bytes each party sent during the generation. */
  partyBytes: readonly number[];
  /** Share bytes each party downloaded from the owner (0 when it took them all from IndexedDB). */
  shareBytesDownloaded: readonly number[];
  /** Share parts each party found in its cache, of its total. */
  cacheHits: readonly number[];
  partsTotal: readonly number[];
  memory: Readonly<Record<'owner' | 'client' | 'party0' | 'party1' | 'party2', RoleMemoryFigures>>;
  transfer?: TransferFigures;
}

/** Issue 13's targets for three tabs with the GPT-2-base shape. */
export const GPT2_BASE_TARGETS = { tabMiB: 1536, firstTokenSFirstRun: 150, firstTokenSCached: 30, msPerToken: 4000 } as const;

const MIB = 2 ** 20;
const mib = (b: number) => Math.round(b / MIB);
const round1 = (x: number) => Math.round(x * 10) / 10;

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

export function browsersRow(f: RunFigures): BenchRow {
  if (f.msPerToken.length === 0) throw new Error(`${f.model} ${f.run} run: no token was generated`);
  if (f.partyBytes.length !== 3 || f.shareBytesDownloaded.length !== 3) throw new Error(`${f.model} ${f.run} run: expected figures for 3 parties`);
  const later = f.msPerToken.slice(1);
  const firstTokenS = (f.readyMs + f.msPerToken[0]) / 1000;
  const msPerToken = later.length ? mean(later) : null;
  const partyTabs = [f.memory.party0, f.memory.party1, f.memory.party2].map((m) => mib(m.tabPeakBytes));
  const row: BenchRow = {
    name: `${f.model} ${f.run} run`,
    size: `${f.promptTokens} prompt + ${f.msPerToken.length} tokens`,
    rounds: f.roundsPerToken ?? undefined,
    bytesPerParty: Math.max(...f.partyBytes),
    readyS: round1(f.readyMs / 1000),
    approvedS: round1(f.approvedMs / 1000),
    firstTokenS: round1(firstTokenS),
    promptStepS: round1(f.msPerToken[0] / 1000),
    msPerToken: msPerToken === null ? undefined : Math.round(msPerToken),
    shareMB: f.shareBytesDownloaded.map((b) => (b / 1e6).toFixed(1)).join(' / '),
    cached: f.cacheHits.map((h, i) => `${h}/${f.partsTotal[i]}`).join(' '),
    partyTabMiB: partyTabs.join(' / '),
    ownerTabMiB: mib(f.memory.owner.tabPeakBytes),
    clientTabMiB: mib(f.memory.client.tabPeakBytes),
    maxBrowserMiB: mib(Math.max(...Object.values(f.memory).map((m) => m.browserPeakBytes))),
    memory: Object.fromEntries(Object.entries(f.memory).map(([role, m]) => [role, { tabPeakMiB: mib(m.tabPeakBytes), browserPeakMiB: mib(m.browserPeakBytes) }])),
    partyBytes: [...f.partyBytes],
    shareBytesDownloaded: [...f.shareBytesDownloaded],
    msPerTokenAll: f.msPerToken.map(Math.round),
  };
  if (f.endErrors.length) row.endErrors = f.endErrors.join('; ');
  if (f.transfer) row.transfer = transferSummary(f.transfer);
  if (f.model === 'gpt2-base') row.targets = gpt2BaseVerdict(f.run, firstTokenS, msPerToken, Math.max(...partyTabs, mib(f.memory.owner.tabPeakBytes), mib(f.memory.client.tabPeakBytes)));
  return row;
}

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * One line on where the share transfer went: the owner's split pass, serve time, making in its worker and its
 * send loop's waits, then per party that received parts its rate and its fetch time split into arrival, sha256
 * and stores (the rest is the party's own bookkeeping).
 */
export function transferSummary(t: TransferFigures): string {
  const owner = [
    t.splitPassMs === null ? 'kept sharing' : `split pass ${sec(t.splitPassMs)}`,
    `serve ${sec(t.serveMs)}`,
    t.making ? `worker made ${t.making.denseSplits} dense parts: values ${sec(t.making.valuesMs)}, split ${sec(t.making.splittingMs)}, copies ${sec(t.making.copyingMs)}` : 'worker made no part',
    `send loop waited ${sec(t.ownerWaitingForPartsMs)} for parts`,
  ];
  const parties = t.parties.flatMap((p, i) => p === null || p.bytes === 0 ? [] : [
    `p${i} ${(p.bytes / 1e6).toFixed(0)} MB at ${(p.bytes / 1e6 / Math.max(p.fetchMs / 1000, 1e-3)).toFixed(1)} MB/s: owner waited ${sec(p.ownerWaitingForAcksMs)} for acks, ` +
      `${sec(p.ownerSendingMs)} in send; party fetch ${sec(p.fetchMs)} = arrival ${sec(p.waitingForPartsMs)} + sha256 ${sec(p.verifyingMs)} + stores ${sec(p.waitingForStoresMs)}`,
  ]);
  return [owner.join(', '), ...parties].join('; ');
}

/** "met"/"missed" per target, with the measured figure. */
export function gpt2BaseVerdict(run: RunFigures['run'], firstTokenS: number, msPerToken: number | null, maxTabMiB: number): string {
  const t = GPT2_BASE_TARGETS;
  const firstLimit = run === 'first' ? t.firstTokenSFirstRun : t.firstTokenSCached;
  const say = (what: string, value: string, ok: boolean) => `${what} ${value} ${ok ? 'met' : 'missed'}`;
  return [
    say(`tab <= ${t.tabMiB} MiB:`, `${maxTabMiB} MiB`, maxTabMiB <= t.tabMiB),
    say(`first token <= ${firstLimit} s:`, `${firstTokenS.toFixed(0)} s`, firstTokenS <= firstLimit),
    msPerToken === null ? `per token <= ${t.msPerToken} ms: not measured (one token)` : say(`per token <= ${t.msPerToken} ms:`, `${Math.round(msPerToken)} ms`, msPerToken <= t.msPerToken),
  ].join('; ');
}

const FLAGS = ['--json', '--no-cached', '--no-build', '--owner-only'];

export interface BrowsersOptions {
  /** stories260k, gpt2-base or a folder. */
  model: string;
  tokens: number;
  /** Run the cached run after the first (`--no-cached` skips it). */
  cached: boolean;
  /** Build the pages first (`--no-build` serves dist/pages as it is). */
  build: boolean;
  /** The party links' ?weight-cache-mib= (absent: the party page's default). */
  weightCacheMiB?: number;
  /**
   * One cached run per value, each with that ?weight-cache-mib= (`--cached-weight-cache-mib=768,1024`, "default"
   * for the page's own), so one first run's shares serve several cached runs; absent: one cached run with
   * weightCacheMiB.
   */
  cachedWeightCacheMiB?: Array<number | undefined>;
  /** Stop when the five browsers together hold more than this (GiB, PSS). */
  maxGiB: number;
  /** Only the owner page: load the model and split it once, then report its tab peak (`--owner-only`). */
  ownerOnly: boolean;
}

/**
 * `--model=<m>` (default stories260k), `--tokens=<n>` (default 8, or 4 for gpt2-base), `--max-gib=<g>` (default
 * 18), `--weight-cache-mib=<n>`, `--cached-weight-cache-mib=<n|default>,...`, `--no-cached`, `--no-build`,
 * `--owner-only`.
 */
export function parseBrowsersOptions(args: readonly string[]): BrowsersOptions {
  const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  for (const a of args) {
    if (a.startsWith('--') && !/^--(model|tokens|max-gib|weight-cache-mib|cached-weight-cache-mib)=/.test(a) && !FLAGS.includes(a)) throw new Error(`browsers: unknown option ${a} (takes --model, --tokens, --max-gib, --weight-cache-mib, --cached-weight-cache-mib, ${FLAGS.join(', ')})`);
  }
  const model = value('model') ?? 'stories260k';
  if (model === '') throw new Error('browsers: --model needs a value (stories260k, gpt2-base or a folder)');
  const tokensText = value('tokens');
  const tokens = tokensText === undefined ? (model.toLowerCase() === 'gpt2-base' ? 4 : 8) : Number(tokensText);
  if (!Number.isInteger(tokens) || tokens < 1 || tokens > 256) throw new Error(`browsers: --tokens must be an integer from 1 to 256, got ${tokensText}`);
  const gibText = value('max-gib');
  const maxGiB = gibText === undefined ? 18 : Number(gibText);
  if (!(maxGiB > 0 && maxGiB < 1024)) throw new Error(`browsers: --max-gib must be a number of GiB above 0, got ${gibText}`);
  const cacheText = value('weight-cache-mib');
  const weightCacheMiB = cacheText === undefined ? undefined : cacheMiB('--weight-cache-mib', cacheText);
  const cachedText = value('cached-weight-cache-mib');
  const cachedWeightCacheMiB = cachedText?.split(',').map((v) => (v.trim() === 'default' ? undefined : cacheMiB('--cached-weight-cache-mib', v)));
  const cached = !args.includes('--no-cached');
  if (cachedWeightCacheMiB && !cached) throw new Error('browsers: --cached-weight-cache-mib sets the cached runs, which --no-cached turns off');
  return {
    model, tokens, cached, build: !args.includes('--no-build'), ownerOnly: args.includes('--owner-only'), maxGiB,
    ...(weightCacheMiB === undefined ? {} : { weightCacheMiB }), ...(cachedWeightCacheMiB === undefined ? {} : { cachedWeightCacheMiB }),
  };
}

function cacheMiB(option: string, text: string): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !(Number.isInteger(n) && n >= 0 && n <= 65_536)) throw new Error(`browsers: ${option} must be a whole number of MiB from 0 to 65536${option === '--weight-cache-mib' ? '' : ' (or "default")'}, got ${text}`);
  return n;
}
