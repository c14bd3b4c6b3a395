import { describe, expect, it } from 'vitest';
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
    await expect(net.get(1)!.recv(0, 'x')).rejects.toThrow(/second message/);
  });
});
