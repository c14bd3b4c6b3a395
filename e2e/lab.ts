/**
 * The end-to-end rig: a coordinator on 127.0.0.1 serving the built pages (dist/pages), one browser context per
 * role (owner, client, three parties; IndexedDB, and so each role's identity key, persists within a context),
 * and helpers that drive a whole session through the pages' own controls and read what they show
 * (window.pumaParty / pumaClient / pumaOwner), including the approval step a person does: read the safety code
 * each party page shows, check the owner and client pages show the same codes, press "Approve these parties".
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { startCoordinator, type Coordinator, type CoordinatorOptions } from '@puma/coordinator';
import type { PartyPageState } from '../apps/party/src/main.ts';
import type { ClientPageState } from '../apps/client/src/main.ts';
import type { OwnerPageState } from '../apps/client/src/owner.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const PAGES_DIR = path.join(ROOT, 'dist/pages');
export const MODEL_DIR = path.join(process.env.PUMA_MODELS ?? path.join(ROOT, '../shared/models'), 'stories260K');
export const MODEL_FILES = [path.join(MODEL_DIR, 'stories260K.bin'), path.join(MODEL_DIR, 'tok512.bin')];

/** Connecting five endpoints and sharing the model; generous for a loaded 2-core machine. */
export const READY_TIMEOUT_MS = 90_000;
export const GENERATE_TIMEOUT_MS = 150_000;

export type Backend = 'wasm' | 'webgpu' | 'auto';

export interface Role {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors, renderer crashes and console errors, for failure messages. */
  errors: string[];
}

/** Records what a page says went wrong (uncaught errors, console errors, a crashed renderer) into `errors`. */
function watchPage(page: Page, errors: string[]): void {
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('crash', () => errors.push(`renderer crashed (${page.url()})`));
  page.on('console', (m) => {
    if (m.type() === 'error' && errors.length < 50) errors.push(`console: ${m.text().slice(0, 300)}`);
  });
}

export class Lab {
  readonly parties: Role[] = [];
  owner!: Role;
  client!: Role;

  private constructor(
    readonly coordinator: Coordinator,
    private readonly browser: Browser,
  ) {}

  static async start(browser: Browser, options: CoordinatorOptions = {}): Promise<Lab> {
    // The record must hold everything the coordinator received during the suite (64 MiB default; the test
    // asserts it was not truncated). The suite creates and joins sessions from 127.0.0.1 faster than a person
    // would, hence the raised per-address limits.
    const coordinator = await startCoordinator({
      staticDir: PAGES_DIR,
      maxSessionsPerAddress: 200,
      createRateLimit: { max: 200, windowMs: 60_000 },
      joinRateLimit: { max: 1_000, windowMs: 60_000 },
      ...options,
    });
    const lab = new Lab(coordinator, browser);
    lab.owner = await lab.role();
    lab.client = await lab.role();
    for (let i = 0; i < 3; i++) lab.parties.push(await lab.role());
    return lab;
  }

  async role(): Promise<Role> {
    const context = await this.browser.newContext();
    // Without the permission Chromium gathers no loopback ICE candidate (ENVIRONMENT.md).
    await context.grantPermissions(['microphone']);
    const page = await context.newPage();
    const errors: string[] = [];
    watchPage(page, errors);
    return { context, page, errors };
  }

