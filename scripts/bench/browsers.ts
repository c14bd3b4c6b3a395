/**
 * `npm run bench -- browsers [--model stories260k|gpt2-base|<dir>] [--tokens N] [--no-cached] [--no-build]
 * [--max-gib G] [--weight-cache-mib N] [--cached-weight-cache-mib N|default,...] [--owner-only] [--json]`:
 * owner, client and three party pages in headless Chromium (one browser per role, browsers-lab.ts) on a
 * coordinator on 127.0.0.1, WebAssembly parties. A first run (fresh sharing, shares downloaded), then a cached
 * run on reopened pages (the owner's kept sharing, the parties' shares from IndexedDB; one per value of
 * `--cached-weight-cache-mib`, so cache sizes compare without another download). Reports time to ready,
 * time to first token, ms per token, bytes per party, share bytes downloaded and peak memory per tab
 * (browsers-memory.ts says what is measured), and where the first run's share transfer went. `--owner-only` opens
 * the owner page alone: the model loaded and split once, its tab peak and time. The GPT-2-base model takes many GB across the five browsers: run it
 * alone on the machine; the run stops when the browsers together hold more than --max-gib (default 18).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowsersLab, type SessionMeasurement } from './browsers-lab.ts';
import { resolveModel } from './browsers-model.ts';
import { browsersRow, parseBrowsersOptions, type RunFigures, type TransferFigures } from './browsers-render.ts';
import type { BenchRow, BenchSuite } from './report.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MB = 1e6;

/** The owner page's transfer figures, once it has served; undefined before (a run that failed earlier). */
function transferFigures(m: SessionMeasurement): TransferFigures | undefined {
  const o = m.owner;
  if (o.serveMs === null) return undefined;
  const making = o.partMaking && { valuesMs: o.partMaking.msValues, splittingMs: o.partMaking.msSplitting, copyingMs: o.partMaking.msCopying, denseSplits: o.partMaking.denseSplits };
  return {
    splitPassMs: o.sharingMs,
    serveMs: o.serveMs,
    ownerWaitingForPartsMs: o.transfer.find((t) => t !== null)?.msWaitingForParts ?? 0,
    making,
    parties: o.transfer.map((t) => t && {
      ownerWaitingForAcksMs: t.msWaitingForAcks,
      ownerSendingMs: t.msSending,
      fetchMs: t.party.msFetching ?? 0,
      waitingForPartsMs: t.party.msWaitingForParts ?? 0,
      verifyingMs: t.party.msVerifying ?? 0,
      waitingForStoresMs: t.party.msWaitingForStores ?? 0,
      bytes: t.party.shareBytesDownloaded,
    }),
  };
}

function figures(model: string, run: RunFigures['run'], m: SessionMeasurement): RunFigures {
  return {
    model,
    run,
    promptTokens: m.client.promptIds.length,
    msPerToken: m.client.msPerToken,
    readyMs: m.readyMs,
    approvedMs: m.approvedMs,
    endErrors: m.endErrors,
    roundsPerToken: m.client.roundsPerToken,
    partyBytes: m.client.partyBytes,
    shareBytesDownloaded: m.parties.map((p) => p.shareBytesDownloaded ?? 0),
    cacheHits: m.parties.map((p) => p.cacheHits ?? 0),
    partsTotal: m.parties.map((p) => p.partsTotal ?? 0),
    memory: m.memory,
    transfer: transferFigures(m),
  };
}

const suite: BenchSuite = async ({ args }) => {
  const opts = parseBrowsersOptions(args);
  if (opts.build) {
    console.error('browsers: building the pages (npm run build)');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2], timeout: 600_000 });
  }
  console.error(`browsers: preparing ${opts.model}`);
  const model = resolveModel(opts.model);
  const rows: BenchRow[] = [];
  try {
    // Sharing, share transfer (~10 MB/s between tabs) and the prompt step grow with the model; the bounds are
    // several times what stories260K (1 MB) and GPT-2-base (500 MB) took here.
    const modelMB = model.bytes / MB;
    const lab = await BrowsersLab.start(path.join(ROOT, 'dist/pages'), {
      readyMs: 120_000 + 3_000 * modelMB,
      generateMs: 150_000 + (opts.tokens + 1) * (10_000 + 200 * modelMB),
      memoryBytes: opts.maxGiB * 2 ** 30,
    });
    try {
      const input = { files: model.files, modelName: model.name, prompt: model.prompt, tokens: opts.tokens, weightCacheMiB: opts.weightCacheMiB };
      if (opts.ownerOnly) {
        console.error(`browsers: ${model.name}, owner page only`);
        const m = await lab.ownerOnly(input);
        const domainCheckS = m.domainCheckMs === null ? null : Math.round(m.domainCheckMs / 100) / 10;
        const row = { name: `${model.name} owner page only`, size: `${(model.bytes / MB).toFixed(0)} MB of files`, loadAndSplitS: Math.round(m.loadAndSplitMs / 100) / 10, domainCheckS, splitPassS: Math.round(m.splitPassMs / 100) / 10, ownerTabMiB: Math.round(m.ownerTabPeakBytes / 2 ** 20) };
        console.error(`browsers: ${row.name}: loaded, checked and split in ${row.loadAndSplitS} s (domain check ${domainCheckS ?? '-'} s, split pass ${row.splitPassS} s), owner tab ${row.ownerTabMiB} MiB`);
        return [row];
      }
      const cachedRuns = opts.cached ? (opts.cachedWeightCacheMiB ?? [opts.weightCacheMiB]) : [];
      const runs = [{ run: 'first' as const, weightCacheMiB: opts.weightCacheMiB }, ...cachedRuns.map((weightCacheMiB) => ({ run: 'cached' as const, weightCacheMiB }))];
      for (const { run, weightCacheMiB } of runs) {
        const cacheSaid = weightCacheMiB === undefined ? "the page's default weight cache" : `?weight-cache-mib=${weightCacheMiB}`;
        console.error(`browsers: ${model.name}, ${run} run, ${cacheSaid}`);
        const m = await lab.session({ ...input, weightCacheMiB });
        if (run === 'cached' && m.parties.some((p) => p.shareBytesDownloaded !== 0)) {
          console.error(`browsers: the cached run downloaded shares again (${m.parties.map((p) => p.shareBytesDownloaded).join(' / ')} bytes)`);
        }
        const row = browsersRow(figures(model.name, run, m));
        row.weightCacheMiB = weightCacheMiB ?? 'default';
        console.error(`browsers: ${row.name}: ready ${row.readyS} s, first token ${row.firstTokenS} s, ${row.msPerToken ?? '-'} ms per token, party tabs ${row.partyTabMiB} MiB, owner tab ${row.ownerTabMiB} MiB`);
        if (row.transfer) console.error(`browsers: ${row.name} transfer: ${row.transfer}`);
        rows.push(row);
      }
    } finally {
      await lab.close();
    }
  } finally {
    model.dispose();
  }
  return rows;
};

export default suite;
