/**
 * The browsers bench's pieces that do not need a browser: row shaping and target verdicts, option parsing, the
 * /proc readers, which files of a folder go to the owner page, and the GPT-2 Hugging Face writer (a real GPT-2
 * checkpoint, gpt2-shakespeare, written back and read again gives the same tensors). Not a speed test.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, loadGpt2, parseSafetensors, type Model } from '@puma/models';
import { MemorySampler, descendants, kbField } from './browsers-memory.ts';
import { MODELS_DIR, gpt2ConfigJson, gpt2HfTensors, ownerPageFiles } from './browsers-model.ts';
import { browsersRow, gpt2BaseVerdict, parseBrowsersOptions, transferSummary, type RunFigures, type TransferFigures } from './browsers-render.ts';

const KIB = 1024;
const MIB = 2 ** 20;
const mem = (tab: number, browser: number) => ({ tabPeakBytes: tab * MIB, browserPeakBytes: browser * MIB });

function figures(over: Partial<RunFigures> = {}): RunFigures {
  return {
    model: 'stories260K',
    run: 'first',
    promptTokens: 5,
    msPerToken: [3000, 500, 700],
    readyMs: 12_340,
    approvedMs: 4_000,
    endErrors: [],
    roundsPerToken: 900,
    partyBytes: [1_000_000, 3_000_000, 2_000_000],
    shareBytesDownloaded: [0, 2_500_000, 2_500_000],
    cacheHits: [0, 0, 0],
    partsTotal: [3, 9, 9],
    memory: { owner: mem(300, 900), client: mem(200, 700), party0: mem(400, 1000), party1: mem(450, 1100), party2: mem(420, 1050) },
    ...over,
  };
}

describe('browsersRow', () => {
  it('times from the start, the prompt step apart from later tokens, the busiest party, memory in MiB', () => {
    const row = browsersRow(figures());
    expect(row.name).toBe('stories260K first run');
    expect(row.size).toBe('5 prompt + 3 tokens');
    expect(row.readyS).toBe(12.3);
    expect(row.approvedS).toBe(4);
    expect(row.endErrors).toBeUndefined();
    expect(row.firstTokenS).toBe(15.3); // 12.34 s to ready + 3 s prompt step
    expect(row.promptStepS).toBe(3);
    expect(row.msPerToken).toBe(600); // mean of 500 and 700; the prompt step is not a per-token time
    expect(row.bytesPerParty).toBe(3_000_000);
    expect(row.rounds).toBe(900);
    expect(row.shareMB).toBe('0.0 / 2.5 / 2.5');
    expect(row.cached).toBe('0/3 0/9 0/9');
    expect(row.partyTabMiB).toBe('400 / 450 / 420');
    expect(row.ownerTabMiB).toBe(300);
    expect(row.clientTabMiB).toBe(200);
    expect(row.maxBrowserMiB).toBe(1100);
    expect(row.memory).toEqual(expect.objectContaining({ party1: { tabPeakMiB: 450, browserPeakMiB: 1100 } }));
    expect(row.targets).toBeUndefined();
  });

  it('carries the errors party pages showed while the session ended', () => {
    expect(browsersRow(figures({ endErrors: ['party 0 at the end: party 1 disconnected', 'party 2 at the end: x'] })).endErrors).toBe('party 0 at the end: party 1 disconnected; party 2 at the end: x');
  });

  it('leaves ms per token out when one token was generated, and refuses a run without tokens', () => {
    expect(browsersRow(figures({ msPerToken: [2000] })).msPerToken).toBeUndefined();
    expect(() => browsersRow(figures({ msPerToken: [] }))).toThrow(/stories260K first run: no token was generated/);
    expect(() => browsersRow(figures({ partyBytes: [1, 2] }))).toThrow(/3 parties/);
  });

  it('judges a GPT-2-base row against the issue-13 targets, with the cached run held to 30 s', () => {
    const big = figures({ model: 'gpt2-base', readyMs: 20_000, msPerToken: [8000, 3500], memory: { ...figures().memory, party2: mem(1600, 2000) } });
    expect(browsersRow(big).targets).toBe('tab <= 1536 MiB: 1600 MiB missed; first token <= 150 s: 28 s met; per token <= 4000 ms: 3500 ms met');
    expect(browsersRow({ ...big, run: 'cached' }).targets).toContain('first token <= 30 s: 28 s met');
    expect(gpt2BaseVerdict('cached', 31, null, 100)).toBe('tab <= 1536 MiB: 100 MiB met; first token <= 30 s: 31 s missed; per token <= 4000 ms: not measured (one token)');
  });
});

describe('parseBrowsersOptions', () => {
  it('defaults to stories260K, 8 tokens, both runs, building the pages; GPT-2-base defaults to 4 tokens', () => {
    expect(parseBrowsersOptions(['browsers', '--json'])).toEqual({ model: 'stories260k', tokens: 8, cached: true, build: true, ownerOnly: false, maxGiB: 18 });
    expect(parseBrowsersOptions(['--model=gpt2-base'])).toEqual({ model: 'gpt2-base', tokens: 4, cached: true, build: true, ownerOnly: false, maxGiB: 18 });
    expect(parseBrowsersOptions(['--model=/tmp/m', '--tokens=2', '--no-cached', '--no-build', '--max-gib=6.5'])).toEqual({ model: '/tmp/m', tokens: 2, cached: false, build: false, ownerOnly: false, maxGiB: 6.5 });
    expect(parseBrowsersOptions(['--model=gpt2-base', '--owner-only'])).toMatchObject({ model: 'gpt2-base', ownerOnly: true });
    expect(parseBrowsersOptions(['--weight-cache-mib=0'])).toMatchObject({ weightCacheMiB: 0 });
    expect(parseBrowsersOptions(['--cached-weight-cache-mib=768,default,1024'])).toMatchObject({ cachedWeightCacheMiB: [768, undefined, 1024] });
    expect(() => parseBrowsersOptions(['--cached-weight-cache-mib=768,x'])).toThrow(/--cached-weight-cache-mib must be a whole number of MiB from 0 to 65536 \(or "default"\), got x/);
    expect(() => parseBrowsersOptions(['--cached-weight-cache-mib=768', '--no-cached'])).toThrow(/--no-cached turns off/);
  });
  it('names a bad token count, an empty model and an unknown option', () => {
    expect(() => parseBrowsersOptions(['--tokens=0'])).toThrow(/--tokens must be an integer from 1 to 256, got 0/);
    expect(() => parseBrowsersOptions(['--tokens=two'])).toThrow(/got two/);
    expect(() => parseBrowsersOptions(['--model='])).toThrow(/--model needs a value/);
    expect(() => parseBrowsersOptions(['--reps=3'])).toThrow(/unknown option --reps=3/);
    expect(() => parseBrowsersOptions(['--max-gib=0'])).toThrow(/--max-gib must be a number of GiB above 0, got 0/);
    expect(() => parseBrowsersOptions(['--weight-cache-mib=-1'])).toThrow(/--weight-cache-mib must be a whole number of MiB from 0 to 65536, got -1/);
    expect(() => parseBrowsersOptions(['--weight-cache-mib=1.5'])).toThrow(/got 1.5/);
  });
});

describe('/proc readers', () => {
  it('reads a kB field in bytes (VmHWM, not VmPeak; Pss, not Pss_Anon), and null when it is missing', () => {
    const status = 'Name:\tchromium\nVmPeak:\t 9000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n';
    expect(kbField(status, 'VmHWM')).toBe(200 * MIB);
    expect(kbField('Rss:   1748 kB\nPss_Anon:   112 kB\nPss:   184 kB\n', 'Pss')).toBe(184 * KIB);
    expect(kbField('Name:\tzombie\n', 'VmHWM')).toBeNull();
  });
  it('finds a process by its --user-data-dir, counts its PSS, and calls the limit once when over it', async () => {
    const dir = `/tmp/puma-bench-sampler-test-${process.pid}`;
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', '--', `--user-data-dir=${dir}`], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const over: number[] = [];
      const sampler = new MemorySampler(new Map([['fake', dir]]), { limitBytes: 1, onOverLimit: (b) => over.push(b) });
      sampler.beginRun();
      const first = sampler.read().get('fake')!;
      sampler.read();
      expect(first.browserPeakBytes).toBeGreaterThan(MIB); // a node process (its code pages shared with others)
      expect(first.tabPeakBytes).toBe(0); // no renderer among its processes
      expect(over).toHaveLength(1);
      expect(over[0]).toBe(first.browserPeakBytes);
      expect(new MemorySampler(new Map([['absent', `${dir}-none`]])).read().get('absent')).toEqual({ tabPeakBytes: 0, browserPeakBytes: 0 });
    } finally {
      child.kill();
    }
  });

  it("counts a renderer's high-water RSS, and a new run starts from its current RSS", async () => {
    // A stand-in browser (its --user-data-dir) with a stand-in renderer child that touches 200 MiB, lets it go
    // and says so. The browser's command line holds its script, which must not contain the flag "--type=".
    const dir = `/tmp/puma-bench-hwm-test-${process.pid}`;
    const renderer = `let b = Buffer.alloc(200 * 2 ** 20, 1); setTimeout(() => { b = null; globalThis.gc(); console.log('released'); }, 300); setTimeout(() => {}, 20000);`;
    const browser = `const c = require('node:child_process').spawn(process.execPath, ['--expose-gc', '-e', ${JSON.stringify(renderer)}, '--', '--type' + '=renderer'], { stdio: ['ignore', 'inherit', 'ignore'] }); process.on('SIGTERM', () => { c.kill(); process.exit(0); }); setTimeout(() => {}, 20000);`;
    const child = spawn(process.execPath, ['-e', browser, '--', `--user-data-dir=${dir}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the stand-in renderer did not report')), 15_000);
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('released')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const sampler = new MemorySampler(new Map([['fake', dir]]));
      expect(sampler.liveRenderers()).toHaveLength(1);
      expect(sampler.read().get('fake')!.tabPeakBytes).toBeGreaterThan(200 * MIB);
      sampler.beginRun();
      expect(sampler.read().get('fake')!.tabPeakBytes).toBeLessThan(150 * MIB);
    } finally {
      child.kill();
    }
  });

  it('collects a browser and everything below it, not its siblings', () => {
    const p = (pid: number, ppid: number) => ({ pid, ppid, cmdline: '' });
    const procs = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(13, 11), p(20, 1), p(21, 20)];
    expect(descendants(procs, 10).map((x) => x.pid).sort()).toEqual([10, 11, 12, 13]);
    expect(descendants(procs, 99)).toEqual([]);
  });
});

describe('model files', () => {
  it('feeds the owner page weights, config and tokenizer files only', () => {
    expect(ownerPageFiles(['SOURCE.md', 'val.txt', 'encoder.json', 'vocab.bpe', 'vocab.json', 'merges.txt', 'config.json', 'model.safetensors', 'tokenizer_config.json']))
      .toEqual(['config.json', 'merges.txt', 'model.safetensors', 'vocab.json']);
    expect(ownerPageFiles(['stories260K.bin', 'tok512.bin', 'SOURCE.md'])).toEqual(['stories260K.bin', 'tok512.bin']);
  });

  it('writes a GPT-2 model in openai-community/gpt2 layout that loads back to the same weights (gpt2-shakespeare)', async () => {
    const dir = path.join(MODELS_DIR, 'gpt2-shakespeare');
    const original = loadGpt2(JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')), parseSafetensors(await readFile(path.join(dir, 'model.safetensors')), 'model.safetensors'));
    const tensors = gpt2HfTensors(original);
    expect(Object.keys(tensors)).toHaveLength(2 + 12 * original.config.numLayers + 2);
    const again = loadGpt2(gpt2ConfigJson(original), parseSafetensors(encodeSafetensors(tensors), 'written.safetensors'));
    expect(again.unusedTensors).toEqual([]);
    expect(again.config).toEqual(original.config);
    const flat = (m: Model) => {
      const w = m.weights;
      const l = w.layers.flatMap((x) => {
        if (x.mlp.kind !== 'dense') throw new Error('GPT-2 layers are dense');
        return [x.attnNorm.scale, x.attnNorm.bias!, x.attn.q.weight, x.attn.k.weight, x.attn.v.weight, x.attn.q.bias!, x.attn.v.bias!, x.attn.o.weight, x.mlpNorm.scale,
          x.mlp.up.weight, x.mlp.down.weight, x.mlp.down.bias!];
      });
      return [w.embeddings.token, w.embeddings.position!, ...l, w.finalNorm!.scale, w.finalNorm!.bias!];
    };
    const a = flat(original);
    const b = flat(again);
    expect(b).toHaveLength(a.length);
    // Element by element in a loop: toEqual on millions of elements takes minutes.
    const mismatches = a.map((t, i) => {
      expect(b[i].shape).toEqual(t.shape);
      let n = 0;
      for (let j = 0; j < t.data.length; j++) if (Math.fround(b[i].data[j]) !== Math.fround(t.data[j])) n++;
      return n;
    });
    expect(mismatches.every((n) => n === 0), `mismatching values per tensor: ${mismatches}`).toBe(true);
  });

  it('refuses to write what is not a tied GPT-2', async () => {
    const dir = path.join(MODELS_DIR, 'gpt2-shakespeare');
    const m = loadGpt2(JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')), parseSafetensors(await readFile(path.join(dir, 'model.safetensors')), 'model.safetensors'));
    expect(() => gpt2HfTensors({ ...m, config: { ...m.config, arch: 'llama' } })).toThrow(/expected a GPT-2 model, got llama/);
    expect(() => gpt2ConfigJson({ ...m, config: { ...m.config, tiedHead: false } })).toThrow(/tied heads only/);
  });
});

describe('transferSummary', () => {
  it("says where the owner's and each receiving party's transfer time went, skipping parties that received nothing", () => {
    const party = (bytes: number, fetchMs: number) => ({ ownerWaitingForAcksMs: 1500, ownerSendingMs: 200, fetchMs, waitingForPartsMs: fetchMs - 3000, verifyingMs: 2000, waitingForStoresMs: 1000, bytes });
    const t: TransferFigures = {
      splitPassMs: 95_000, serveMs: 300_000, ownerWaitingForPartsMs: 40_000,
      making: { valuesMs: 1200, splittingMs: 38_000, copyingMs: 2500, denseSplits: 150 },
      parties: [party(0, 0), party(600_000_000, 120_000), null],
    };
    expect(transferSummary(t)).toBe(
      'split pass 95.0 s, serve 300.0 s, worker made 150 dense parts: values 1.2 s, split 38.0 s, copies 2.5 s, send loop waited 40.0 s for parts; ' +
        'p1 600 MB at 5.0 MB/s: owner waited 1.5 s for acks, 0.2 s in send; party fetch 120.0 s = arrival 117.0 s + sha256 2.0 s + stores 1.0 s',
    );
    expect(transferSummary({ ...t, splitPassMs: null, making: null, parties: [null, null, null] })).toBe('kept sharing, serve 300.0 s, worker made no part, send loop waited 40.0 s for parts');
  });

  it('a row carries the summary when the run has transfer figures', () => {
    const transfer: TransferFigures = { splitPassMs: 1000, serveMs: 2000, ownerWaitingForPartsMs: 0, making: null, parties: [null, null, null] };
    expect(browsersRow(figures({ transfer })).transfer).toBe(transferSummary(transfer));
    expect(browsersRow(figures()).transfer).toBeUndefined();
  });
});
