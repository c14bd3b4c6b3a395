/**
 * Helpers of the storage and chat specs on top of the shared rig (lab.ts, used read-only): a session whose owner
 * page is fed any model's files; a session whose model owner is `puma owner` (a Node process serving a share
 * folder that `puma share` wrote; the owner page splits a model on its main thread, which for gpt2-shakespeare
 * stalls its links past the parties' idle timeout); a storage estimate overridden in a role's pages (a small
 * quota without filling a disk); and what a party page's IndexedDB holds, read with the raw IndexedDB API so
 * the check does not go through the page code under test.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, type BrowserContext, type Page } from '@playwright/test';
import { ROOT, partyState, type Lab } from './lab.ts';

const PUMA_CLI = path.join(ROOT, 'apps/cli/bin/puma.mjs');

export const MODELS = process.env.PUMA_MODELS ?? path.join(ROOT, '../shared/models');
export const GPT2_DIR = path.join(MODELS, 'gpt2-shakespeare');

/**
 * Makes navigator.storage.estimate() answer `quota`/`usage` in every page of `context`, and counts calls of
 * navigator.storage.persist() in window.__persistCalls (the real persist still answers).
 */
export async function overrideStorage(context: BrowserContext, o: { quota?: number; usage?: number } = {}): Promise<void> {
  await context.addInitScript((q) => {
    const w = window as unknown as { __persistCalls: number };
    w.__persistCalls = 0;
    const storage = navigator.storage;
    const persist = storage.persist.bind(storage);
    storage.persist = () => {
      w.__persistCalls += 1;
      return persist();
    };
    if (q.quota !== undefined) storage.estimate = () => Promise.resolve({ quota: q.quota, usage: q.usage ?? 0 });
  }, o);
}

/** A new session whose owner page gets `files`, with three wasm party pages; returns the links. */
export async function startSession(lab: Lab, files: string[]): Promise<{ partyLinks: string[]; ownerLink: string }> {
  const links = await lab.newSession();
  await lab.owner.page.goto(links.ownerLink);
  await lab.owner.page.locator('#files').setInputFiles(files);
  for (let i = 0; i < 3; i++) await lab.startParty(i, links.partyLinks[i], 'wasm');
  return links;
}

/** The party page's codes once shown, then the approvals on the owner and client pages. */
export async function approveAll(lab: Lab): Promise<void> {
  await lab.approveEverywhere(await Promise.all(lab.parties.map((p) => lab.partyCode(p.page))));
}

/** Keys in the party page's share store (IndexedDB "puma-shares"), read without the page's code. */
export function storedKeys(page: Page): Promise<string[]> {
  return page.evaluate(() => new Promise<string[]>((resolve, reject) => {
    const open = indexedDB.open('puma-shares');
    open.onerror = () => reject(new Error(String(open.error)));
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains('parts')) {
        db.close();
        resolve([]);
        return;
      }
      const req = db.transaction('parts').objectStore('parts').getAllKeys();
      req.onsuccess = () => {
        db.close();
        resolve(req.result.map(String));
      };
      req.onerror = () => reject(new Error(String(req.error)));
    };
  }));
}

/** Part keys of one model in a key list (the binding records left out). */
export const partKeysOf = (keys: string[], modelId: string) => keys.filter((k) => !k.startsWith('binding/') && k.split('/')[1] === modelId);

/** A party page without a session (its cache panel only), in the role's context. */
export async function openCachePage(lab: Lab, party: number): Promise<Page> {
  const page = lab.parties[party].page;
  await page.goto(`${lab.coordinator.url}/party/?party=${party}`);
  await page.waitForFunction(() => /^no session/.test(window.pumaParty?.state.phase ?? ''), null, { timeout: 30_000 });
  const s = await partyState(page);
  expect(s.error).toBeNull();
  return page;
}

/** `puma share`: the model's three shares and public description in `out` (one sharing, one epoch). */
export function shareOnDisk(model: string, out: string): void {
  execFileSync(process.execPath, [PUMA_CLI, 'share', '--model', model, '--out', out], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 });
}

export interface NodeOwner {
  exit: Promise<number | null>;
  output(): string;
  kill(): void;
}

/**
 * A new session on the client page, the three wasm party pages, and `puma owner` serving `bundles` to the
 * identities those pages show (its own key and the owner slot's secret in `home`); the client page approves
 * the parties as a person would. The caller waits for the client and ends the owner.
 */
export async function startNodeOwnedSession(lab: Lab, bundles: string, home: string): Promise<NodeOwner> {
  const links = await lab.newSession();
  for (let i = 0; i < 3; i++) await lab.startParty(i, links.partyLinks[i], 'wasm');
  const codes = await Promise.all(lab.parties.map((p) => lab.partyCode(p.page)));
  const fingerprints = await Promise.all(lab.parties.map(async (p) => (await partyState(p.page)).fingerprint!));
  const secretFile = path.join(home, `owner-secret-${links.sessionId}`);
  writeFileSync(secretFile, new URLSearchParams(new URL(links.ownerLink).hash.slice(1)).get('secret')!, { mode: 0o600 });
  const args = ['owner', '--coordinator', lab.coordinator.url, '--session', links.sessionId, '--bundles', bundles, '--parties', fingerprints.join(','),
    '--secret-file', secretFile, '--key', path.join(home, 'owner-key.json'), '--sessions', '1', '--connect-timeout', '300'];
  const child = spawn(process.execPath, [PUMA_CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  const owner: NodeOwner = {
    exit,
    output: () => out,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
  try {
    await lab.approve(lab.client.page, codes);
  } catch (e) {
    owner.kill();
    throw new Error(`${(e as Error).message}\nNode owner output:\n${out}`);
  }
  return owner;
}
