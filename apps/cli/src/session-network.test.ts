/**
 * The session roles as separate Node processes over real WebRTC on loopback: a coordinator (in this process),
 * `puma owner` serving a `puma share` folder, three `puma party` processes with cache folders and `puma client`.
 * Checks: the secure tokens equal the plaintext greedy ones; a second session with the same caches downloads no
 * share bytes; a party killed mid-run makes the other parties and the client exit 1 within seconds, naming it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateGreedy } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { startCoordinator, type Coordinator } from '@puma/coordinator';
import { createSession } from '@puma/transport-webrtc';

const BIN = new URL('../bin/puma.mjs', import.meta.url).pathname;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<Exit>;
  stderr(): string;
}

let coordinator: Coordinator;
let work: string;
let shareDir: string;
const children: Child[] = [];

function puma(name: string, args: string[]): Child {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  const child = { name, proc, exited, stderr: () => stderr };
  children.push(child);
  return child;
}

/** The child's exit, or a failure naming it (with its stderr) when it takes longer than `ms`. */
async function exitOf(c: Child, ms: number): Promise<Exit> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${c.name} did not exit within ${ms} ms; stderr:\n${c.stderr()}`)), ms);
  });
  try {
    return await Promise.race([c.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function lastJson(out: string): Record<string, unknown> {
  const line = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

function parties(sessionId: string, cache: (i: number) => string[]): Child[] {
  return [0, 1, 2].map((i) =>
    puma(`party ${i}`, ['party', '--coordinator', coordinator.url, '--session', sessionId, '--party', String(i), '--backend', 'wasm', ...cache(i)]),
  );
}

beforeAll(async () => {
  coordinator = await startCoordinator({ port: 0 });
  work = mkdtempSync(path.join(tmpdir(), 'puma-session-'));
  shareDir = path.join(work, 'shares');
  const share = await exitOf(puma('share', ['share', '--model', 'stories260K', '--out', shareDir]), 120_000);
  expect(share.code, share.stderr).toBe(0);
}, 150_000);

afterEach(() => {
  // Only processes this test started, by their own handle; a passing test leaves none running.
  for (const c of children.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
});

afterAll(async () => {
  await coordinator?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('networked session: owner, three parties and client as Node processes over WebRTC', () => {
  it('generates the plaintext greedy tokens, and a second session with the same caches downloads no share bytes', async () => {
    const { id } = await createSession(coordinator.url, { model: 'stories260K' });
    const owner = puma('owner', ['owner', '--coordinator', coordinator.url, '--session', id, '--bundles', shareDir, '--sessions', '2']);
    const cache = (i: number) => ['--cache', path.join(work, `cache${i}`)];
    const maxNewTokens = 8;

    const first = parties(id, cache);
    const client = puma('client', ['client', '--coordinator', coordinator.url, '--session', id, '--prompt', 'Once upon a time', '--max-new-tokens', String(maxNewTokens), '--json']);
    const c1 = await exitOf(client, 240_000);
    expect(c1.code, c1.stderr).toBe(0);
    const result = lastJson(c1.stdout) as { promptIds: number[]; tokens: number[]; text: string };
    const { model } = await loadModel('stories260K');
    expect(result.promptIds[0]).toBe(1);
    expect(result.tokens).toEqual(generateGreedy(model, result.promptIds, maxNewTokens).slice(result.promptIds.length));
    expect(result.text.startsWith(',')).toBe(true);
    for (const p of first) {
      const e = await exitOf(p, 30_000);
      expect(e.code, e.stderr).toBe(0);
      const w = (lastJson(e.stdout) as { weights: { partsTotal: number; partsFetched: number; shareBytesDownloaded: number } }).weights;
      expect(w.partsFetched).toBe(w.partsTotal);
      expect(w.shareBytesDownloaded).toBeGreaterThan(0);
    }

    const second = parties(id, cache);
    const again = puma('client', ['client', '--coordinator', coordinator.url, '--session', id, '--prompt', 'Once upon a time', '--max-new-tokens', '2', '--json']);
    const c2 = await exitOf(again, 240_000);
    expect(c2.code, c2.stderr).toBe(0);
    expect((lastJson(c2.stdout) as { tokens: number[] }).tokens).toEqual(result.tokens.slice(0, 2));
    for (const p of second) {
      const e = await exitOf(p, 30_000);
      expect(e.code, e.stderr).toBe(0);
      const w = (lastJson(e.stdout) as { weights: { partsTotal: number; cacheHits: number; shareBytesDownloaded: number } }).weights;
      expect(w.shareBytesDownloaded).toBe(0);
      expect(w.cacheHits).toBe(w.partsTotal);
    }
    const o = await exitOf(owner, 30_000);
    expect(o.code, o.stderr).toBe(0);
    const served = o.stdout.trim().split('\n').map((l) => JSON.parse(l) as { session: number; shareBytesSent: number[] });
    expect(served.map((s) => s.session)).toEqual([1, 2]);
    expect(served[0].shareBytesSent.every((b) => b > 0)).toBe(true);
    expect(served[1].shareBytesSent).toEqual([0, 0, 0]);
  }, 600_000);

  it('a party killed mid-run makes the other parties and the client exit 1 within seconds, naming it', async () => {
    const { id } = await createSession(coordinator.url, { model: 'stories260K' });
    puma('owner', ['owner', '--coordinator', coordinator.url, '--session', id, '--bundles', shareDir, '--sessions', '1']);
    const [p0, p1, p2] = parties(id, () => []);
    const client = puma('client', ['client', '--coordinator', coordinator.url, '--session', id, '--prompt', 'Once upon a time', '--max-new-tokens', '60', '--json']);
    await waitFor(() => /party 2 running: job 0: token 2 of 60/.test(p2.stderr()), 240_000, 'party 2 to finish its second token');
    p2.proc.kill('SIGKILL');
    const killedAt = Date.now();
    // A killed process says no goodbye: its peers notice by silence (the WebRTC channel's idle timeout, 10 s),
    // then tell each other and the client.
    const failure = /^puma (party|client): .*(party 2 (disconnected|stopped)|connection to party 2 lost)/m;
    await Promise.all([p0, p1, client].map((c) => waitFor(() => failure.test(c.stderr()), 15_000, `${c.name} to report party 2`)));
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    for (const c of [p0, p1, client]) {
      const e = await exitOf(c, 30_000);
      expect(e.code, `${c.name}: ${e.stderr}`).toBe(1);
    }
  }, 400_000);
});
