/**
 * Test harness for the networked session tests: `puma` child processes started and ended by their own handle,
 * bounded waits, and the people's side of a session (identity key files, a session's slot secrets).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { createSession, getSession, type SlotName } from '@puma/transport-webrtc';
import { loadOrCreateIdentityFile } from '@puma/transport-webrtc/node';

const BIN = new URL('../bin/puma.mjs', import.meta.url).pathname;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
}

/** Every child started here, so a test's cleanup can end the ones still running (and only those). */
const started: Child[] = [];

export function puma(name: string, args: string[]): Child {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  const child = { name, proc, exited, stdout: () => stdout, stderr: () => stderr };
  started.push(child);
  return child;
}

/** SIGKILLs the children started so far that are still running. */
export function killStarted(): void {
  for (const c of started.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
}

/** The child's exit, or a failure naming it (with its stderr) when it takes longer than `ms`. */
export async function exitOf(c: Child, ms: number): Promise<Exit> {
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

/** Polls `cond` until it holds; past `ms`, fails naming `what` and, when given, the output of `watched`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string, watched?: Child): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}${watched ? `; ${watched.name}'s stderr:\n${watched.stderr()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function lastJson(out: string): Record<string, unknown> {
  const line = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

/** Files under `dir` (recursively); a missing folder has none. */
export function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** A key file and the fingerprint `puma identity` would print for it. */
export interface Key {
  file: string;
  fingerprint: string;
}

export async function makeKey(dir: string, name: string): Promise<Key> {
  const file = path.join(dir, `${name}.json`);
  return { file, fingerprint: (await loadOrCreateIdentityFile(file)).fingerprint };
}

/** A session as its creator sees it: the id and the secret of every slot. */
export interface CreatedSession {
  id: string;
  secrets: Record<SlotName, string>;
}

export async function newSession(coordinator: string): Promise<CreatedSession> {
  const created = await createSession(coordinator, { model: 'stories260K' });
  return { id: created.id, secrets: created.slotSecrets };
}

/** Whether the slot's endpoint is registered with the signaling server right now. */
export async function slotConnected(coordinator: string, sessionId: string, slot: SlotName): Promise<boolean> {
  return (await getSession(coordinator, sessionId)).slots[slot].connected;
}
