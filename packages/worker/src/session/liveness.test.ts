/**
 * A session never hangs silently (issue 11): parties given different job headers all stop naming the
 * mismatch, a stalled step hits its deadline on every endpoint, a duplicated message is a protocol error
 * naming its sender and tag, and no message tag of one job is reused by the next.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIENT, type Channel, type EndpointId } from '@puma/transport';
import { openClientSession } from './index.ts';
import { ENDPOINTS, IDENTITIES, PROMPT, ROSTER, clientChannel, freshStores, loadFixture, startSession, within, type Fixture } from './session-fixture.ts';
import { droppableNetwork } from './test-support.ts';

let fx: Fixture;

beforeAll(async () => {
  fx = await loadFixture();
}, 60_000);

/** The client's channel as seen through a relay that rewrites (or repeats) what the client sends. */
function relay(ch: Channel, rewrite: (to: EndpointId, tag: string, data: Uint8Array) => Uint8Array[]): Channel {
  return { ...ch, send: (to, tag, data) => rewrite(to, tag, data).forEach((d) => ch.send(to, tag, d)) };
}

const PARTY_IDS = [0, 1, 2] as const;

describe('liveness', () => {
  it('parties given different job headers all stop within a round, naming the mismatch; the client hears it', async () => {
    const run = startSession(fx, freshStores());
    const toArgmax = (data: Uint8Array) => new TextEncoder().encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(data)), reveal: 'argmax' }));
    const ch = relay(clientChannel(run.net), (to, tag, data) => [to === 0 && tag === 'job:0' ? toArgmax(data) : data]);
    const session = await openClientSession({ channel: ch, approvedParties: ROSTER });
    const generation = session.generate({ prompt: PROMPT, maxNewTokens: 3, reveal: 'logits' });
    generation.catch(() => {});
    const mismatch = /job 0: party \d received a different job header than party \d \(sha256 [0-9a-f]{16}… vs [0-9a-f]{16}…\)/;
    await expect(within(generation, 5_000, 'the client')).rejects.toThrow(mismatch);
    for (const id of PARTY_IDS) await expect(within(run.parties[id], 5_000, `party ${id}`)).rejects.toThrow(mismatch);
    await expect(session.generate({ prompt: PROMPT, maxNewTokens: 1 })).rejects.toThrow(mismatch);
  }, 30_000);

  it('a step that stalls hits the deadline on every endpoint, naming the job, the step and what was awaited', async () => {
    const stepTimeoutMs = 3_000;
    // Party 2 goes silent a few protocol rounds into the first step (its link stays up): no step completes
    // normally before the stall, so the deadline cannot fire for a slow machine instead.
    let roundsOfParty2 = 0;
    const net = droppableNetwork(ENDPOINTS, (from, _to, tag) => {
      if (from === 2 && /^\d/.test(tag) && ++roundsOfParty2 === 10) net.silence(2);
    }, IDENTITIES);
    const run = startSession(fx, freshStores(), { net, stepTimeoutMs });
    const session = await openClientSession({ channel: clientChannel(net), approvedParties: ROSTER, stepTimeoutMs });
    const t0 = Date.now();
    const generation = session.generate({ prompt: PROMPT, maxNewTokens: 4 });
    generation.catch(() => {});
    const stalled = /job 0 step 0: no progress for 3 s \(waiting for (party \d|client): /;
    await expect(within(generation, 15_000, 'the client')).rejects.toThrow(stalled);
    for (const id of PARTY_IDS) await expect(within(run.parties[id], 5_000, `party ${id}`)).rejects.toThrow(stalled);
    expect(roundsOfParty2).toBeGreaterThanOrEqual(10);
    expect(Date.now() - t0).toBeLessThan(stepTimeoutMs + 5_000);
  }, 30_000);

  it('waiting for the next job is not bounded by the step deadline', async () => {
    const stepTimeoutMs = 500;
    const run = startSession(fx, freshStores(), { stepTimeoutMs });
    const session = await openClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER, stepTimeoutMs });
    await new Promise((r) => setTimeout(r, 3 * stepTimeoutMs));
    session.end();
    const reports = await within(Promise.all(run.parties), 5_000, 'the parties');
    expect(reports.map((r) => r.jobs)).toEqual([[], [], []]);
    expect(run.status.flat().filter((s) => s.phase === 'error')).toEqual([]);
  }, 30_000);

  it('a duplicated message is a protocol error naming its sender and tag, and the session stops', async () => {
    const run = startSession(fx, freshStores());
    const ch = relay(clientChannel(run.net), (to, tag, data) => (to === 1 && tag === 'in:j0/tok:1' ? [data, data.slice()] : [data]));
    const session = await openClientSession({ channel: ch, approvedParties: ROSTER });
    const generation = session.generate({ prompt: PROMPT, maxNewTokens: 4 });
    generation.catch(() => {});
    const why = 'party 1: protocol error: second message from client with tag in:j0/tok:1';
    await expect(within(run.parties[1], 10_000, 'party 1')).rejects.toThrow(why);
    await expect(within(generation, 5_000, 'the client')).rejects.toThrow(`party 1 stopped (${why})`);
    await expect(within(run.parties[0], 5_000, 'party 0')).rejects.toThrow(`party 1 stopped (${why})`);
  }, 30_000);

  it("the second job's messages carry tags of their own, none shared with the first's", async () => {
    const sent: Array<{ from: EndpointId; to: EndpointId; tag: string }> = [];
    const net = droppableNetwork(ENDPOINTS, (from, to, tag) => sent.push({ from, to, tag }), IDENTITIES);
    const run = startSession(fx, freshStores(), { net });
    const session = await openClientSession({ channel: clientChannel(net), approvedParties: ROSTER });
    const first = await session.generate({ prompt: PROMPT, maxNewTokens: 2 });
    const second = await session.generate({ prompt: PROMPT, maxNewTokens: 2 });
    session.end();
    await Promise.all(run.parties);
    expect(second.tokens).toEqual(first.tokens);
    const withClient = (job: number) => new Set(sent.filter((m) => (m.from === CLIENT || m.to === CLIENT) && m.tag.includes(`j${job}/`)).map((m) => m.tag));
    const [tags0, tags1] = [withClient(0), withClient(1)];
    expect([...tags0]).toEqual(expect.arrayContaining(['in:j0/tok:0', 'in:j0/tok:1', 'term:j0/logits:0', 'j0/cost:1']));
    expect([...tags1].sort()).toEqual([...tags0].map((t) => t.replace('j0/', 'j1/')).sort());
    expect([...tags0].filter((t) => tags1.has(t))).toEqual([]);
    // No (sender, receiver, tag) repeats anywhere in the session, party-to-party protocol rounds included.
    const keys = sent.map((m) => `${m.from}>${m.to}|${m.tag}`);
    expect(new Set(keys).size).toBe(keys.length);
  }, 30_000);
});
