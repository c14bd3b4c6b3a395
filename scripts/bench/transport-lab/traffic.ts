/**
 * Traffic patterns shared by the transport page (in a tab) and the transport bench (for Node endpoints):
 * timed bulk transfer and ping-pong over any Channel. Tags carry a run id so repeated runs never collide.
 */
import type { Channel, EndpointId } from '@puma/transport';

/** Sends `count` messages of `bytes` to `to` and waits for its acknowledgement; returns the elapsed ms. */
export async function blast(ch: Channel, to: EndpointId, run: string, count: number, bytes: number): Promise<number> {
  const payload = new Uint8Array(bytes);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) ch.send(to, `${run}/${i}`, payload);
  await ch.recv(to, `${run}/ack`);
  return performance.now() - t0;
}

/** The receiving side of blast(): takes every message, then acknowledges. */
export async function drain(ch: Channel, from: EndpointId, run: string, count: number): Promise<void> {
  const all: Promise<Uint8Array>[] = [];
  for (let i = 0; i < count; i++) all.push(ch.recv(from, `${run}/${i}`));
  await Promise.all(all);
  ch.send(from, `${run}/ack`, new Uint8Array(0));
}

/** Round trips of `bytes`-byte messages to an endpoint running echo(); returns each one's ms. */
export async function ping(ch: Channel, to: EndpointId, run: string, rounds: number, bytes: number): Promise<number[]> {
  const times: number[] = [];
  const payload = new Uint8Array(bytes);
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    ch.send(to, `${run}/ping/${i}`, payload);
    await ch.recv(to, `${run}/pong/${i}`);
    times.push(performance.now() - t0);
  }
  return times;
}

/** The answering side of ping(). */
export async function echo(ch: Channel, from: EndpointId, run: string, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) ch.send(from, `${run}/pong/${i}`, await ch.recv(from, `${run}/ping/${i}`));
}
