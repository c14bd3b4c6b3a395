/**
 * Where a generated token's time goes between three party tabs (issue 12): the browsers bench's session
 * (browsers-lab.ts: stories260K, WebAssembly parties, rounds worker to worker on lanes) watched from the client's
 * token FROM to token TO. Prints per token:
 * - the CPU the three party browsers used, by process kind and by renderer thread (/proc: the protocol's
 *   DedicatedWorker, WebRTC's network thread that runs SCTP and DTLS, the IPC thread, the network service that
 *   owns the UDP sockets), against the wall time: on a machine with fewer cores than busy threads this says
 *   whether a token is bound by CPU, and how much of it is transport;
 * - each worker's data-channel sends (RTCDataChannel.prototype.send wrapped through CDP Runtime.evaluate in the
 *   worker target): how many per round, their size, and how long each call blocks the worker;
 * - one-way times of the lane messages: send time on one worker, message event on the peer's, both on the epoch
 *   clock (performance.timeOrigin + now(), 0.1 ms steps); the receive time is when the receiving worker gets to
 *   the event, so a worker still busy with its own step adds to it (the low percentiles are the transport);
 * - unless --no-profile, Chromium's sampling profiler on each party's worker (CDP Target.setAutoAttach on the
 *   party page, Profiler.* sent to the worker target): idle samples are time waiting for peers' messages, the
 *   rest the step's own work (JavaScript, WebAssembly, GC, and calls that block, such as a send), with the top
 *   self-time functions. The profiler slows the worker; read the split from it, the wall time from --no-profile.
 * Not a suite of `npm run bench` (its figures depend on the machine's load); run it alone, on pages built with
 * `npm run build`:
 *   node --import tsx scripts/bench/browsers-round-profile.ts [--tokens N] [--from K] [--to K] [--interval-us U] [--no-profile]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { BrowsersLab } from './browsers-lab.ts';
import { resolveModel } from './browsers-model.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} takes a whole number, got "${process.argv[i + 1]}"`);
  return v;
};
const TOKENS = arg('tokens', 12);
const FROM = arg('from', 2);
const TO = Math.min(TOKENS, arg('to', TOKENS - 1));
const INTERVAL_US = arg('interval-us', 200);
const LOG_CAP = 20_000;
const PROFILE = !process.argv.includes('--no-profile');
/** Counts the worker's data-channel sends from then on, the time each blocks it, and logs each lane's messages. */
const COUNT_SENDS = `(() => {
  const c = globalThis.__sendCount = { sends: 0, bytes: 0, ms: 0, lanes: [] };
  const seen = new Map();
  const now = () => performance.timeOrigin + performance.now();
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (d) {
    let lane = seen.get(this);
    if (!lane) {
      lane = { sent: [], received: [] };
      seen.set(this, lane);
      c.lanes.push(lane);
      this.addEventListener('message', (ev) => { if (lane.received.length < ${LOG_CAP}) lane.received.push([now(), ev.data.byteLength]); });
    }
    const t = now();
    send.call(this, d);
    c.ms += now() - t; c.sends++; c.bytes += d.byteLength;
    if (lane.sent.length < ${LOG_CAP}) lane.sent.push([t, d.byteLength]);
  };
  return 'counting';
})()`;
/** A lane end's log: [time since the epoch in ms, bytes] of each data-channel message sent and received. */
interface LaneLog { sent: [number, number][]; received: [number, number][] }
interface SendCount { sends: number; bytes: number; ms: number; lanes: LaneLog[] }
if (TO <= FROM) throw new Error(`--to (${TO}) must be above --from (${FROM}) and below --tokens`);

interface Mark { t: number; tokens: number }
interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** A party page's protocol worker, reached through the page's CDP session (Target.sendMessageToTarget). */
class WorkerTarget {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: { result?: unknown; error?: { message: string } }) => void>();
  constructor(private readonly cdp: CDPSession, readonly sessionId: string, readonly url: string) {}
  receive(message: string): void {
    const m = JSON.parse(message) as { id?: number; result?: unknown; error?: { message: string } };
    if (m.id !== undefined) this.waiting.get(m.id)?.(m);
  }
  send<T>(method: string, params: object = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, (r) => (r.error ? reject(new Error(`${method}: ${r.error.message}`)) : resolve(r.result as T)));
      this.cdp.send('Target.sendMessageToTarget', { sessionId: this.sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
    });
  }
}

/** Watches every page the context opens and keeps the worker targets whose script is the party worker. */
function watchWorkers(context: BrowserContext, found: WorkerTarget[]): void {
  context.on('page', async (page: Page) => {
    const cdp = await context.newCDPSession(page);
    const bySession = new Map<string, WorkerTarget>();
    cdp.on('Target.attachedToTarget', (ev) => {
      if (ev.targetInfo.type !== 'worker') return;
      const w = new WorkerTarget(cdp, ev.sessionId, ev.targetInfo.url);
      bySession.set(ev.sessionId, w);
      if (/party-worker/.test(ev.targetInfo.url)) found.push(w);
    });
    cdp.on('Target.receivedMessageFromTarget', (ev) => bySession.get(ev.sessionId)?.receive(ev.message));
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  });
}

