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

/** What serveParts() measured: the whole transfer, and per peer the time spent waiting for its window to open. */
export interface PartsServed {
  ms: number;
  msWaitingForAcks: Record<number, number>;
}

/**
 * The model owner's share transfer pattern (worker/session/owner.ts sendParts): `count` parts of `bytes` to each of
 * `peers`, part i to every peer before part i + 1, at most `window` unacknowledged per peer; ends when all are
 * acknowledged.
 */
export async function serveParts(ch: Channel, peers: readonly EndpointId[], run: string, count: number, bytes: number, window: number): Promise<PartsServed> {
  const payload = new Uint8Array(bytes);
  const unacked = new Map(peers.map((p) => [p, [] as number[]]));
  const waiting: Record<number, number> = {};
  const acked = async (p: EndpointId) => {
    const t = performance.now();
    await ch.recv(p, `${run}/got/${unacked.get(p)!.shift()}`);
    waiting[p] = (waiting[p] ?? 0) + performance.now() - t;
  };
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    for (const p of peers) {
      while (unacked.get(p)!.length >= window) await acked(p);
      ch.send(p, `${run}/part/${i}`, payload);
      unacked.get(p)!.push(i);
    }
  }
  for (const p of peers) while (unacked.get(p)!.length > 0) await acked(p);
  return { ms: performance.now() - t0, msWaitingForAcks: waiting };
}

/** The party's side of serveParts(): takes each part in order, hashes it (sha256) when asked, acknowledges it. */
export async function takeParts(ch: Channel, from: EndpointId, run: string, count: number, hash: boolean): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const part = await ch.recv(from, `${run}/part/${i}`);
    if (hash) await crypto.subtle.digest('SHA-256', part as Uint8Array<ArrayBuffer>);
    ch.send(from, `${run}/got/${i}`, new Uint8Array(0));
  }
  return performance.now() - t0;
}
