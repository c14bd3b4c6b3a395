/**
 * port-bridge.ts with lanes: parties 0 and 1 are pages whose workers get lanes to each other; party 2 is a peer
 * without lanes (as a Node party is). Harness: lanes-test-support.ts.
 */
import { describe, expect, it } from 'vitest';
import { memoryNetwork, type Channel } from '@puma/transport';
import { channelOverPort, serveChannelOverPort, type BridgedChannel, LANE_ATTACHED_TAG } from './port-bridge.ts';
import { SWITCH_TAG } from './bridge-lanes.ts';
import { cuttable, laneRegistry, portPair } from './lanes-test-support.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setUp() {
  const net = memoryNetwork([0, 1, 2], undefined, { 0: 'a'.repeat(64), 1: 'b'.repeat(64), 2: 'c'.repeat(64) });
  const registry = laneRegistry();
  const pages = [0, 1].map((id) => cuttable(net.get(id)!, 1 - id));
  const workers: BridgedChannel[] = [0, 1].map((id) => {
    const [pagePort, workerPort] = portPair();
    serveChannelOverPort(pages[id].channel, pagePort, { lanes: registry.opener(id, [1 - id, 2]) });
    return channelOverPort(id, workerPort, { identities: true });
  });
  return { net, registry, pages, workers, plain: net.get(2)! as Channel };
}

/** Page sends of application messages (not the lane notices). */
const appSends = (sends: { to: number; tag: string }[], to: number) => sends.filter((s) => s.to === to && s.tag !== LANE_ATTACHED_TAG).map((s) => s.tag);

describe('bridged channel with lanes', () => {
  it('moves messages between two workers over their lane once both hold it, and keeps earlier page messages reachable', async () => {
    const { registry, pages, workers } = setUp();
    // Sent before either worker has heard that the other holds its lane end: through the page.
    workers[0].send(1, 'early', Uint8Array.of(1));
    await sleep(50);
    expect(appSends(pages[0].sends, 1)).toEqual(['early']);
    for (let r = 0; r < 20; r++) {
      workers[0].send(1, `r${r}`, Uint8Array.of(r));
      workers[1].send(0, `r${r}`, Uint8Array.of(100 + r));
      const [at0, at1] = await Promise.all([workers[0].recv(1, `r${r}`), workers[1].recv(0, `r${r}`)]);
      expect([Array.from(at0), Array.from(at1)]).toEqual([[100 + r], [r]]);
    }
    // The early message went through the page and was listed in the lane's first message, so it still arrives.
    expect(Array.from(await workers[1].recv(0, 'early'))).toEqual([1]);
    // Every round after the switch took the lane: the pages carried none of them.
    expect(appSends(pages[0].sends, 1)).toEqual(['early']);
    expect(appSends(pages[1].sends, 0)).toEqual([]);
    expect(registry.ends.get('0->1')!.sent).toBeGreaterThanOrEqual(20);
    expect(workers[1].peerIdentity!(0)).toBe('a'.repeat(64));
    expect(workers[0].stats).toMatchObject({ bytesSent: 21, bytesReceived: 20, messagesSent: 21 });
    // The page's channel counts what the lane carried once the worker told it (at the latest on flush).
    await workers[0].flush();
    expect(pages[0].channel.stats).toMatchObject({ bytesSent: 21, bytesReceived: 20 });
    expect(pages[0].channel.stats.bytesSentTo[1]).toBe(21);
  });

  it('a receive asked before the worker held its lanes still gets a message the peer sends later on its lane', async () => {
    const { pages, workers } = setUp();
    const first = workers[1].recv(0, 'first');
    await sleep(50);
    workers[0].send(1, 'first', Uint8Array.of(5));
    expect(Array.from(await first)).toEqual([5]);
    expect(appSends(pages[0].sends, 1)).toEqual([]);
  });

  it('fails a receive asked before the lanes arrived when the worker closes', async () => {
    const [, workerPort] = portPair();
    const worker = channelOverPort(0, workerPort);
    const waiting = worker.recv(1, 'x');
    worker.close('party 0 stopped');
    await expect(waiting).rejects.toThrow('party 0 stopped');
  });

  it('reaches a peer without lanes through the page, both ways', async () => {
    const { pages, workers, plain } = setUp();
    await sleep(50);
    workers[0].send(2, 'x', Uint8Array.of(7));
    plain.send(0, 'y', Uint8Array.of(8));
    expect(Array.from(await plain.recv(0, 'x'))).toEqual([7]);
    expect(Array.from(await workers[0].recv(2, 'y'))).toEqual([8]);
    expect(appSends(pages[0].sends, 2)).toEqual(['x']);
  });

  it("fails receives from a peer whose link failed with the link's reason, and sends to it", async () => {
    const { pages, workers } = setUp();
    workers[0].send(1, 'warm', new Uint8Array(1));
    await workers[1].recv(0, 'warm');
    await sleep(50);
    const pending = workers[0].recv(1, 'never');
    pages[0].cut('party 1 disconnected (it left)');
    await expect(pending).rejects.toThrow('party 1 disconnected (it left)');
    expect(() => workers[0].send(1, 'after', new Uint8Array(1))).toThrow('party 1 disconnected (it left)');
  });

  it('refuses a malformed switch message on a lane as a protocol error naming the peer', async () => {
    const { registry, workers } = setUp();
    await sleep(50);
    const pending = workers[1].recv(0, 'anything');
    const bad = new TextEncoder().encode('not json');
    // A CHUNK frame (frame.ts) carrying the switch tag and a payload that is no list of tags.
    const tag = new TextEncoder().encode(SWITCH_TAG);
    const frame = new Uint8Array(16 + tag.byteLength + bad.byteLength);
    const view = new DataView(frame.buffer);
    view.setUint8(0, 1);
    view.setUint16(2, tag.byteLength, true);
    view.setUint32(4, 999, true);
    view.setUint32(12, bad.byteLength, true);
    frame.set(tag, 16);
    frame.set(bad, 16 + tag.byteLength);
    registry.ends.get('0->1')!.send(frame);
    await expect(pending).rejects.toThrow('protocol error from party 0 on its lane: a malformed or second switch message');
  });
});