/** Self time per sample category and per function (ms), from a CPU profile's samples and time deltas. */
function summarize(p: Profile): { totalMs: number; idleMs: number; gcMs: number; programMs: number; top: [string, number][] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let idle = 0, gc = 0, program = 0, total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    // A sample's time is the gap to the next sample.
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    total += dt;
    const f = byId.get(p.samples[i])!.callFrame;
    if (f.functionName === '(idle)') idle += dt;
    else if (f.functionName === '(garbage collector)') gc += dt;
    else if (f.functionName === '(program)') program += dt;
    else {
      const name = `${f.functionName || '(anonymous)'} ${path.basename(f.url.split('?')[0])}:${f.lineNumber}`;
      self.set(name, (self.get(name) ?? 0) + dt);
    }
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 12);
  return { totalMs: total, idleMs: idle, gcMs: gc, programMs: program, top };
}

/**
 * One-way latency of the lanes' messages: each sending lane end is matched to the receiving end whose sequence of
 * message sizes it reproduces (an ordered SCTP stream keeps the order; the logs start at slightly different
 * messages, hence the offset), then each message's receive time minus its send time (both on the epoch clock).
 */
function oneWay(counts: SendCount[]): void {
  const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
  for (const [i, ci] of counts.entries()) {
    for (const [a, out] of ci.lanes.entries()) {
      let best: { j: number; offset: number; match: number; lane: LaneLog } | null = null;
      for (const [j, cj] of counts.entries()) {
        if (j === i) continue;
        for (const lane of cj.lanes) {
          for (let offset = -300; offset <= 300; offset++) {
            let match = 0, n = 0;
            for (let k = Math.max(0, -offset); k < Math.min(out.sent.length, 400); k++) {
              const r = lane.received[k + offset];
              if (!r) continue;
              n++;
              if (r[1] === out.sent[k][1]) match++;
            }
            if (n >= 100 && (!best || match / n > best.match)) best = { j, offset, match: match / n, lane };
          }
        }
      }
      if (!best || best.match < 0.99) {
        console.log(`party ${i} lane ${a}: no receiving end matches its ${out.sent.length} messages (best ${best?.match.toFixed(2)})`);
        continue;
      }
      const lat: number[] = [];
      for (let k = Math.max(0, -best.offset); k < out.sent.length; k++) {
        const r = best.lane.received[k + best.offset];
        if (r) lat.push(r[0] - out.sent[k][0]);
      }
      console.log(`party ${i} -> party ${best.j}: one-way ${lat.length} messages, median ${pct(lat, 0.5).toFixed(2)} ms, p10 ${pct(lat, 0.1).toFixed(2)}, p90 ${pct(lat, 0.9).toFixed(2)}`);
    }
  }
}

/**
 * CPU ms used so far by each kind of Chromium process (--type, and the utility's sub-type) of the party browsers:
 * the browser processes whose profile dir is puma-bench-partyN-, and all their descendants.
 */
function partyCpu(): Map<string, number> {
  const tick = 1000 / 100; // USER_HZ
  const procs = new Map<number, { ppid: number; cmd: string[]; ms: number }>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/); // children's titles are one string
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(pid), { ppid: Number(f[1]), cmd, ms: (Number(f[11]) + Number(f[12])) * tick });
    } catch {
      // The process ended between the listing and the read.
    }
  }
  const inParty = (pid: number): boolean => {
    for (let p = procs.get(pid), hops = 0; p && hops < 10; p = procs.get(p.ppid), hops++) {
      if (p.cmd.some((a) => /puma-bench-party\d-/.test(a))) return true;
    }
    return false;
  };
  const out = new Map<string, number>();
  for (const [pid, p] of procs) {
    if (!inParty(pid)) continue;
    const type = p.cmd.find((a) => a.startsWith('--type='))?.slice(7) ?? 'browser';
    const sub = p.cmd.find((a) => a.startsWith('--utility-sub-type='))?.slice(19).replace(/^.*\./, '') ?? '';
    const key = `${type}${sub ? ` ${sub}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + p.ms);
    if (type !== 'renderer') continue;
    // A renderer's threads by name: the protocol worker, the page's main thread, WebRTC's threads, ...
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const k = `  renderer thread ${name}`;
        out.set(k, (out.get(k) ?? 0) + (Number(f[11]) + Number(f[12])) * tick);
      } catch {
        // The thread ended.
      }
    }
  }
  return out;
}

