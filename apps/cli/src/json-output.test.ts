/**
 * `--json` is for programs: stdout must be exactly one JSON document, with progress and status on stderr.
 * Runs the cheap `--json` commands as `puma` child processes (identity with a temporary key, session create
 * against a coordinator started here, a two-token generate) and parses each one's whole stdout at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinator, type Coordinator } from '@puma/coordinator';
import { exitOf, killStarted, puma } from './session-test-harness.ts';

let coordinator: Coordinator;
let work: string;

beforeAll(async () => {
  coordinator = await startCoordinator({ port: 0 });
  work = mkdtempSync(path.join(tmpdir(), 'puma-json-'));
});
afterEach(killStarted);
afterAll(async () => {
  await coordinator.close();
  rmSync(work, { recursive: true, force: true });
});

/** Runs `puma ...args`, expects exit 0, and parses its whole stdout as one JSON object. */
async function pumaJson(args: string[], ms: number): Promise<Record<string, unknown>> {
  const exit = await exitOf(puma(`puma ${args[0]}`, args), ms);
  expect(exit.code, `puma ${args.join(' ')} failed; stderr:\n${exit.stderr}`).toBe(0);
  expect(exit.stdout.trim(), 'stdout is empty').not.toBe('');
  let doc: unknown;
  try {
    doc = JSON.parse(exit.stdout);
  } catch (e) {
    throw new Error(`puma ${args[0]} --json: stdout is not one JSON document (${(e as Error).message}):\n${exit.stdout.slice(0, 2000)}`);
  }
  expect(typeof doc === 'object' && doc !== null && !Array.isArray(doc), 'the document is an object').toBe(true);
  return doc as Record<string, unknown>;
}

describe('puma --json prints exactly one JSON document on stdout', () => {
  it('identity', async () => {
    const key = path.join(work, 'identity.json');
    const doc = await pumaJson(['identity', '--key', key, '--json'], 20_000);
    expect(doc.keyFile).toBe(key);
    expect(doc.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  }, 30_000);

  it('session create', async () => {
    const doc = await pumaJson(['session', 'create', '--coordinator', coordinator.url, '--json'], 20_000);
    expect(doc.id).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.keys(doc.slotSecrets as object).sort()).toEqual(['client', 'owner', 'party0', 'party1', 'party2']);
  }, 30_000);

  it('generate', async () => {
    const doc = await pumaJson(['generate', '--max-new-tokens', '2', '--json'], 60_000);
    expect(doc.tokens).toHaveLength(2);
    expect(doc.tokens).toEqual(doc.plaintextTokens);
  }, 70_000);
});
