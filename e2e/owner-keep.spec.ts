/**
 * Issue 13, the owner page's kept sharing: the owner keeps no parts, only a record of kilobytes (manifests,
 * seeds, holders) in IndexedDB, and makes any part a party lacks again from the model and the kept seeds. A
 * reopened owner page serves the kept sharing to the same parties: those with their caches download nothing,
 * and one whose cache was emptied gets its whole bundle made again, bit for bit (each part is checked against
 * the first session's sha256). The record keeps the domain check's verdict too, which the reopened page takes
 * instead of running the check again. gpt2-shakespeare (its 50257 x 128 embedding's dense share is 51 MB, cut into
 * seven 8 MiB parts) from the owner page's file input; wasm parties.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { Lab, ownerState, partyState } from './lab.ts';
import { GPT2_DIR, approveAll, openCachePage, partKeysOf, startSession, storedKeys } from './storage-lab.ts';

/** The files of gpt2-shakespeare the owner page reads (weights, config, tokenizer). */
const GPT2_FILES = readdirSync(GPT2_DIR)
  .filter((n) => n === 'config.json' || n.endsWith('.safetensors') && n !== 'mlm-pretrained.safetensors' || ['vocab.json', 'merges.txt'].includes(n))
  .map((n) => path.join(GPT2_DIR, n));

/** Each value in the owner page's kept-sharing store ("puma-owner"): whether it is bytes, and its JSON size. */
function keptValues(page: Page): Promise<Array<{ bytes: boolean; typedArrayBytes: number }>> {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('puma-owner');
    open.onerror = () => reject(new Error(String(open.error)));
    open.onsuccess = () => {
      const db = open.result;
      const req = db.transaction('sharings').objectStore('sharings').getAll();
      req.onsuccess = () => {
        db.close();
        // Bytes held anywhere in a value (seeds, tokenizer files): what the record costs beside its JSON.
        const typed = (v: unknown): number => ArrayBuffer.isView(v) ? v.byteLength : v && typeof v === 'object' ? Object.values(v).reduce((s: number, x) => s + typed(x), 0) : 0;
        resolve((req.result as unknown[]).map((v) => ({ bytes: v instanceof Uint8Array, typedArrayBytes: typed(v) })));
      };
      req.onerror = () => reject(new Error(String(req.error)));
    };
  }));
}

/** Deletes `keys` from a party page's share store, read and written without the page's code. */
function deleteStored(page: Page, keys: string[]): Promise<void> {
  return page.evaluate((keys) => new Promise<void>((resolve, reject) => {
    const open = indexedDB.open('puma-shares');
    open.onerror = () => reject(new Error(String(open.error)));
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction('parts', 'readwrite');
      for (const k of keys) tx.objectStore('parts').delete(k);
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onerror = () => reject(new Error(String(tx.error)));
    };
  }), keys);
}

test('the owner page keeps a record, not the parts, and makes the parts a party lacks again from it', async ({ browser }) => {
  const lab = await Lab.start(browser);
  try {
    await startSession(lab, GPT2_FILES);
    await approveAll(lab);
    await lab.waitClientReady();
    await lab.owner.page.waitForFunction(() => ['done', 'error'].includes(window.pumaOwner?.state.phase ?? ''), null, { timeout: 60_000, polling: 200 });
    const first = await ownerState(lab.owner.page);
    expect(first.phase).toBe('done');
    expect(first.sharesReused).toBe(false);
    expect(first.sharingStartedEarly).toBe(true);
    expect(first.shareBytesSent[1]).toBeGreaterThan(50_000_000);
    for (const p of [1, 2]) {
      expect(first.transfer[p]!.party.partsFetched).toBeGreaterThan(10);
      expect(first.transfer[p]!.party.msFetching).toBeGreaterThan(0);
    }
    const kept = await keptValues(lab.owner.page);
    expect(kept.filter((v) => v.bytes), 'kept parts').toHaveLength(0);
    expect(kept).toHaveLength(1);
    // Seeds (two 32-byte keys per tensor) and the tokenizer files (about 1.3 MB): nothing of the 110 MB of parts.
    expect(kept[0].typedArrayBytes).toBeLessThan(3_000_000);

    // The same parties again, the owner page reopened; party 2's parts are gone from its cache.
    const party2Keys = partKeysOf(await storedKeys(lab.parties[2].page), first.modelId!);
    expect(party2Keys.length).toBeGreaterThan(10);
    for (const r of [lab.owner, ...lab.parties]) {
      await r.page.close();
      await lab.reopen(r);
    }
    await deleteStored(await openCachePage(lab, 2), party2Keys);
    await startSession(lab, GPT2_FILES);
    await approveAll(lab);
    await lab.waitClientReady();
    const second = await ownerState(lab.owner.page);
    expect(second.sharesReused).toBe(true);
    expect(second.epoch).toBe(first.epoch);
    // The reopened page took the domain check's verdict kept with the sharing (same weights, tokenizer, fraction
    // bits and check format) instead of running the check's plaintext pass again: the same norm windows, so the
    // kept sharing's description is the one it publishes.
    expect(first.domainCheck?.outcome === 'inside' ? Object.keys(first.domainCheck.windows).length : 0).toBeGreaterThan(0);
    expect(first.domainCheck).not.toHaveProperty('recorded');
    expect(second.domainCheck).toEqual({ ...first.domainCheck, recorded: true });
    const states = await Promise.all(lab.parties.map((p) => partyState(p.page)));
    for (const s of states.slice(0, 2)) {
      expect(s.shareBytesDownloaded, `party ${s.party}`).toBe(0);
      expect(s.cacheHits).toBe(s.partsTotal);
    }
    // Made again in the reopened owner page's worker from the kept seeds, and accepted against the manifest.
    expect(states[2].shareBytesDownloaded).toBe(first.shareBytesSent[2]);
    expect(states[2].cacheHits).toBe(0);
  } finally {
    await lab.close();
  }
});
