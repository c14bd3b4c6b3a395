/**
 * The browsers bench's rig: a coordinator on 127.0.0.1 serving the built pages, and owner, client and three
 * party pages, each role in its own headless Chromium (launched as the e2e suite launches it, with a fresh
 * profile folder) so that /proc tells each role's processes apart (browsers-memory.ts). A session goes through
 * the pages' own controls, as a person would: new session on the client page, owner and party pages opened from
 * its links, each party's safety code read on its page and checked on the owner and client pages before
 * approving, then Generate. Times are wall-clock in this process. The e2e rig (e2e/lab.ts) does the same for the
 * tests, with one browser for all roles and test-sized timeouts.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '@puma/backend-webgpu/chromium';
import { startCoordinator, type Coordinator } from '@puma/coordinator';
import type { PartyPageState } from '../../apps/party/src/main.ts';
import type { ClientPageState } from '../../apps/client/src/main.ts';
import type { OwnerPageState } from '../../apps/client/src/owner.ts';
import { MemorySampler, type RoleMemory } from './browsers-memory.ts';
import { CpuMeter, formatCores } from './transport-lab/process-cpu.ts';

export const ROLES = ['owner', 'client', 'party0', 'party1', 'party2'] as const;
export type RoleName = (typeof ROLES)[number];
const PARTIES = ['party0', 'party1', 'party2'] as const;

export interface LabLimits {
  /** From opening the owner page to the client page being ready (sharing and share transfer included). */
  readyMs: number;
  /** From pressing Generate to the last token. */
  generateMs: number;
  /** PSS of the five browsers together above which the session is stopped (the machine is shared). */
  memoryBytes: number;
}

export interface SessionInput {
  /** Model files fed to the owner page's file input. */
  files: string[];
  modelName: string;
  prompt: string;
  tokens: number;
  /** Set as ?weight-cache-mib= on the party links (absent: the page's default). */
  weightCacheMiB?: number;
}

export interface OwnerOnlyMeasurement {
  /** Files given -> the owner's first split pass done (loading in its worker, chunked hash, split and sha256). */
  loadAndSplitMs: number;
  splitPassMs: number;
  /** The owner's domain check in its worker (part of loadAndSplitMs, before the split), as the page timed it. */
  domainCheckMs: number | null;
  ownerTabPeakBytes: number;
}

export interface SessionMeasurement {
  /** Owner page opened -> client page ready. */
  readyMs: number;
  /** Owner page opened -> the parties approved on the owner and client pages (then sharing and share transfer). */
  approvedMs: number;
  /** Generate pressed -> last token shown. */
  generateMs: number;
  client: ClientPageState;
  owner: OwnerPageState;
  parties: PartyPageState[];
  memory: Record<RoleName, RoleMemory>;
  /** Errors party pages showed while the session ended (after the last token). */
  endErrors: string[];
}

interface Role {
  name: RoleName;
  profile: string;
  context: BrowserContext;
  page: Page | null;
  errors: string[];
}

const partyState = (page: Page) => page.evaluate(() => structuredClone(window.pumaParty!.state));
const clientState = (page: Page) => page.evaluate(() => structuredClone(window.pumaClient!.state));
const ownerState = (page: Page) => page.evaluate(() => structuredClone(window.pumaOwner!.state));

const CODE = /^\d{5}( \d{5}){3}$/;
const log = (s: string) => console.error(`browsers: ${s}`);
/** How often a running session logs where it stands. */
const WATCH_MS = 15_000;