  /** A fresh page in the role's context (same IndexedDB), after the old page was closed. */
  async reopen(role: Role): Promise<void> {
    role.page = await role.context.newPage();
    watchPage(role.page, role.errors);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.owner, this.client, ...this.parties].filter(Boolean).map((r) => r.context.close()));
    await this.coordinator.close();
  }

  /** Client page: a new session from its "New session" button; returns the party and owner links it shows. */
  async newSession(): Promise<{ sessionId: string; partyLinks: string[]; ownerLink: string }> {
    const page = this.client.page;
    await page.goto(`${this.coordinator.url}/client/`);
    await page.getByRole('button', { name: 'New session' }).click();
    await page.waitForFunction(() => (window.pumaClient?.state.partyLinks.length ?? 0) === 3, null, { timeout: 30_000 });
    const s = await clientState(page);
    expect(await page.locator('#links a').count()).toBe(4);
    return { sessionId: s.sessionId!, partyLinks: s.partyLinks, ownerLink: s.ownerLink! };
  }

  /** The safety code a party page shows as its own ("Your safety code"), once it has its identity. */
  async partyCode(page: Page): Promise<string> {
    const code = page.locator('#own-code');
    await expect(code).toHaveText(/^\d{5}( \d{5}){3}$/, { timeout: 30_000 });
    return (await code.textContent())!;
  }

  /**
   * What a person does on the owner or client page: checks that each party's row shows the code that party's
   * page shows (its link authenticated), then presses "Approve these parties".
   */
  async approve(page: Page, codes: readonly string[]): Promise<void> {
    const rows = page.locator('#peer-links tr[data-peer]');
    // Until the three parties' links are authenticated, or one fails (then the failure is the test's message).
    await waitForState(page, () => {
      const links = Array.from(document.querySelectorAll<HTMLElement>('#peer-links tr[data-peer]')).filter((r) => Number(r.dataset.peer) < 3);
      return links.length === 3 && (links.every((r) => r.dataset.link === 'authenticated') || links.some((r) => r.dataset.link === 'failed'));
    }, READY_TIMEOUT_MS, 'the parties to prove their identities');
    const failed = await rows.filter({ has: page.locator('td.link', { hasText: 'failed' }) }).allTextContents();
    if (failed.length) throw new Error(`link failed on ${page.url()}: ${failed.join('; ')}; party pages say: ${await this.partyErrors()}`);
    for (let i = 0; i < 3; i++) await expect(page.locator(`#peer-links tr[data-peer="${i}"] td.code`)).toHaveText(codes[i]);
    await page.getByRole('button', { name: 'Approve these parties' }).click({ timeout: READY_TIMEOUT_MS });
  }

  /** Each party page's error, for failure messages. */
  async partyErrors(): Promise<string> {
    const states = await Promise.all(this.parties.map((p) => partyState(p.page).catch(() => null)));
    return states.map((s, i) => `party ${i}: ${s?.error ?? s?.phase ?? 'no page'}`).join(' | ');
  }

  /** Approves the parties (showing `codes`) on the owner page, then on the client page. */
  async approveEverywhere(codes: readonly string[]): Promise<void> {
    await this.approve(this.owner.page, codes);
    await this.approve(this.client.page, codes);
  }

  /** Owner page for the session, fed the stories260K files through its file input. */
  async startOwner(ownerLink: string): Promise<void> {
    await this.owner.page.goto(ownerLink);
    await this.owner.page.locator('#files').setInputFiles(MODEL_FILES);
  }

  async startParty(i: number, link: string, backend: Backend, audit = false): Promise<void> {
    const url = new URL(link);
    url.searchParams.set('backend', backend);
    if (audit) url.searchParams.set('audit', '1');
    await this.parties[i].page.goto(url.href);
  }

  /** Owner and three wasm party pages from the links, the parties approved as they show themselves, client ready. */
  async openSession(links: { partyLinks: string[]; ownerLink: string }): Promise<void> {
    await this.startOwner(links.ownerLink);
    for (let i = 0; i < 3; i++) await this.startParty(i, links.partyLinks[i], 'wasm');
    await this.approveEverywhere(await Promise.all(this.parties.map((p) => this.partyCode(p.page))));
    await this.waitClientReady();
  }

  /**
   * Where each page stands (owner phase and sharing text, each party's phase, the client's phase), for failure
   * messages: a session that stalls names the endpoint it waits on.
   */
  async pagesSummary(): Promise<string> {
    const text = (page: Page, id: string) => page.locator(`#${id}`).textContent({ timeout: 2_000 }).catch(() => '?');
    const ownerParties = await Promise.all([0, 1, 2].map(async (i) => `party ${i} ${await text(this.owner.page, `party-${i}`)}`));
    const owner = `owner: ${await text(this.owner.page, 'phase')}; ${await text(this.owner.page, 'shares')}; ${ownerParties.join(', ')}`;
    const client = `client: ${await clientState(this.client.page).then((s) => s.error ?? s.phase).catch(() => 'no page')}`;
    const links = await Promise.all(this.parties.map(async (p, i) => {
      const s = await partyState(p.page).catch(() => null);
      return `party ${i} links: ${s ? s.links.map((l) => `${l.peer} ${l.link}`).join(', ') : 'no page'}`;
    }));
    const said = [['owner', this.owner], ['client', this.client], ...this.parties.map((r, i) => [`party ${i}`, r] as const)] as const;
    const errors = said.filter(([, r]) => r.errors.length).map(([name, r]) => `${name} page errors: ${r.errors.slice(-5).join('; ')}`);
    return [owner, await this.partyErrors(), ...links, client, ...errors].join(' | ');
  }

  async waitClientReady(): Promise<void> {
    try {
      await waitForState(this.client.page, () => {
        const s = window.pumaClient?.state;
        return s?.phase === 'ready' || s?.phase === 'error';
      }, READY_TIMEOUT_MS, 'the client to get ready');
    } catch (e) {
      throw new Error(`${(e as Error).message}; pages say: ${await this.pagesSummary()}`);
    }
    const s = await clientState(this.client.page);
    if (s.phase === 'error') throw new Error(`client failed before generating: ${s.error}; pages say: ${await this.pagesSummary()}`);
  }

  /** Types the prompt, asks for `maxNew` tokens and waits for the client to finish; returns what it shows. */
  async generate(prompt: string, maxNew: number): Promise<ClientPageState> {
    const page = this.client.page;
    await page.locator('#prompt').fill(prompt);
    await page.locator('#max-new').fill(String(maxNew));
    await page.getByRole('button', { name: 'Generate' }).click();
    await waitForState(page, () => ['done', 'error'].includes(window.pumaClient?.state.phase ?? ''), GENERATE_TIMEOUT_MS, 'the generation');
    const s = await clientState(page);
    if (s.phase === 'error') throw new Error(`generation failed: ${s.error}; pages say: ${await this.pagesSummary()}`);
    return s;
  }

  /** The client ends the session; every party page then reports it finished. */
  async endSession(partyPages: Page[]): Promise<PartyPageState[]> {
    await this.client.page.getByRole('button', { name: 'End session' }).click();
    const states: PartyPageState[] = [];
    for (const page of partyPages) {
      await waitForState(page, () => /^(done|error)/.test(window.pumaParty?.state.phase ?? ''), 30_000, 'the party to finish');
      states.push(await partyState(page));
    }
    for (const s of states) expect(s.error, `party ${s.party}`).toBeNull();
    return states;
  }
}

async function waitForState(page: Page, predicate: () => boolean, timeout: number, what: string): Promise<void> {
  try {
    await page.waitForFunction(predicate, null, { timeout, polling: 200 });
  } catch (e) {
    throw new Error(`waiting for ${what} on ${page.url()}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export const partyState = (page: Page) => page.evaluate(() => structuredClone(window.pumaParty!.state));
export const clientState = (page: Page) => page.evaluate(() => structuredClone(window.pumaClient!.state));
export const ownerState = (page: Page) => page.evaluate(() => structuredClone(window.pumaOwner!.state));
export type { PartyPageState, ClientPageState, OwnerPageState };
