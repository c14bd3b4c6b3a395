/**
 * The hosted demo's end-to-end rig: `puma host` as a child process on a free loopback port with a temporary state
 * folder (ended by its PID, and it ends the party processes it started), and visitors as separate browser
 * contexts on its site root, driven through the visitor page's own controls and read through
 * window.pumaVisitor.state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import type { VisitorPageState } from '../apps/client/src/visitor/state.ts';
import { PAGES_DIR, ROOT } from './lab.ts';

export type { VisitorPageState };

const PUMA_CLI = path.join(ROOT, 'apps/cli/bin/puma.mjs');
/** Sharing the models (first start of a state folder) and starting the coordinator; generous for a loaded machine. */
const HOST_START_TIMEOUT_MS = 90_000;
const HOST_STOP_TIMEOUT_MS = 15_000;

export interface HostProcess {
  /** The visitor's URL, the site root. */
  url: string;
  /** The host's stdout and stderr so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startHostProcess(o: { models: string[]; maxConcurrent: number }): Promise<HostProcess> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'puma-e2e-host-'));
  const args = [
    PUMA_CLI, 'host', '--host', '127.0.0.1', '--port', '0', '--state', stateDir, '--static', PAGES_DIR,
    '--models', o.models.join(','), '--max-concurrent', String(o.maxConcurrent), '--verbose',
  ];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), HOST_STOP_TIMEOUT_MS))]);
      if (code === 'timeout') child.kill('SIGKILL');
    }
    rmSync(stateDir, { recursive: true, force: true });
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`puma host printed no visitor URL within ${HOST_START_TIMEOUT_MS / 1000} s:\n${output}`)), HOST_START_TIMEOUT_MS);
    const onData = () => {
      const m = /visitors open (http:\/\/\S+\/)/.exec(output);
      if (!m) return;
      clearTimeout(timer);
      resolve(m[1]);
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`puma host exited (${code}) before serving:\n${output}`));
    });
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  const host = { url, output: () => output, stop };
  await waitForModels(host, o.models).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return host;
}

/** The host lists the default model first and adds larger ones once they are shared: waits for all of `ids`. */
async function waitForModels(host: HostProcess, ids: readonly string[]): Promise<void> {
  const until = Date.now() + HOST_START_TIMEOUT_MS;
  let listed: string[] = [];
  while (Date.now() < until) {
    try {
      const res = await fetch(`${host.url}api/hosted`, { signal: AbortSignal.timeout(5_000) });
      listed = ((await res.json()) as { models: Array<{ id: string }> }).models.map((m) => m.id);
      if (ids.every((id) => listed.includes(id))) return;
    } catch {
      // A host busy sharing a model may not answer in time; ask again.
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the host listed only ${listed.join(', ') || 'nothing'} of ${ids.join(', ')} within ${HOST_START_TIMEOUT_MS / 1000} s:\n${host.output()}`);
}

export interface Visitor {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors, for failure messages. */
  errors: string[];
}

/** A visitor in a browser context of their own (own IndexedDB, so own identity keys), on the host's site root. */
export async function openVisitor(browser: Browser, url: string): Promise<Visitor> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  // Without the permission Chromium gathers no loopback ICE candidate (ENVIRONMENT.md).
  await context.grantPermissions(['microphone']);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await waitForVisitor(page, (s) => s.phase === 'idle', 30_000, 'the page to load the host listing');
  return { context, page, errors };
}

export const visitorState = (page: Page): Promise<VisitorPageState> => page.evaluate(() => structuredClone(window.pumaVisitor!.state));

/** Waits until `predicate` holds for the page's state; on timeout the error names what it waited for and the state. */
export async function waitForVisitor(page: Page, predicate: (s: VisitorPageState) => boolean, timeoutMs: number, what: string): Promise<VisitorPageState> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await visitorState(page);
    if (predicate(s)) return s;
    if (s.phase === 'error') throw new Error(`waiting for ${what}: the visitor page failed: ${s.error}`);
    if (Date.now() > until) throw new Error(`waiting for ${what}: still ${s.phase} ("${s.status}") after ${timeoutMs / 1000} s`);
    await page.waitForTimeout(100);
  }
}

/** Fills the form and presses the page's Generate button (does not wait for the result). */
export async function pressGenerate(v: Visitor, o: { prompt: string; tokens: number; seat?: boolean }): Promise<void> {
  await v.page.locator('#prompt').fill(o.prompt);
  await v.page.locator('#max-new').fill(String(o.tokens));
  if (o.seat) await v.page.locator('#seat').check();
  await v.page.getByRole('button', { name: 'Generate' }).click();
}