const model = resolveModel('stories260k');
const lab = await BrowsersLab.start(path.join(ROOT, 'dist/pages'), { readyMs: 180_000, generateMs: 150_000 + TOKENS * 20_000, memoryBytes: 12 * 2 ** 30 });
try {
  // The lab's party browsers (private to it: this script only watches them).
  const roles = (lab as unknown as { roles: Map<string, { context: BrowserContext; page: Page | null }> }).roles;
  const workers: WorkerTarget[][] = [[], [], []];
  ['party0', 'party1', 'party2'].forEach((r, i) => watchWorkers(roles.get(r)!.context, workers[i]));
  const span: { start: Mark | null; end: Mark | null; polling: boolean } = { start: null, end: null, polling: false };
  const profiles: Promise<Profile>[] = [];
  let cpu0 = new Map<string, number>();
  let cpu1 = new Map<string, number>();
  const sendCounts: Promise<SendCount>[] = [];
  // Polls the client page: starts the profilers at token FROM, stops them at token TO.
  const poll = setInterval(async () => {
    const client = roles.get('client')!.page;
    if (!client || span.end || span.polling) return;
    span.polling = true;
    try {
      await step(client);
    } finally {
      span.polling = false;
    }
  }, 25);
  const step = async (client: Page) => {
    const tokens = await client.evaluate(() => window.pumaClient?.state.tokens.length ?? 0).catch(() => null);
    if (tokens === null) return;
    const targets = workers.map((w) => w.at(-1));
    if (!span.start && tokens >= FROM && targets.every((w) => w)) {
      span.start = { t: performance.now(), tokens };
      cpu0 = partyCpu();
      for (const w of targets) {
        await w!.send('Runtime.evaluate', { expression: COUNT_SENDS });
        if (!PROFILE) continue;
        await w!.send('Profiler.enable');
        await w!.send('Profiler.setSamplingInterval', { interval: INTERVAL_US });
        await w!.send('Profiler.start');
      }
    } else if (span.start && tokens >= TO) {
      span.end = { t: performance.now(), tokens };
      cpu1 = partyCpu();
      for (const w of targets) {
        sendCounts.push(w!.send<{ result: { value: SendCount } }>('Runtime.evaluate', { expression: 'globalThis.__sendCount', returnByValue: true }).then((r) => r.result.value));
        if (PROFILE) profiles.push(w!.send<{ profile: Profile }>('Profiler.stop').then((r) => r.profile));
      }
    }
  };
  const input = { files: model.files, modelName: model.name, prompt: model.prompt, tokens: TOKENS };
  const m = await lab.session(input);
  clearInterval(poll);
  if (!span.start || !span.end) throw new Error(`the watch did not cover tokens ${FROM} to ${TO}`);
  const w0 = span.start;
  const w1 = span.end;
  const tokens = w1.tokens - w0.tokens;
  const rounds = m.client.roundsPerToken;
  console.log(`stories260K, ${m.client.tokens.length} tokens: client ${m.client.msPerToken.slice(1).map((x) => x.toFixed(0)).join(' ')} ms per token; rounds per token ${JSON.stringify(rounds)}`);
  console.log(`profiled tokens ${w0.tokens} to ${w1.tokens} (${tokens} tokens, ${(w1.t - w0.t).toFixed(0)} ms wall${PROFILE ? `, profiler sampling every ${INTERVAL_US} us` : ''})`);
  const cpu = [...cpu1].map(([k, ms]) => [k, (ms - (cpu0.get(k) ?? 0)) / tokens] as const).filter(([, ms]) => ms > 0);
  const cpuTotal = cpu.filter(([k]) => !k.startsWith(' ')).reduce((a, [, ms]) => a + ms, 0);
  console.log(`CPU of the three party browsers per token: ${cpuTotal.toFixed(0)} ms (${cpu.sort((x, y) => y[1] - x[1]).map(([k, ms]) => `${k.trim()} ${ms.toFixed(0)}`).join(', ')}); wall ${((w1.t - w0.t) / tokens).toFixed(0)} ms per token`);
  const counts = await Promise.all(sendCounts);
  oneWay(counts);
  for (const [i, c] of counts.entries()) {
    console.log(`party ${i}: ${(c.sends / tokens).toFixed(0)} data-channel sends per token (${(c.sends / tokens / (rounds ?? 1)).toFixed(2)} per round), ${(c.bytes / c.sends).toFixed(0)} bytes each on average, blocking the worker ${(c.ms / c.sends).toFixed(3)} ms each, ${(c.ms / tokens).toFixed(0)} ms per token`);
  }
  for (const [i, p] of (await Promise.all(profiles)).entries()) {
    const s = summarize(p);
    const per = (ms: number) => (ms / tokens).toFixed(0);
    const work = s.totalMs - s.idleMs;
    console.log(`party ${i}: per token ${per(s.totalMs)} ms = waiting (idle) ${per(s.idleMs)} + work ${per(work)} (gc ${per(s.gcMs)}, program ${per(s.programMs)}, JS/wasm ${per(work - s.gcMs - s.programMs)})`);
    for (const [name, ms] of s.top) console.log(`    ${per(ms).padStart(5)} ms/token  ${name}`);
  }
} finally {
  await lab.close();
  model.dispose();
}
