/**
 * `npm run bench -- idb-reads [--total-mib N]`: how fast a party page's worker gets 8 and 32 MiB share parts back
 * from IndexedDB (idb-keyval), by each way it could ask: one get (one transaction) at a time, as the share store
 * did; 2 or 4 gets in flight; getMany of 4 in one transaction; each with parts stored as Uint8Array and as Blob.
 * Headless Chromium launched as the e2e suite launches it, with a persistent profile on disk (an incognito
 * context keeps IndexedDB in memory, which no party page does). Each way reads the whole set (default 256 MiB)
 * twice after a warm-up read; the row gives the median MB/s. The machine's page cache holds the files, as it
 * does for a party tab reading its share each token, so this measures the browser's read path, not the disk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { CHROMIUM, CHROMIUM_ARGS } from '@puma/backend-webgpu/chromium';
import { median, type BenchRow, type BenchSuite } from './report.ts';
import type { IdbLabRequest, IdbLabResult, PartFormat, ReadMode } from './idb-lab/idb-worker.ts';

const MiB = 2 ** 20;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGE = 'scripts/bench/idb-lab/page.html';
const CALL_TIMEOUT_MS = 300_000;
const REPS = 2;
const WAYS: Array<{ mode: ReadMode; depth: number }> = [
  { mode: 'get', depth: 1 },
  { mode: 'get', depth: 2 },
  { mode: 'get', depth: 4 },
  { mode: 'getMany', depth: 4 },
];

const log = (s: string) => process.stderr.write(`idb-reads: ${s}\n`);

function totalMiB(args: string[]): number {
  const a = args.find((x) => x.startsWith('--total-mib='));
  const v = a === undefined ? 256 : Number(a.split('=')[1]);
  if (!Number.isInteger(v) || v < 32 || v > 4096) throw new Error(`--total-mib must be a whole number in [32, 4096], got ${a?.split('=')[1]}`);
  return v;
}

const suite: BenchSuite = async ({ args }) => {
  const total = totalMiB(args);
  const profile = mkdtempSync(path.join(os.tmpdir(), 'puma-idb-reads-'));
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'puma-vite-'));
  let server: ViteDevServer | undefined;
  let context: BrowserContext | undefined;
  try {
    server = await createServer({
      root: ROOT, configFile: false, cacheDir, logLevel: 'error', clearScreen: false,
      server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false, ws: false, watch: null },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await server.listen();
    const base = server.resolvedUrls?.local[0];
    if (!base) throw new Error('Vite dev server did not report a URL');
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(new URL(PAGE, base).href, { timeout: 60_000 });
    await page.waitForFunction(() => window.pumaIdbLab !== undefined, null, { timeout: 60_000, polling: 100 })
      .catch((e: Error) => { throw new Error(`bench page did not load (${e.message.split('\n')[0]}); page errors: ${errors.join('; ') || 'none'}`); });
    const call = (r: IdbLabRequest): Promise<IdbLabResult> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${r.kind} did not finish within ${CALL_TIMEOUT_MS / 1000} s`)), CALL_TIMEOUT_MS); });
      return Promise.race([page.evaluate((req) => window.pumaIdbLab!.run(req), r), limit]).finally(() => clearTimeout(timer));
    };
    const rows: BenchRow[] = [];
    for (const partMiB of [8, 32]) {
      for (const format of ['u8', 'blob'] as PartFormat[]) {
        const parts = Math.floor(total / partMiB);
        const w = await call({ kind: 'write', format, partBytes: partMiB * MiB, parts });
        const writeMBps = w.bytes / 1e6 / (w.ms / 1000);
        log(`${parts} parts of ${partMiB} MiB as ${format} written at ${writeMBps.toFixed(0)} MB/s`);
        await call({ kind: 'read', format, parts, mode: 'get', depth: 1 });
        for (const way of WAYS) {
          const mbps: number[] = [];
          for (let r = 0; r < REPS; r++) {
            const res = await call({ kind: 'read', format, parts, ...way });
            if (res.bytes !== parts * partMiB * MiB) throw new Error(`read ${res.bytes} bytes, wrote ${parts * partMiB * MiB}`);
            mbps.push(res.bytes / 1e6 / (res.ms / 1000));
          }
          const name = `${way.mode === 'get' ? `get, ${way.depth} in flight` : `getMany of ${way.depth}`}`;
          log(`${partMiB} MiB ${format}, ${name}: ${mbps.map((x) => x.toFixed(0)).join(' / ')} MB/s (load ${os.loadavg()[0].toFixed(1)})`);
          rows.push({ name, size: `${parts} × ${partMiB} MiB ${format}`, readMBps: Math.round(median(mbps)), writeMBps: Math.round(writeMBps), load1: Number(os.loadavg()[0].toFixed(1)) });
        }
      }
    }
    await call({ kind: 'clear' });
    return rows;
  } finally {
    await context?.close().catch(() => {});
    await server?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  }
};

export default suite;
