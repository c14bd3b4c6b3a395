/**
 * `npm run bench -- transport`: throughput and round-trip latency of one WebRTC link on loopback, between two
 * Chromium tabs with 1, 2 and 4 data channels per link, between a tab and a Node endpoint, and between two Node
 * endpoints (node-datachannel). Throughput: `count` messages of 1 MiB one way, timed until the receiver's
 * acknowledgement (median of REPS runs after a warm-up). Latency: median round trip of a 64-byte message.
 * The target for tabs is 40 MB/s per link.
 *
 * Share parts: the model owner's first-run transfer pattern (worker/session/owner.ts sendParts, party-weights.ts):
 * one tab sends 8 MiB parts to one and to two party tabs, at most OWNER_WINDOW_PARTS unacknowledged per party,
 * each party hashing (sha256) and acknowledging every part. Every row also says what a megabyte cost in CPU
 * seconds, summed over this process and the browsers' processes (network service, renderers, browser) from
 * /proc, and the cores the bench's processes used against those busy on the whole machine: between tabs on two
 * cores that cost, not the window or the message pattern, sets the rate, and the owner's two links share it.
 * The last share-parts row gives each tab a browser of its own, as the browsers bench runs each role.
 * `--parts-only` runs just the share-parts rows.
 */
import { createPeerChannel, createSession, endpointSlot, generateIdentity, joinSession, type CreatedSession, type PeerChannel } from '@puma/transport-webrtc';
import { installNodeWebRtc } from '@puma/transport-webrtc/node';
import { startTransportLab, withTimeout, type TransportLab, type TransportTab } from './transport-lab/lab.ts';
import { DENSE_PART_BYTES, OWNER_WINDOW_PARTS } from '@puma/worker/session';
import { cpuSpent, machineBusySeconds, sampleCpu } from './transport-lab/process-cpu.ts';
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
/** Parts per party and run in the share-parts rows (67 MB per party: under a minute at 2 MB/s). */
const PARTS = 8;
const WARMUP_PARTS = 2;

interface Measured {
  mbps: number;
  rttMs: number;
  /** CPU seconds per MB moved over the timed runs, in all, and per process kind. */
  cpu: CpuPerMB;
}

interface CpuPerMB {
  total: number;
  byKind: Record<string, number>;
  /** Cores the bench's processes used while the runs went on, and cores busy on the whole machine. */
  ownCores: number;
  machineCores: number;
}

/** Readings at the start of timed runs, for cpuPerMB. */
function cpuStart() {
  return { at: performance.now(), tree: sampleCpu(), machine: machineBusySeconds() };
}

/** CPU seconds spent since `start` while `bytes` moved, per MB; empty where /proc cannot be read. */
function cpuPerMB(start: ReturnType<typeof cpuStart>, bytes: number): CpuPerMB {
  const seconds = (performance.now() - start.at) / 1000;
  const spent = cpuSpent(start.tree, sampleCpu());
  const mb = bytes / 1e6;
  const byKind = Object.fromEntries(Object.entries(spent).filter(([, s]) => s > 0).map(([k, s]) => [k, s / mb]));
  const total = Object.values(byKind).reduce((a, b) => a + b, 0);
  return { total, byKind, ownCores: (total * mb) / seconds, machineCores: (machineBusySeconds() - start.machine) / seconds };
}

function cpuColumns(c: CpuPerMB): Record<string, unknown> {
  const top = Object.entries(c.byKind).sort((a, b) => b[1] - a[1]).filter(([, v]) => v >= 0.001);
  return {
    cpuSPerMB: Number(c.total.toFixed(3)), cpuByProcess: top.map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', '),
    cores: `${c.ownCores.toFixed(2)} of ${c.machineCores.toFixed(2)} busy`,
  };
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
  const start = cpuStart();
  for (let r = 0; r < REPS; r++) times.push(await withTimeout(transfer(`rep${r}`, messages), STEP_TIMEOUT_MS, 'transfer'));
  const cpu = cpuPerMB(start, REPS * messages * MESSAGE_BYTES);
  const rtts = await withTimeout(roundTrips('rtt'), STEP_TIMEOUT_MS, 'round trips');
  return { mbps: (messages * MESSAGE_BYTES) / 1e6 / (median(times) / 1000), rttMs: median(rtts), cpu };
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