async function waitFor(page: Page, predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  try {
    await page.waitForFunction(predicate, null, { timeout: timeoutMs, polling: 500 });
  } catch (e) {
    throw new Error(`waiting ${Math.round(timeoutMs / 1000)} s for ${what} on ${page.url()}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export class BrowsersLab {
  private constructor(
    readonly coordinator: Coordinator,
    private readonly roles: Map<RoleName, Role>,
    private readonly sampler: MemorySampler,
    private readonly timeouts: LabLimits,
    /** Rejects once the browsers together hold more than the limit. */
    private readonly overLimit: Promise<never>,
  ) {}

  static async start(pagesDir: string, timeouts: LabLimits): Promise<BrowsersLab> {
    const coordinator = await startCoordinator({ staticDir: pagesDir });
    const roles = new Map<RoleName, Role>();
    try {
      for (const name of ROLES) {
        const profile = mkdtempSync(path.join(os.tmpdir(), `puma-bench-${name}-`));
        const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
        // Without the permission Chromium gathers no loopback ICE candidate (../shared/ENVIRONMENT.md).
        await context.grantPermissions(['microphone']);
        for (const p of context.pages()) await p.close();
        roles.set(name, { name, profile, context, page: null, errors: [] });
      }
    } catch (e) {
      await closeRoles(roles);
      await coordinator.close();
      throw e;
    }
    let stop: (e: Error) => void = () => {};
    const overLimit = new Promise<never>((_, reject) => (stop = reject));
    overLimit.catch(() => {}); // observed by the session that races it
    const gib = (b: number) => (b / 2 ** 30).toFixed(1);
    const sampler = new MemorySampler(new Map([...roles].map(([n, r]) => [n, r.profile])), {
      limitBytes: timeouts.memoryBytes,
      onOverLimit: (total) => stop(new Error(`stopped: the five browsers held ${gib(total)} GiB (PSS), over the ${gib(timeouts.memoryBytes)} GiB limit`)),
    });
    sampler.start();
    return new BrowsersLab(coordinator, roles, sampler, timeouts, overLimit);
  }

  async close(): Promise<void> {
    this.sampler.stop();
    await closeRoles(this.roles);
    await this.coordinator.close();
  }

  /**
   * One session on fresh pages (the previous pages closed, so each run has its own renderers; profiles, and
   * so IndexedDB with the kept shares, stay).
   */
  session(input: SessionInput): Promise<SessionMeasurement> {
    return Promise.race([this.runSession(input), this.overLimit]);
  }

  private async runSession(input: SessionInput): Promise<SessionMeasurement> {
    // Old pages are closed and their renderers given a few seconds to exit (one still holding a closed page's
    // memory would count in this run) before the run's figures begin; then the new pages open.
    const old = this.sampler.liveRenderers();
    for (const r of this.roles.values()) await r.page?.close();
    await exited(old, 5_000);
    this.sampler.beginRun();
    for (const r of this.roles.values()) await this.openPage(r);
    const client = this.page('client');
    await client.goto(`${this.coordinator.url}/client/`);
    await client.locator('#model-name').fill(input.modelName);
    await client.getByRole('button', { name: 'New session' }).click();
    await waitFor(client, () => (window.pumaClient?.state.partyLinks.length ?? 0) === 3, 30_000, 'the session links');
    const links = await clientState(client);

    const t0 = performance.now();
    const stopWatch = this.watch(t0);
    try {
      return await this.drive(input, links, t0);
    } finally {
      stopWatch();
    }
  }

  private async drive(input: SessionInput, links: ClientPageState, t0: number): Promise<SessionMeasurement> {
    const client = this.page('client');
    const owner = this.page('owner');
    await owner.goto(links.ownerLink!);
    await owner.locator('#files').setInputFiles(input.files);
    for (let i = 0; i < 3; i++) {
      const url = new URL(links.partyLinks[i]);
      url.searchParams.set('backend', 'wasm');
      if (input.weightCacheMiB !== undefined) url.searchParams.set('weight-cache-mib', String(input.weightCacheMiB));
      await this.page(PARTIES[i]).goto(url.href);
    }
    const codes = await Promise.all(PARTIES.map((p) => this.ownCode(this.page(p))));
    await this.approve(owner, codes);
    await this.approve(client, codes);
    const approvedMs = performance.now() - t0;
    await waitFor(client, () => ['ready', 'error'].includes(window.pumaClient?.state.phase ?? ''), this.timeouts.readyMs, 'the client to get ready');
    await this.throwIfFailed(`${((performance.now() - t0) / 1000).toFixed(0)} s after the owner page opened`);
    const readyMs = performance.now() - t0;
    log(`ready after ${(readyMs / 1000).toFixed(1)} s`);

    await client.locator('#prompt').fill(input.prompt);
    await client.locator('#max-new').fill(String(input.tokens));
    const t1 = performance.now();
    await client.getByRole('button', { name: 'Generate' }).click();
    await waitFor(client, () => ['done', 'error'].includes(window.pumaClient?.state.phase ?? ''), this.timeouts.generateMs, 'the generation');
    const generateMs = performance.now() - t1;
    await this.throwIfFailed(`${(generateMs / 1000).toFixed(0)} s after Generate`);
    const clientDone = await clientState(client);
    log(`${clientDone.tokens.length} tokens in ${(generateMs / 1000).toFixed(1)} s`);

    await client.getByRole('button', { name: 'End session' }).click();
    for (const p of PARTIES) await waitFor(this.page(p), () => /^(done|error)/.test(window.pumaParty?.state.phase ?? ''), 60_000, 'the party to finish');
    // The owner page keeps its sharing while it serves; the cached run needs it kept before this page closes.
    await waitFor(owner, () => ['done', 'error'].includes(window.pumaOwner?.state.phase ?? ''), 120_000, 'the owner to keep its sharing');
    const parties = await Promise.all(PARTIES.map((p) => partyState(this.page(p))));
    // Where each party's steps went (weight reads, hashing, expansion, ops), as its page reported them.
    parties.forEach((s, i) => s.steps.forEach((line) => log(`party ${i} ${line}`)));
    // The tokens are in: an error a party page shows while the session ends does not void the figures, and is
    // reported with them.
    const endErrors = parties.filter((s) => s.error !== null).map((s) => `party ${s.party} at the end: ${s.error}`);
    for (const e of endErrors) log(e);
    const memory = Object.fromEntries(this.sampler.read()) as Record<RoleName, RoleMemory>;
    return { readyMs, approvedMs, generateMs, client: clientDone, owner: await ownerState(owner), parties, memory, endErrors };
  }

  /**
   * The owner page alone with the model (the client page opens the session; no party page opens): from giving
   * it the files to the end of its first split pass, which runs while it waits for the parties. Its tab peak is
   * then the model's loading and splitting, measured without the transfer.
   */
  async ownerOnly(input: SessionInput): Promise<OwnerOnlyMeasurement> {
    const old = this.sampler.liveRenderers();
    for (const r of this.roles.values()) await r.page?.close();
    await exited(old, 5_000);
    this.sampler.beginRun();
    for (const name of ['owner', 'client'] as const) await this.openPage(this.roles.get(name)!);
    const client = this.page('client');
    await client.goto(`${this.coordinator.url}/client/`);
    await client.locator('#model-name').fill(input.modelName);
    await client.getByRole('button', { name: 'New session' }).click();
    await waitFor(client, () => (window.pumaClient?.state.partyLinks.length ?? 0) === 3, 30_000, 'the session links');
    const owner = this.page('owner');
    await owner.goto((await clientState(client)).ownerLink!);
    const t0 = performance.now();
    await owner.locator('#files').setInputFiles(input.files);
    await waitFor(owner, () => {
      const s = window.pumaOwner?.state;
      return s?.sharingMs !== null || s.error !== null || s.phase === 'refused';
    }, this.timeouts.readyMs, "the owner's split pass");
    const loadAndSplitMs = performance.now() - t0;
    const state = await ownerState(owner);
    if (state.error !== null) throw new Error(`owner page failed: ${state.error}`);
    if (state.phase === 'refused') throw new Error(`the owner page's domain check refused the model: ${state.domainRefusal}`);
    const check = state.domainCheck;
    const domainCheckMs = check && check.outcome !== 'skipped' ? check.ms : null;
    return { loadAndSplitMs, splitPassMs: state.sharingMs!, domainCheckMs, ownerTabPeakBytes: this.sampler.read().get('owner')!.tabPeakBytes };
  }

  /**
   * Logs every WATCH_MS where the session stands (owner, party and client phases, share bytes, tab peaks so far),
   * so a long run shows where its time goes and a stalled one where it stalled, and the CPU the session's
   * processes got since the last line against the whole machine's (a share transfer between tabs is bound by it).
   */
  private watch(t0: number): () => void {
    let busy = false;
    const cpu = new CpuMeter();
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.standing(t0).then((line) => log(`${line}; cpu: ${formatCores(cpu.read())}`), () => {}).finally(() => (busy = false));
    }, WATCH_MS);
    return () => clearInterval(timer);
  }

  private async standing(t0: number): Promise<string> {
    const text = (name: RoleName, selector: string) => this.page(name).locator(selector).textContent({ timeout: 2_000 }).catch(() => null);
    const owner = await ownerState(this.page('owner')).catch(() => null);
    const parties = await Promise.all(PARTIES.map((p) => partyState(this.page(p)).catch(() => null)));
    const client = await clientState(this.page('client')).catch(() => null);
    const mib = (b: number) => Math.round(b / 2 ** 20);
    const tabs = [...this.sampler.peaks()].map(([role, m]) => `${role} ${mib(m.tabPeakBytes)}`).join(', ');
    const partyLines = parties.map((s, i) => `p${i} ${s?.error ?? s?.phase ?? '-'} (got ${((s?.bytesReceived ?? 0) / 1e6).toFixed(0)} MB)`);
    return `+${((performance.now() - t0) / 1000).toFixed(0)} s: owner ${owner?.error ?? owner?.phase ?? '-'} [${(await text('owner', '#shares')) ?? ''}; sent ${(await text('owner', '#sent')) ?? '-'}]; ` +
      `${partyLines.join('; ')}; client ${client?.error ?? client?.phase ?? '-'} ${client?.tokens.length ?? 0} tokens; tab peak MiB: ${tabs}`;
  }

  private page(name: RoleName): Page {
    const page = this.roles.get(name)!.page;
    if (!page) throw new Error(`${name} has no page open`);
    return page;
  }

  private async openPage(r: Role): Promise<void> {
    r.page = await r.context.newPage();
    r.page.on('pageerror', (e) => r.errors.push(e.message));
  }

  private async ownCode(page: Page): Promise<string> {
    await waitFor(page, () => /^\d{5}( \d{5}){3}$/.test(document.getElementById('own-code')?.textContent ?? ''), 60_000, 'the safety code');
    const code = (await page.locator('#own-code').textContent()) ?? '';
    if (!CODE.test(code)) throw new Error(`${page.url()} shows "${code}" as its safety code`);
    return code;
  }

  /** Checks that each party's row on `page` shows the code that party's page shows, then approves. */
  private async approve(page: Page, codes: readonly string[]): Promise<void> {
    await waitFor(page, () => {
      const rows = Array.from(document.querySelectorAll<HTMLElement>('#peer-links tr[data-peer]')).filter((r) => Number(r.dataset.peer) < 3);
      return rows.length === 3 && rows.every((r) => r.dataset.link === 'authenticated' || r.dataset.link === 'failed');
    }, this.timeouts.readyMs, 'the parties to prove their identities');
    for (let i = 0; i < 3; i++) {
      const row = page.locator(`#peer-links tr[data-peer="${i}"]`);
      const link = await row.getAttribute('data-link');
      if (link !== 'authenticated') throw new Error(`${page.url()}: party ${i}'s link ${link}; ${await this.partyErrors()}`);
      const shown = (await row.locator('td.code').textContent())?.trim();
      if (shown !== codes[i]) throw new Error(`${page.url()} shows party ${i} as ${shown}, its page shows ${codes[i]}: not approving`);
    }
    await page.getByRole('button', { name: 'Approve these parties' }).click({ timeout: this.timeouts.readyMs });
  }

  private async partyErrors(): Promise<string> {
    const states = await Promise.all(PARTIES.map((p) => partyState(this.page(p)).catch(() => null)));
    return states.map((s, i) => `party ${i}: ${s?.error ?? s?.phase ?? 'no state'}`).join(' | ');
  }

  /** Throws with every page's error when any page (client, owner, a party) reports one. */
  private async throwIfFailed(when: string): Promise<void> {
    const client = await clientState(this.page('client'));
    const owner = await ownerState(this.page('owner'));
    const parties = await Promise.all(PARTIES.map((p) => partyState(this.page(p))));
    if (client.error === null && owner.error === null && parties.every((s) => s.error === null)) return;
    const uncaught = [...this.roles.values()].flatMap((r) => r.errors.map((e) => `${r.name}: ${e}`));
    const mib = (b: number) => Math.round(b / 2 ** 20);
    const memory = [...this.sampler.read()].map(([role, m]) => `${role} tab ${mib(m.tabPeakBytes)} MiB`).join(', ');
    const ownerShows = await this.page('owner').locator('#shares').textContent().catch(() => null);
    throw new Error(
      `session failed (${when}): client ${client.error ?? client.phase}; owner ${owner.error ?? owner.phase}; ` +
        parties.map((s, i) => `party ${i}: ${s.error ?? s.phase}`).join('; ') +
        (uncaught.length ? `; uncaught: ${uncaught.join('; ')}` : '') +
        `\nowner page's sharing line: ${ownerShows ?? '-'}\npeak memory so far: ${memory}`,
    );
  }
}

/** Waits up to `ms` for the processes to end; returns those still running. */
async function exited(pids: readonly number[], ms: number): Promise<number[]> {
  const deadline = performance.now() + ms;
  let alive = pids.filter((pid) => existsSync(`/proc/${pid}`));
  while (alive.length && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    alive = alive.filter((pid) => existsSync(`/proc/${pid}`));
  }
  return alive;
}

async function closeRoles(roles: Map<RoleName, Role>): Promise<void> {
  await Promise.allSettled([...roles.values()].map((r) => r.context.close()));
  for (const r of roles.values()) rmSync(r.profile, { recursive: true, force: true });
}
