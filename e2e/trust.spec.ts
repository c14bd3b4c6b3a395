/**
 * Issue 11, the pages' side of the trust model: a coordinator on another origin is contacted only after the
 * person confirms it; a reloaded page re-joins its slot with the secret it kept, while another browser profile
 * with the same link cannot take the slot; one browser profile running two parties is refused before any
 * bundle is sent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type Page } from '@playwright/test';
import { createSession, getSession } from '@puma/transport-webrtc';
import { Lab, partyState } from './lab.ts';

test.describe.configure({ mode: 'serial' });

let lab: Lab;

test.beforeAll(async ({ browser }) => {
  lab = await Lab.start(browser);
});

test.afterAll(async () => {
  await lab?.close();
});

/** A party link built the way the client page builds one. */
async function partyLink(party: number): Promise<{ sessionId: string; link: string }> {
  const s = await createSession(lab.coordinator.url, { model: 'stories260K' });
  const secret = s.slotSecrets[`party${party}` as 'party0'];
  return { sessionId: s.id, link: `${lab.coordinator.url}/party/?session=${s.id}&party=${party}&backend=wasm#secret=${secret}` };
}

const phase = (page: Page) => page.evaluate(() => window.pumaParty?.state.phase ?? '');

test('a ?coordinator= on another origin is contacted only after the person confirms it', async () => {
  let requests = 0;
  const other = http.createServer((req, res) => {
    requests++;
    res.writeHead(404, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type' });
    res.end(JSON.stringify({ error: 'not a coordinator' }));
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const otherOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  try {
    const { link } = await partyLink(0);
    const url = new URL(link);
    url.searchParams.set('coordinator', otherOrigin);
    const page = lab.parties[0].page;
    await page.goto(url.href);
    const confirm = page.getByRole('button', { name: `Use the coordinator at ${otherOrigin}` });
    await expect(confirm).toBeVisible();
    await expect(page.locator('#coordinator-confirm')).toContainText(`instead of this page's own (${lab.coordinator.url})`);
    // The page still shows its own safety code, and waits: nothing reaches the other origin.
    await expect(page.locator('#own-code')).toHaveText(/^\d{5}( \d{5}){3}$/);
    await page.waitForTimeout(1_500);
    expect(requests).toBe(0);
    await confirm.click();
    await expect(page.getByRole('alert')).toContainText(otherOrigin.replace('http://', ''));
    expect(requests).toBeGreaterThan(0);
  } finally {
    await new Promise<void>((resolve) => other.close(() => resolve()));
  }
});

test('a reloaded party page re-joins its slot with the kept secret; another profile with the same link is refused', async () => {
  const { sessionId, link } = await partyLink(1);
  const page = lab.parties[1].page;
  await page.goto(link);
  await expect.poll(() => phase(page)).toBe('connecting');
  // The secret is taken out of the address bar (it stays in this tab's sessionStorage).
  expect(page.url()).not.toContain('secret=');
  const fingerprint = (await partyState(page)).fingerprint;
  await expect.poll(async () => (await getSession(lab.coordinator.url, sessionId)).slots.party1).toEqual({ joined: true, connected: true, identity: fingerprint });
  await page.reload();
  await expect.poll(() => phase(page), { timeout: 20_000 }).toBe('connecting');
  expect((await partyState(page)).error).toBeNull();
  await expect.poll(async () => (await getSession(lab.coordinator.url, sessionId)).slots.party1.connected, { timeout: 20_000 }).toBe(true);
  // The whole link, secret included, in another browser profile (another identity): the slot stays taken.
  const elsewhere = lab.parties[2].page;
  await elsewhere.goto(link);
  await expect(elsewhere.getByRole('alert')).toContainText('slot party1 of session', { timeout: 20_000 });
  await expect(elsewhere.getByRole('alert')).toContainText(/bound to another identity|is in use/);
  await page.goto('about:blank');
});

test("two party links opened in the client's browser profile: refused as one identity, no bundle sent", async () => {
  const links = await lab.newSession();
  await lab.startOwner(links.ownerLink);
  // Parties 0 and 1 in the client's own browser context: one profile, so one identity and one share store.
  const shared: Page[] = [];
  for (const i of [0, 1]) {
    const page = await lab.client.context.newPage();
    shared.push(page);
    const url = new URL(links.partyLinks[i]);
    url.searchParams.set('backend', 'wasm');
    await page.goto(url.href);
  }
  await lab.startParty(2, links.partyLinks[2], 'wasm');
  const clientCode = await lab.client.page.locator('#own-code').textContent();
  expect(await lab.partyCode(shared[0])).toBe(clientCode);
  expect(await lab.partyCode(shared[1])).toBe(clientCode);
  try {
    for (const page of [lab.owner.page, lab.client.page]) {
      await expect(page.getByRole('alert'), page.url()).toContainText('party 0 and party 1 proved the same identity', { timeout: 90_000 });
      await expect(page.getByRole('button', { name: 'Approve these parties' })).toBeDisabled();
    }
    for (const page of [...shared, lab.parties[2].page]) {
      await expect(page.getByRole('alert'), page.url()).toContainText('same identity', { timeout: 15_000 });
      expect((await partyState(page)).shareBytesDownloaded ?? 0).toBe(0);
    }
    expect((await lab.owner.page.evaluate(() => window.pumaOwner!.state.approvedParties))).toBeNull();
    // Nothing of any sharing reached the profile's share store.
    const stored = await shared[0].evaluate(
      () =>
        new Promise<number>((resolve, reject) => {
          const open = indexedDB.open('puma-shares');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            if (!db.objectStoreNames.contains('parts')) return resolve(0);
            const count = db.transaction('parts').objectStore('parts').count();
            count.onsuccess = () => resolve(count.result);
          };
        }),
    );
    expect(stored).toBe(0);
  } finally {
    await Promise.allSettled(shared.map((p) => p.close()));
  }
});
