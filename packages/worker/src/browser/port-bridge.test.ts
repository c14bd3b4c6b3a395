import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryNetwork, type Channel, type PortLike } from '@puma/transport';
import { channelOverPort, serveChannelOverPort, type BridgedChannel } from './port-bridge.ts';

const opened: MessageChannel[] = [];
afterEach(() => {
  for (const mc of opened.splice(0)) {
    mc.port1.close();
    mc.port2.close();
  }
});

/** Endpoint 0 is bridged (its protocol side talks through a port), endpoint 1 is a plain in-memory peer. */
function bridged(): { worker: BridgedChannel; page: Channel; peer: Channel } {
  const net = memoryNetwork([0, 1]);
  const mc = new MessageChannel();
  opened.push(mc);
  serveChannelOverPort(net.get(0)!, mc.port1 as unknown as PortLike);
  return { worker: channelOverPort(0, mc.port2 as unknown as PortLike), page: net.get(0)!, peer: net.get(1)! };
}

describe('channel over a MessagePort', () => {
  it('moves tagged messages both ways, matched by tag whatever the arrival order, and counts bytes', async () => {
    const { worker, page, peer } = bridged();
    const late = worker.recv(1, 'b');
    const early = worker.recv(1, 'a');
    peer.send(0, 'b', Uint8Array.of(2, 2));
    peer.send(0, 'a', Uint8Array.of(1));
    expect(Array.from(await early)).toEqual([1]);
    expect(Array.from(await late)).toEqual([2, 2]);
    const payload = Uint8Array.from({ length: 1000 }, (_, i) => i & 255);
    worker.send(1, 'c', payload);
    expect(Array.from(await peer.recv(0, 'c'))).toEqual(Array.from(payload));
    expect(payload[999]).toBe(999 & 255);
    expect(worker.stats).toMatchObject({ bytesSent: 1000, bytesReceived: 3, messagesSent: 1 });
    expect(page.stats.bytesSent).toBe(1000);
  });

  it('flush resolves only after the page has handed every earlier send to its channel', async () => {
    const { worker, page } = bridged();
    let handed = 0;
    const send = page.send.bind(page);
    page.send = (to, tag, data) => {
      handed += 1;
      send(to, tag, data);
    };
    for (let i = 0; i < 50; i++) worker.send(1, `m${i}`, new Uint8Array(64));
    await worker.flush();
    expect(handed).toBe(50);
  });

  it('passes the real channel failure message to pending and later receives', async () => {
    const { worker, page } = bridged();
    const pending = worker.recv(1, 'never');
    page.close('party 1 disconnected');
    await expect(pending).rejects.toThrow('party 1 disconnected');
    await expect(worker.recv(1, 'later')).rejects.toThrow('party 1 disconnected');
  });

  it('closing the worker side closes the page channel with the same reason', async () => {
    const { worker, page } = bridged();
    const pageWaits = page.recv(1, 'x');
    const workerWaits = worker.recv(1, 'y');
    worker.close('party 0 stopped: out of memory');
    await expect(workerWaits).rejects.toThrow('party 0 stopped: out of memory');
    await expect(pageWaits).rejects.toThrow('party 0 stopped: out of memory');
    expect(() => worker.send(1, 'z', new Uint8Array(1))).toThrow('party 0 stopped: out of memory');
  });

  it("posts one round's sends and receive requests as one message, and the page's answers to them as one", async () => {
    const net = memoryNetwork([0, 1, 2]);
    const mc = new MessageChannel();
    opened.push(mc);
    const posts = { toPage: 0, toWorker: 0 };
    const count = (port: MessagePort, key: keyof typeof posts) => {
      const postMessage = port.postMessage.bind(port);
      port.postMessage = (m: unknown) => {
        posts[key] += 1;
        postMessage(m);
      };
      return port as unknown as PortLike;
    };
    serveChannelOverPort(net.get(0)!, count(mc.port1, 'toWorker'));
    const worker = channelOverPort(0, count(mc.port2, 'toPage'));
    // The peers' messages are in the page's channel before the worker asks for them: the answers go together.
    net.get(1)!.send(0, 'r', Uint8Array.of(1));
    net.get(2)!.send(0, 'r', Uint8Array.of(2));
    await new Promise((resolve) => setTimeout(resolve, 10));
    // The page's first word, the lanes it opened (none here), is not part of the round.
    expect(posts).toEqual({ toPage: 0, toWorker: 1 });
    posts.toWorker = 0;
    // One exchange: a send to each peer, then a receive from each.
    worker.send(1, 'r', Uint8Array.of(10));
    worker.send(2, 'r', Uint8Array.of(20));
    const got = await Promise.all([worker.recv(1, 'r'), worker.recv(2, 'r')]);
    expect(got.map((d) => Array.from(d))).toEqual([[1], [2]]);
    expect(Array.from(await net.get(1)!.recv(0, 'r'))).toEqual([10]);
    expect(Array.from(await net.get(2)!.recv(0, 'r'))).toEqual([20]);
    expect(posts).toEqual({ toPage: 1, toWorker: 1 });
  });

  it('tells the worker the identity each peer proved on the page\'s link, once a message from it arrived', async () => {
    const fp = 'b'.repeat(64);
    const net = memoryNetwork([0, 1], undefined, { 1: fp });
    const mc = new MessageChannel();
    opened.push(mc);
    serveChannelOverPort(net.get(0)!, mc.port1 as unknown as PortLike);
    const worker = channelOverPort(0, mc.port2 as unknown as PortLike, { identities: true });
    expect(worker.peerIdentity!(1)).toBeUndefined();
    net.get(1)!.send(0, 'hello', new Uint8Array(0));
    await worker.recv(1, 'hello');
    expect(worker.peerIdentity!(1)).toBe(fp);
    expect(bridged().worker.peerIdentity).toBeUndefined();
  });
});
