/**
 * Issue 13, browser storage on the party pages: persistent storage is asked for and the quota shown; a share
 * that does not fit the quota is refused before any part is downloaded, with the bytes needed and available
 * named on the page and on the other endpoints; a party page closed mid-download resumes next session with
 * only the missing parts (gpt2-shakespeare served by `puma owner` from a share folder: parties 1 and 2 download
 * its 8 MiB dense slices) and the secure output still equals plaintext; the page lists what it caches and
 * deletes one sharing or everything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { LLAMA_BOS, generateGreedy } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { Lab, MODEL_DIR, MODEL_FILES, READY_TIMEOUT_MS, clientState, ownerState, partyState, type PartyPageState } from './lab.ts';
import { GPT2_DIR, openCachePage, overrideStorage, partKeysOf, shareOnDisk, startNodeOwnedSession, startSession, storedKeys } from './storage-lab.ts';

const MiB = 1024 ** 2;
const GPT2_PROMPT = 'ROMEO:';
const GPT2_TOKENS = 3;
/** The id `puma share` gives gpt2-shakespeare: its folder's name. */
const GPT2_ID = 'gpt2-shakespeare';

test.describe.configure({ mode: 'serial' });

test('persistent storage is asked for, the quota shown, and a share over the quota is refused before any download', async ({ browser }) => {
  const lab = await Lab.start(browser);
  try {
    // Party 1's pages see a 1 MiB quota with 0.25 MiB used; its stories260K share has a 2 MB dense component.
    await overrideStorage(lab.parties[1].context, { quota: MiB, usage: MiB / 4 });
    await overrideStorage(lab.parties[0].context);
    await startSession(lab, MODEL_FILES);
    const codes = await Promise.all(lab.parties.map((p) => lab.partyCode(p.page)));
    // Party 1 refuses as soon as the owner's manifest arrives, before the client's person has approved: the
    // client page's pending approval ends with that refusal instead of waiting for a click that cannot help.
    await lab.approve(lab.owner.page, codes);
    const page = lab.parties[1].page;
    await page.waitForFunction(() => window.pumaParty?.state.phase === 'error', null, { timeout: READY_TIMEOUT_MS, polling: 200 });
    const s = await partyState(page);
    // Twice in clean-clone CI runs (never in 30 local runs) party 1's page ended before its manifest was checked,
    // with no error recorded; a link race that ended a session the same way was fixed in link.ts. If it happens
    // again, the failure names what every endpoint shows.
    if (s.storage.needs === null) {
      const others = await Promise.all([
        ...[0, 2].map(async (i) => { const o = await partyState(lab.parties[i].page); return `party ${i}: ${o.phase}; ${o.error}`; }),
        clientState(lab.client.page).then((c) => `client: ${c.phase}; ${c.error}`),
        ownerState(lab.owner.page).then((o) => `owner: ${JSON.stringify(o).slice(0, 600)}`),
      ]);
      throw new Error(`party 1 ended before its manifest was checked: ${s.error}\n${others.join('\n')}`);
    }
    expect(await page.evaluate(() => (window as unknown as { __persistCalls: number }).__persistCalls)).toBe(1);
    expect(s.storage.persistAsked).toBe(true);
    expect(s.storage.estimate).toEqual({ quota: MiB, usage: MiB / 4 });
    await expect(page.locator('#storage')).toContainText('256.0 KiB used of 1.00 MiB quota (768.0 KiB free)');
    // The refusal names the bytes needed and available, on the page and as the session's failure.
    expect(s.storage.needs!.partsCached).toBe(0);
    expect(s.storage.needs!.bytesMissing).toBeGreaterThan(MiB);
    expect(s.error).toMatch(/^(party 1: )?not enough storage for model stories260K: party 1's share needs \d+\.\d\d MiB more, but this browser lets this site store only 768\.0 KiB more \(quota 1\.00 MiB, 256\.0 KiB used\)/);
    await expect(page.getByRole('alert')).toContainText('not enough storage for model stories260K');
    await expect(page.locator('#needs')).toContainText('does not fit');
    // Nothing was asked for or stored: no weight report, no part, no binding record in IndexedDB.
    expect(s.shareBytesDownloaded).toBeNull();
    expect(await storedKeys(page)).toEqual([]);
    await lab.client.page.waitForFunction(() => window.pumaClient?.state.phase === 'error', null, { timeout: 30_000 });
    expect((await clientState(lab.client.page)).error).toContain('not enough storage for model stories260K');
    await expect(lab.client.page.getByRole('button', { name: 'Approve these parties' })).toBeDisabled();
    await expect(lab.client.page.locator('#approval-text')).toContainText('Not approved: ');

    // Party 0 (a real estimate) asked too and shows its quota. The owner sends each party its manifest once that
    // party's hello is in, so party 1's refusal can end the session before party 0's manifest goes out (seen in
    // CI): party 0 then fails with party 1's reason; when its manifest did arrive first, its share fit.
    const p0page = lab.parties[0].page;
    await p0page.waitForFunction(() => window.pumaParty?.state.phase === 'error', null, { timeout: 30_000, polling: 200 });
    const p0 = await partyState(p0page);
    expect(await p0page.evaluate(() => (window as unknown as { __persistCalls: number }).__persistCalls)).toBe(1);
    expect(p0.storage.estimate!.quota).toBeGreaterThan(10 * MiB);
    await expect(p0page.locator('#storage')).toContainText(/used of .* quota/);
    expect(p0.storage.refusal).toBeNull();
    expect(p0.error).toContain('not enough storage for model stories260K: party 1');
    if (p0.storage.needs !== null) expect(p0.storage.needs.bytesMissing).toBeGreaterThan(0);
    console.log(`storage: party 0 ${p0.storage.needs === null ? 'was stopped before its manifest came' : 'had its manifest checked (it fit)'}; its quota ${p0.storage.estimate!.quota}, usage ${p0.storage.estimate!.usage}`);
  } finally {
    await lab.close();
  }
});

test.describe('one lab: resume, then list and delete', () => {
  let lab: Lab;

  let home: string;

  test.beforeAll(async ({ browser }) => {
    lab = await Lab.start(browser);
    home = mkdtempSync(path.join(os.tmpdir(), 'puma-e2e-storage-'));
  });

  test.afterAll(async () => {
    await lab?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('a party page closed mid-download resumes with only the missing parts, and the output equals plaintext', async () => {
    const { model, tokenizer } = await loadModel(GPT2_DIR);
    const promptIds = tokenizer!.encode(GPT2_PROMPT);
    const expected = generateGreedy(model, promptIds, GPT2_TOKENS).slice(promptIds.length);
    const bundles = path.join(home, 'shares');
    shareOnDisk(GPT2_DIR, bundles);

    // Session 1: party 1 is closed once it holds at least one 8 MiB dense slice.
    const first = await startNodeOwnedSession(lab, bundles, home);
    const p1 = lab.parties[1];
    let before: PartyPageState;
    try {
      await p1.page.waitForFunction((min) => (window.pumaParty?.state.shareBytesDownloaded ?? 0) >= min, 8 * MiB, { timeout: READY_TIMEOUT_MS, polling: 20 });
      before = await partyState(p1.page);
      await p1.page.close();
      // The others learn it: the client page names party 1 (the owner would retry the session; it is ended here).
      await lab.client.page.waitForFunction(() => window.pumaClient?.state.phase === 'error', null, { timeout: 30_000, polling: 200 });
      expect((await clientState(lab.client.page)).error).toContain('party 1');
    } finally {
      first.kill();
    }
    const modelId = before.storage.modelId!;
    const partsTotal = before.partsTotal!;
    const bytesTotal = before.storage.needs!.bytesTotal;
    expect(modelId).toBe('gpt2-shakespeare');
    expect(before.storage.needs!.partsCached).toBe(0);

    await lab.reopen(p1);
    const kept = partKeysOf(await storedKeys(await openCachePage(lab, 1)), modelId);
    expect(kept.length, 'parts stored before the page closed').toBeGreaterThan(0);
    expect(kept.length, 'the download was still going when the page closed').toBeLessThan(partsTotal);

    // Session 2, the same browsers and share folder (same sharing): party 1 fetches only what it lacks.
    const second = await startNodeOwnedSession(lab, bundles, home);
    try {
      await lab.waitClientReady();
      const s = await partyState(p1.page);
      // Every stored part that checks out is reused; one whose write the close cut short (seen under load: two
      // keys stored, one of them refetched) is fetched again like any missing part.
      const hits = s.cacheHits!;
      expect(hits).toBeGreaterThan(0);
      expect(hits).toBeLessThanOrEqual(kept.length);
      expect(s.partsTotal).toBe(partsTotal);
      expect(s.storage.needs!.partsCached).toBe(kept.length);
      expect(s.storage.refusal).toBeNull();
      if (hits === kept.length) expect(s.shareBytesDownloaded).toBe(s.storage.needs!.bytesMissing);
      else expect(s.shareBytesDownloaded).toBeGreaterThan(s.storage.needs!.bytesMissing);
      expect(s.shareBytesDownloaded).toBeLessThan(bytesTotal);
      expect(s.resumed).toBe(`resumed: ${hits} of ${partsTotal} parts cached`);
      await expect(p1.page.locator('#resumed')).toHaveText(`resumed: ${hits} of ${partsTotal} parts cached`);
      console.log(`resume: party 1 had ${kept.length} of ${partsTotal} parts stored, ${hits} reused; fetched ${s.shareBytesDownloaded} of ${bytesTotal} bytes`);

      const client = await lab.generate(GPT2_PROMPT, GPT2_TOKENS);
      expect(client.promptIds).toEqual(promptIds);
      expect(client.tokens).toEqual(expected);
      await lab.endSession(lab.parties.map((p) => p.page));
      expect(await second.exit, second.output()).toBe(0);
    } finally {
      second.kill();
    }
    // Every part is cached now.
    expect(partKeysOf(await storedKeys(p1.page), modelId).length).toBe(partsTotal);
  });

  test('the party page lists what it caches and deletes one sharing, then everything', async () => {
    // A second model in the same browsers: stories260K.
    await lab.openSession(await lab.newSession());
    const client = await lab.generate('Once', 1);
    const { tokenizer } = await loadModel(MODEL_DIR);
    expect(client.promptIds).toEqual([LLAMA_BOS, ...tokenizer!.encode('Once')]);
    await lab.endSession(lab.parties.map((p) => p.page));

    const page = await openCachePage(lab, 1);
    const rows = (await partyState(page)).cache;
    expect(rows.map((r) => r.modelId).sort()).toEqual([GPT2_ID, 'stories260K']);
    const keys = await storedKeys(page);
    for (const r of rows) {
      expect(r.party).toBe(1);
      expect(r.parts).toBe(partKeysOf(keys, r.modelId).length);
      expect(r.bytes).toBeGreaterThan(0);
      expect(r.lastWritten).toBeGreaterThan(Date.now() - 30 * 60_000);
      const tr = page.locator(`#cache-list tr[data-model="${r.modelId}"]`);
      await expect(tr).toContainText(r.epoch);
      await expect(tr).toContainText('party 1');
    }
    await expect(page.locator('#cache-estimate')).toContainText(/used of .* this browser allows this site/);

    await page.getByRole('button', { name: `Delete ${GPT2_ID} sharing ${rows.find((r) => r.modelId === GPT2_ID)!.epoch}` }).click();
    await expect(page.locator(`#cache-list tr[data-model="${GPT2_ID}"]`)).toHaveCount(0);
    await expect(page.locator('#cache-note')).toContainText(`deleted ${GPT2_ID}`);
    const left = await storedKeys(page);
    expect(partKeysOf(left, GPT2_ID)).toEqual([]);
    expect(left.filter((k) => k.startsWith(`binding/${GPT2_ID}/`))).toEqual([]);
    expect(partKeysOf(left, 'stories260K').length).toBe(rows.find((r) => r.modelId === 'stories260K')!.parts);

    await page.getByRole('button', { name: 'Delete all' }).click();
    await expect(page.locator('#cache-list')).toHaveText('nothing cached');
    expect(await storedKeys(page)).toEqual([]);
    expect((await partyState(page)).cache).toEqual([]);
    await expect(page.getByRole('button', { name: 'Delete all' })).toBeDisabled();
  });
});
