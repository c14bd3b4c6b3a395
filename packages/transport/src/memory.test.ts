import { describe, expect, it } from 'vitest';
import { CLIENT, OWNER } from './channel.ts';
import { memoryNetwork } from './memory.ts';

describe('memory channels', () => {
  it('matches by tag regardless of arrival order and counts bytes', async () => {
    const net = memoryNetwork([0, 1]);
    const a = net.get(0)!;
    const b = net.get(1)!;
    a.send(1, 'op2', new Uint8Array([2, 2]));
    a.send(1, 'op1', new Uint8Array([1]));
    expect(Array.from(await b.recv(0, 'op1'))).toEqual([1]);
    expect(Array.from(await b.recv(0, 'op2'))).toEqual([2, 2]);
    expect(a.stats.bytesSent).toBe(3);
    expect(a.stats.bytesSentTo[1]).toBe(3);
    expect(b.stats.bytesReceived).toBe(3);
  });
  it('close rejects pending receives with the reason', async () => {
    const net = memoryNetwork([0, 1]);
    const p = net.get(1)!.recv(0, 'never');
    net.get(1)!.close('peer 0 disconnected');
    await expect(p).rejects.toThrow(/peer 0 disconnected/);
  });
  it('a duplicate tag is a protocol error, not a silent overwrite', async () => {
    const net = memoryNetwork([0, 1]);
    net.get(0)!.send(1, 't', new Uint8Array([1]));
    net.get(0)!.send(1, 't', new Uint8Array([2]));
    await new Promise((r) => setTimeout(r, 0));
    await expect(net.get(1)!.recv(0, 'x')).rejects.toThrow('protocol error: second message from party 0 with tag t');
  });
  it('a duplicate arriving after the first copy was read fails the pending receives, naming peer and tag', async () => {
    const net = memoryNetwork([1, CLIENT]);
    const [party, client] = [net.get(1)!, net.get(CLIENT)!];
    client.send(1, 'j0/tok:0', new Uint8Array([1]));
    expect(Array.from(await party.recv(CLIENT, 'j0/tok:0'))).toEqual([1]);
    const next = party.recv(CLIENT, 'j0/tok:1');
    client.send(1, 'j0/tok:0', new Uint8Array([9]));
    await expect(next).rejects.toThrow('protocol error: second message from client with tag j0/tok:0');
    await expect(party.recv(CLIENT, 'j1/tok:0')).rejects.toThrow(/second message from client/);
  });
  it('a duplicate of a message handed straight to a waiting receiver is caught too', async () => {
    const net = memoryNetwork([0, 2]);
    const waiting = net.get(2)!.recv(0, 'r1');
    net.get(0)!.send(2, 'r1', new Uint8Array([1]));
    expect(Array.from(await waiting)).toEqual([1]);
    net.get(0)!.send(2, 'r1', new Uint8Array([1]));
    await expect(net.get(2)!.recv(0, 'r2')).rejects.toThrow('protocol error: second message from party 0 with tag r1');
  });
  it('receiving a tag twice is refused at once instead of waiting forever', async () => {
    const net = memoryNetwork([0, 1]);
    net.get(0)!.send(1, 'once', new Uint8Array([1]));
    await net.get(1)!.recv(0, 'once');
    await expect(net.get(1)!.recv(0, 'once')).rejects.toThrow('protocol error: the message from party 0 with tag once was already received');
  });
  it('reports the identities it was given as the peers\' proven identities; without them it has no peerIdentity', () => {
    const fp = (c: string) => c.repeat(64);
    const net = memoryNetwork([0, 1, OWNER], undefined, { 0: fp('a'), 1: fp('b') });
    expect(net.get(0)!.peerIdentity!(1)).toBe(fp('b'));
    expect(net.get(OWNER)!.peerIdentity!(0)).toBe(fp('a'));
    expect(net.get(1)!.peerIdentity!(OWNER)).toBeUndefined();
    expect(memoryNetwork([0, 1]).get(0)!.peerIdentity).toBeUndefined();
  });
});
