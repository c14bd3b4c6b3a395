/**
 * `npm run bench -- transport`: throughput and round-trip latency of one WebRTC link on loopback, between two
 * Chromium tabs with 1, 2 and 4 data channels per link, between a tab and a Node endpoint, and between two Node
 * endpoints (node-datachannel). Throughput: `count` messages of 1 MiB one way, timed until the receiver's
 * acknowledgement (median of REPS runs after a warm-up). Latency: median round trip of a 64-byte message.
 * The target for tabs is 40 MB/s per link.
 */
import { createPeerChannel, createSession, endpointSlot, generateIdentity, joinSession, type CreatedSession, type PeerChannel } from '@puma/transport-webrtc';
import { installNodeWebRtc } from '@puma/transport-webrtc/node';
import { startTransportLab, withTimeout, type TransportLab, type TransportTab } from './transport-lab/lab.ts';
import { blast, drain, echo, ping } from './transport-lab/traffic.ts';
import { median, type BenchRow } from './report.ts';

const MiB = 1024 * 1024;
const MESSAGE_BYTES = MiB;
const TAB_MESSAGES = 32;
const NODE_MESSAGES = 128;
const REPS = 3;
const WARMUP_MESSAGES = 8;
const PINGS = 50;
const PING_BYTES = 64;
const TARGET_MBPS = 40;
const STEP_TIMEOUT_MS = 120_000;

interface Measured {
  mbps: number;
  rttMs: number;
}

function progress(line: string): void {
  process.stderr.write(`transport bench: ${line}\n`);
}

async function measure(
  transfer: (run: string, messages: number) => Promise<number>,
  roundTrips: (run: string) => Promise<number[]>,
  messages: number,
): Promise<Measured> {
  await withTimeout(transfer('warm', WARMUP_MESSAGES), STEP_TIMEOUT_MS, 'warm-up transfer');
  const times: number[] = [];
  for (let r = 0; r < REPS; r++) times.push(await withTimeout(transfer(`rep${r}`, messages), STEP_TIMEOUT_MS, 'transfer'));
  const rtts = await withTimeout(roundTrips('rtt'), STEP_TIMEOUT_MS, 'round trips');
  return { mbps: (messages * MESSAGE_BYTES) / 1e6 / (median(times) / 1000), rttMs: median(rtts) };
}

async function tabToTab(lab: TransportLab, channels: number): Promise<Measured> {
  const s = await createSession(lab.coordinator.url, { model: 'bench' });
  const [a, b] = await Promise.all([lab.openTab(), lab.openTab()]);
  try {
    const req = (self: number, peer: number) => ({
      coordinator: lab.coordinator.url, sessionId: s.id, self, peers: [peer], channelsPerPeer: channels, slotSecret: s.slotSecrets[endpointSlot(self)], join: true,
    });
    await withTimeout(Promise.all([a.call('connect', req(0, 1)), b.call('connect', req(1, 0))]), STEP_TIMEOUT_MS, 'connecting tabs');
    return await measure(
      async (run, n) => (await Promise.all([a.call('blast', 1, run, n, MESSAGE_BYTES), b.call('drain', 0, run, n)]))[0],
      async (run) => (await Promise.all([a.call('ping', 1, run, PINGS, PING_BYTES), b.call('echo', 0, run, PINGS)]))[0],
      TAB_MESSAGES,
    );
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/** A Node endpoint with a fresh identity, joined to its slot with the slot's secret. */
async function nodeChannel(lab: TransportLab, s: CreatedSession, self: number, peer: number, channels: number): Promise<PeerChannel> {
  const { identity } = await generateIdentity();
  const slotSecret = s.slotSecrets[endpointSlot(self)];
  await joinSession(lab.coordinator.url, s.id, endpointSlot(self), { secret: slotSecret, identity: identity.fingerprint });
  return createPeerChannel({ coordinator: lab.coordinator.url, sessionId: s.id, self, peers: [peer], channelsPerPeer: channels, identity, slotSecret });
}

async function tabToNode(lab: TransportLab, channels: number): Promise<Measured> {
  const s = await createSession(lab.coordinator.url, { model: 'bench' });
  const tab: TransportTab = await lab.openTab();
  const node = await nodeChannel(lab, s, 1, 0, channels);
  try {
    const req = { coordinator: lab.coordinator.url, sessionId: s.id, self: 0, peers: [1], channelsPerPeer: channels, slotSecret: s.slotSecrets.party0, join: true };
    await withTimeout(Promise.all([tab.call('connect', req), node.ready]), STEP_TIMEOUT_MS, 'connecting tab and Node');
    return await measure(
      async (run, n) => (await Promise.all([tab.call('blast', 1, run, n, MESSAGE_BYTES), drain(node, 0, run, n)]))[0],
      async (run) => (await Promise.all([tab.call('ping', 1, run, PINGS, PING_BYTES), echo(node, 0, run, PINGS)]))[0],
      TAB_MESSAGES,
    );
  } finally {
    node.close('bench done');
    await Promise.all([node.closed, tab.close()]);
  }
}

async function nodeToNode(lab: TransportLab, channels: number): Promise<Measured> {
  const s = await createSession(lab.coordinator.url, { model: 'bench' });
  const a = await nodeChannel(lab, s, 0, 1, channels);
  const b = await nodeChannel(lab, s, 1, 0, channels);
  try {
    await withTimeout(Promise.all([a.ready, b.ready]), STEP_TIMEOUT_MS, 'connecting Node endpoints');
    return await measure(
      async (run, n) => (await Promise.all([blast(a, 1, run, n, MESSAGE_BYTES), drain(b, 0, run, n)]))[0],
      async (run) => (await Promise.all([ping(a, 1, run, PINGS, PING_BYTES), echo(b, 0, run, PINGS)]))[0],
      NODE_MESSAGES,
    );
  } finally {
    a.close('bench done');
    b.close('bench done');
    await Promise.all([a.closed, b.closed]);
  }
}

export default async function transportBench(_opts: { json: boolean; args: string[] }): Promise<BenchRow[]> {
  installNodeWebRtc();
  const lab = await startTransportLab();
  const rows: BenchRow[] = [];
  const row = (name: string, messages: number, channels: number, m: Measured, target?: number): BenchRow => ({
    name,
    size: `${messages} × 1 MiB`,
    channels,
    MBps: m.mbps,
    medianMs: m.rttMs,
    ...(target === undefined ? {} : { targetMBps: target, meetsTarget: m.mbps >= target ? 'yes' : 'no' }),
  });
  try {
    for (const channels of [1, 2, 4]) {
      progress(`tab ↔ tab, ${channels} channel(s)`);
      rows.push(row('tab ↔ tab', TAB_MESSAGES, channels, await tabToTab(lab, channels), TARGET_MBPS));
    }
    for (const channels of [1, 4]) {
      progress(`tab ↔ Node, ${channels} channel(s)`);
      rows.push(row('tab ↔ Node', TAB_MESSAGES, channels, await tabToNode(lab, channels)));
    }
    for (const channels of [1, 2, 4]) {
      progress(`Node ↔ Node, ${channels} channel(s)`);
      rows.push(row('Node ↔ Node', NODE_MESSAGES, channels, await nodeToNode(lab, channels)));
    }
  } finally {
    await lab.close();
  }
  return rows;
}
