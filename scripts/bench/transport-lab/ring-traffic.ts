/**
 * The message pattern of one protocol round among three parties: each party sends one message to the next party
 * and waits for the one from the previous party (a reshare). Run `rounds` of them; returns each round's ms.
 * Each payload starts with its send time (epoch ms, float64), so receivers can time each hop.
 */
import type { Channel, EndpointId } from '@puma/transport';

export const epochNow = () => performance.timeOrigin + performance.now();
export const sentAt = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset, d.byteLength).getFloat64(0, true);

export async function ring(ch: Channel, run: string, rounds: number, bytes: number, arrivals: number[] = []): Promise<number[]> {
  const me = ch.self;
  const next: EndpointId = (me + 1) % 3;
  const prev: EndpointId = (me + 2) % 3;
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const payload = new Uint8Array(Math.max(8, bytes));
    new DataView(payload.buffer).setFloat64(0, epochNow(), true);
    ch.send(next, `${run}/${r}`, payload);
    const got = await ch.recv(prev, `${run}/${r}`);
    arrivals.push(epochNow() - sentAt(got));
    times.push(performance.now() - t0);
  }
  return times;
}