interface PartsMeasured {
  /** Per party: MB/s of the median run. */
  mbpsPerParty: number;
  /** Per party: the owner's time waiting for its acknowledgements (window full) in the median run, ms. */
  ackWaitMs: number[];
  cpu: CpuPerMB;
}

/**
 * The owner's share transfer between tabs: tab 0 sends PARTS parts of DENSE_PART_BYTES to each of `parties` tabs
 * (window OWNER_WINDOW_PARTS), each party hashes and acknowledges every part. Median of REPS runs after a warm-up.
 */
async function ownerToParties(lab: TransportLab, parties: 1 | 2, ownBrowser: boolean): Promise<PartsMeasured> {
  const s = await createSession(lab.coordinator.url, { model: 'bench' });
  const ids = parties === 1 ? [1] : [1, 2];
  const tabs = await Promise.all([lab.openTab({ ownBrowser }), ...ids.map(() => lab.openTab({ ownBrowser }))]);
  try {
    const req = (self: number, peers: number[]) => ({
      coordinator: lab.coordinator.url, sessionId: s.id, self, peers, channelsPerPeer: 1, slotSecret: s.slotSecrets[endpointSlot(self)], join: true,
    });
    await withTimeout(Promise.all([tabs[0].call('connect', req(0, ids)), ...ids.map((p) => tabs[p].call('connect', req(p, [0])))]), STEP_TIMEOUT_MS, 'connecting tabs');
    const run = async (name: string, parts: number) => {
      const [served] = await Promise.all([
        tabs[0].call('serveParts', ids, name, parts, DENSE_PART_BYTES, OWNER_WINDOW_PARTS),
        ...ids.map((p) => tabs[p].call('takeParts', 0, name, parts, true)),
      ]);
      return served;
    };
    await withTimeout(run('warm', WARMUP_PARTS), STEP_TIMEOUT_MS, 'warm-up share transfer');
    const start = cpuStart();
    const runs = [];
    for (let r = 0; r < REPS; r++) runs.push(await withTimeout(run(`rep${r}`, PARTS), STEP_TIMEOUT_MS, 'share transfer'));
    const cpu = cpuPerMB(start, REPS * PARTS * DENSE_PART_BYTES * parties);
    const mid = [...runs].sort((a, b) => a.ms - b.ms)[REPS >> 1];
    return { mbpsPerParty: (PARTS * DENSE_PART_BYTES) / 1e6 / (mid.ms / 1000), ackWaitMs: ids.map((p) => Math.round(mid.msWaitingForAcks[p] ?? 0)), cpu };
  } finally {
    await Promise.all(tabs.map((t) => t.close()));
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

export default async function transportBench(opts: { json: boolean; args: string[] }): Promise<BenchRow[]> {
  const partsOnly = opts.args.includes('--parts-only');
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
    ...cpuColumns(m.cpu),
  });
  try {
    for (const [parties, ownBrowser] of [[1, false], [2, false], [2, true]] as const) {
      const name = `tab → ${parties} tab(s), share parts${ownBrowser ? ', a browser per tab' : ''}`;
      progress(name);
      const m = await ownerToParties(lab, parties, ownBrowser);
      rows.push({
        name,
        size: `${PARTS} × ${DENSE_PART_BYTES / MiB} MiB per party, window ${OWNER_WINDOW_PARTS}`,
        channels: 1,
        MBps: m.mbpsPerParty,
        totalMBps: m.mbpsPerParty * parties,
        ackWaitMs: m.ackWaitMs.join(' / '),
        ...cpuColumns(m.cpu),
      });
    }
    if (partsOnly) return rows;
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
