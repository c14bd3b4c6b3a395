/**
 * The hosted demo's server side on loopback: startHost with stories260K and a temporary state folder (real
 * coordinator, the owner in this process, `puma party` child processes over WebRTC), and visitors in Node
 * speaking the hosted API (host-test-harness.ts). Checks: a visit gets the plaintext greedy tokens; a second
 * visit queues (position 1) and is served after the first; stop mid-generation frees the parties within 2 s
 * and the queued visit is then served; an unpolled visit is ended; a seat visitor runs party 1 itself; bad
 * input gets clear 4xx errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LLAMA_BOS, generateGreedy } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { safetyCode } from '@puma/transport-webrtc';
import type { HostedInfo } from '@puma/coordinator';
import { startHost, type Host } from './host.ts';
import { Visit, call, joinAsClient, runSeat } from './host-test-harness.ts';
import { exitOf, killStarted, lastJson, makeKey } from './session-test-harness.ts';

const PROMPT = 'Once upon a time';
const IDLE_TIMEOUT_MS = 3_000;

let host: Host;
let state: string;
let base: string;
let plaintext: (promptIds: number[], n: number) => number[];
const hostLog: string[] = [];

beforeAll(async () => {
  state = mkdtempSync(path.join(tmpdir(), 'puma-host-'));
  host = await startHost({ stateDir: state, models: ['stories260K'], staticDir: null, idleTimeoutMs: IDLE_TIMEOUT_MS, log: (l) => hostLog.push(l) });
  base = host.coordinator.url;
  const { model } = await loadModel('stories260K');
  plaintext = (promptIds, n) => generateGreedy(model, promptIds, n).slice(promptIds.length);
}, 60_000);

afterAll(async () => {
  // The seat process (started by the harness, ended by its own handle when a test failed before it exited).
  killStarted();
  // Ends every visit, so every party process the host started (the host stops them by their own handles).
  await host?.close();
  if (state) rmSync(state, { recursive: true, force: true });
});

describe('puma host: visits through the hosted API', () => {
  it('lists the model and the hosted parties with their safety codes', async () => {
    const { status, body } = await call<HostedInfo>(base, 'GET', '/api/hosted');
    expect(status).toBe(200);
    expect(body.models).toEqual([{ id: 'stories260K', label: expect.stringContaining('stories260K'), task: 'generate', default: true, maxNewTokens: 48 }]);
    expect(body.parties.map((p) => p.index)).toEqual([0, 1, 2]);
    for (const p of body.parties) expect(p.safetyCode).toBe(safetyCode(p.fingerprint));
    expect(new Set(body.parties.map((p) => p.fingerprint)).size).toBe(3);
    expect(body.maxConcurrent).toBe(1);
    expect(body.seats).toBe(true);
  });

  it('serves a visit with the plaintext greedy tokens; a second visit queues at position 1 and is served next', async () => {
    const first = await Visit.create(base, 'stories260K');
    expect(first.position).toBe(0);
    const ready = await first.until((v) => v.state === 'ready', 120_000, 'ready state');
    // The host prepared this session before the visitor came (owner and parties joined, weights loaded).
    expect(hostLog).toContain(`visit ${first.id.slice(0, 8)}: served by the standby session`);
    const { parties } = (await call<HostedInfo>(base, 'GET', '/api/hosted')).body;
    expect(ready.session!.parties).toEqual(parties.map((p) => p.fingerprint));
    expect(ready.session!.seatSecret).toBeUndefined();

    const second = await Visit.create(base, 'stories260K');
    expect(second.position).toBe(1);
    expect((await second.poll()).session).toBeUndefined();

    const { channel, session } = await joinAsClient(ready);
    const maxNewTokens = 8;
    const result = await session.generate({ prompt: PROMPT, maxNewTokens });
    expect(result.promptIds[0]).toBe(LLAMA_BOS);
    expect(result.tokens).toEqual(plaintext(result.promptIds, maxNewTokens));
    expect(second.last.state).toBe('queued');
    session.end();
    channel.close('client: done');
    await first.until((v) => v.state === 'done', 30_000, 'done state');
    expect(first.states).toContain('running');
    first.stopPolling();

    const served = await second.until((v) => v.state === 'ready', 120_000, 'ready state after the first visit');
    expect(served.position).toBe(0);
    expect(served.session!.sessionId).not.toBe(ready.session!.sessionId);
    expect(served.session!.clientSecret).not.toBe(ready.session!.clientSecret);
    const again = await joinAsClient(served);
    const short = await again.session.generate({ prompt: PROMPT, maxNewTokens: 3 });
    expect(short.tokens).toEqual(result.tokens.slice(0, 3));
    again.session.end();
    again.channel.close('client: done');
    await second.until((v) => v.state === 'done', 30_000, 'done state');
    second.stopPolling();
  }, 300_000);

  it('stop mid-generation frees the parties within 2 s, and the queued visit is then served', async () => {
    const running = await Visit.create(base, 'stories260K');
    const ready = await running.until((v) => v.state === 'ready', 120_000, 'ready state');
    const waiting = await Visit.create(base, 'stories260K');
    expect(waiting.position).toBe(1);
    const { channel, session } = await joinAsClient(ready);
    let tokens = 0;
    let stopped: Promise<{ status: number; ms: number }> | null = null;
    const generation = session.generate({
      prompt: PROMPT, maxNewTokens: 40,
      onToken: () => {
        if (++tokens === 2) {
          const t0 = Date.now();
          stopped = running.stop().then((a) => ({ status: a.status, ms: Date.now() - t0 }));
        }
      },
    });
    await expect(generation).rejects.toThrow(/party|stopped|interrupted|disconnected/i);
    channel.close('client: stopped');
    const stop = await stopped!;
    console.log(`stop answered after ${stop.ms} ms (parties ended, slot free)`);
    expect(stop.status).toBe(200);
    expect(stop.ms).toBeLessThan(2_000);
    expect(tokens).toBeLessThan(40);
    expect((await running.poll()).state).toBe('stopped');
    running.stopPolling();

    const next = await waiting.until((v) => v.state !== 'queued', 5_000, 'leaving the queue');
    expect(next.position).toBe(0);
    const served = await waiting.until((v) => v.state === 'ready', 120_000, 'ready state');
    const visitor = await joinAsClient(served);
    const result = await visitor.session.generate({ prompt: PROMPT, maxNewTokens: 2 });
    expect(result.tokens).toEqual(plaintext(result.promptIds, 2));
    visitor.session.end();
    visitor.channel.close('client: done');
    await waiting.until((v) => v.state === 'done', 30_000, 'done state');
    waiting.stopPolling();
  }, 300_000);

  it('ends a visit that is no longer polled and serves the next one', async () => {
    const abandoned = await Visit.create(base, 'stories260K');
    await abandoned.until((v) => v.state === 'ready', 120_000, 'ready state');
    abandoned.stopPolling();
    const next = await Visit.create(base, 'stories260K');
    expect(next.position).toBe(1);
    const t0 = Date.now();
    await next.until((v) => v.state !== 'queued', IDLE_TIMEOUT_MS + 10_000, 'being served after the abandoned visit');
    console.log(`abandoned visit freed ${Date.now() - t0} ms after its last poll (idle timeout ${IDLE_TIMEOUT_MS} ms)`);
    const view = await abandoned.poll();
    expect(view.state).toBe('stopped');
    expect(view.error).toMatch(/abandoned: the visit was not polled for 3 s/);
    expect(view.session).toBeUndefined();
    await next.stop();
    next.stopPolling();
  }, 300_000);

  it('seats a visitor as party 1 with a fresh sharing; the result equals plaintext', async () => {
    const seatKey = await makeKey(state, 'visitor-seat');
    const visit = await Visit.create(base, 'stories260K', { party: 1, fingerprint: seatKey.fingerprint });
    const ready = await visit.until((v) => v.state === 'ready', 120_000, 'ready state');
    const { parties } = (await call<HostedInfo>(base, 'GET', '/api/hosted')).body;
    expect(ready.session!.parties).toEqual([parties[0].fingerprint, seatKey.fingerprint, parties[2].fingerprint]);
    expect(ready.session!.seatSecret).toMatch(/^[0-9a-f]{32}$/);
    const seat = runSeat(ready, seatKey.file);
    const { channel, session } = await joinAsClient(ready);
    const result = await session.generate({ prompt: PROMPT, maxNewTokens: 3 });
    expect(result.tokens).toEqual(plaintext(result.promptIds, 3));
    session.end();
    const seatExit = await exitOf(seat, 60_000);
    expect(seatExit.code, seatExit.stderr).toBe(0);
    // The seat's share came from a sharing made for this visit: nothing of it was cached anywhere before.
    const { weights } = lastJson(seatExit.stdout) as { weights: { partsTotal: number; partsFetched: number } };
    expect(weights.partsFetched).toBe(weights.partsTotal);
    channel.close('client: done');
    await visit.until((v) => v.state === 'done', 30_000, 'done state');
    visit.stopPolling();
  }, 300_000);

  it('answers bad input with clear 4xx errors', async () => {
    const unknown = await call(base, 'POST', '/api/hosted/visits', { body: { model: 'gpt5' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatch(/unknown model "gpt5"; this host offers stories260K/);
    const noModel = await call(base, 'POST', '/api/hosted/visits', { body: {} });
    expect(noModel.status).toBe(400);
    expect(noModel.body.error).toMatch(/"model" must be one of stories260K/);
    const extra = await call(base, 'POST', '/api/hosted/visits', { body: { model: 'stories260K', prompt: 'x' } });
    expect(extra.status).toBe(400);
    expect(extra.body.error).toMatch(/unknown field "prompt"/);
    const badSeat = await call(base, 'POST', '/api/hosted/visits', { body: { model: 'stories260K', seat: { party: 1, fingerprint: 'abc' } } });
    expect(badSeat.status).toBe(400);
    expect(badSeat.body.error).toMatch(/seat.fingerprint must be the visitor's public-key fingerprint, 64 lowercase hex digits/);
    const otherSeat = await call(base, 'POST', '/api/hosted/visits', { body: { model: 'stories260K', seat: { party: 2, fingerprint: 'a'.repeat(64) } } });
    expect(otherSeat.status).toBe(400);
    expect(otherSeat.body.error).toMatch(/seat.party must be 1/);
    const hostKey = (await call<HostedInfo>(base, 'GET', '/api/hosted')).body.parties[0].fingerprint;
    const stolenSeat = await call(base, 'POST', '/api/hosted/visits', { body: { model: 'stories260K', seat: { party: 1, fingerprint: hostKey } } });
    expect(stolenSeat.status).toBe(400);
    expect(stolenSeat.body.error).toMatch(/identity of one of the hosted parties/);

    const visit = await Visit.create(base, 'stories260K');
    const wrong = await call(base, 'GET', `/api/hosted/visits/${visit.id}`, { token: '0'.repeat(32) });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toMatch(/wrong token for visit/);
    const missing = await call(base, 'GET', `/api/hosted/visits/${visit.id}`);
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatch(/x-visit-token/);
    const wrongStop = await call(base, 'POST', `/api/hosted/visits/${visit.id}/stop?token=${'1'.repeat(32)}`);
    expect(wrongStop.status).toBe(403);
    const noVisit = await call(base, 'GET', `/api/hosted/visits/${'f'.repeat(32)}`, { token: visit.token });
    expect(noVisit.status).toBe(404);
    // sendBeacon's form: the token in the query.
    const beacon = await call(base, 'POST', `/api/hosted/visits/${visit.id}/stop?token=${visit.token}`);
    expect(beacon.status).toBe(200);
    expect(beacon.body.state).toBe('stopped');
    visit.stopPolling();
  }, 60_000);
});
