/**
 * Issue 13, the owner page's kept sharing in IndexedDB: each part is stored as its own bytes, not as the whole
 * tensor share it was cut from, and a reopened owner page serves the kept sharing to the same parties, which
 * then download nothing. gpt2-shakespeare (its 50257 x 128 embedding's dense share is 51 MB, cut into seven
 * 8 MiB parts) from the owner page's file input; wasm parties.
 *
 * A part is a subarray of its tensor's dense share, and an IndexedDB put clones a view's whole backing buffer:
 * before the owner page copied each part out, the embedding's seven parts stored 7 x 51 MB, and GPT-2-base's
 * 37 embedding parts 11 GB, which froze the owner page past the parties' idle limit (bench browsers).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { Lab, ownerState, partyState } from './lab.ts';
import { GPT2_DIR, approveAll, startSession } from './storage-lab.ts';

/** The files of gpt2-shakespeare the owner page reads (weights, config, tokenizer). */
const GPT2_FILES = readdirSync(GPT2_DIR)
  .filter((n) => n === 'config.json' || n.endsWith('.safetensors') && n !== 'mlm-pretrained.safetensors' || ['vocab.json', 'merges.txt'].includes(n))
  .map((n) => path.join(GPT2_DIR, n));

interface StoredPart {
  /** Bytes of the part, and of the buffer the store gave back under it (what it holds for this key). */
  bytes: number;
  bufferBytes: number;
}

/** Every Uint8Array value in the owner page's kept-sharing store ("puma-owner"), read without the page's code. */
function keptParts(page: Page): Promise<StoredPart[]> {
  return page.evaluate(() => new Promise<StoredPart[]>((resolve, reject) => {
    const open = indexedDB.open('puma-owner');
    open.onerror = () => reject(new Error(String(open.error)));
    open.onsuccess = () => {
      const db = open.result;
      const req = db.transaction('sharings').objectStore('sharings').getAll();
      req.onsuccess = () => {
        db.close();
        resolve((req.result as unknown[]).filter((v): v is Uint8Array => v instanceof Uint8Array).map((v) => ({ bytes: v.byteLength, bufferBytes: v.buffer.byteLength })));
      };
      req.onerror = () => reject(new Error(String(req.error)));
    };
  }));
}

test('the owner page keeps each part as its own bytes, and its kept sharing serves the same parties again', async ({ browser }) => {
  const lab = await Lab.start(browser);
  try {
    await startSession(lab, GPT2_FILES);
    await approveAll(lab);
    await lab.waitClientReady();
    const first = await ownerState(lab.owner.page);
    expect(first.sharesReused).toBe(false);
    expect(first.shareBytesSent[1]).toBeGreaterThan(50_000_000);
    // Keeping runs before a holder gets anything, so the parts are all there once the owner is done.
    await lab.owner.page.waitForFunction(() => ['done', 'error'].includes(window.pumaOwner?.state.phase ?? ''), null, { timeout: 60_000, polling: 200 });
    expect((await ownerState(lab.owner.page)).phase).toBe('done');
    const parts = await keptParts(lab.owner.page);
    const whole = parts.filter((p) => p.bytes === 8 * 2 ** 20).length;
    expect(whole, 'full 8 MiB dense parts (the embedding alone has six)').toBeGreaterThanOrEqual(6);
    for (const p of parts) expect(p.bufferBytes, `a kept part of ${p.bytes} bytes`).toBe(p.bytes);
    const kept = parts.reduce((s, p) => s + p.bufferBytes, 0);
    // Parties 1 and 2 share their dense parts, which are kept once: about one party's bundle, not seven times it.
    expect(kept).toBeLessThan(first.shareBytesSent[1] * 1.05);

    // The same parties again, the owner page reopened: the kept sharing, read back part by part, is served.
    for (const r of [lab.owner, ...lab.parties]) {
      await r.page.close();
      await lab.reopen(r);
    }
    await startSession(lab, GPT2_FILES);
    await approveAll(lab);
    await lab.waitClientReady();
    const second = await ownerState(lab.owner.page);
    expect(second.sharesReused).toBe(true);
    expect(second.epoch).toBe(first.epoch);
    for (const p of lab.parties) {
      const s = await partyState(p.page);
      expect(s.shareBytesDownloaded, `party ${s.party}`).toBe(0);
      expect(s.cacheHits).toBe(s.partsTotal);
    }
  } finally {
    await lab.close();
  }
});
