/**
 * A party's side of the client's jobs: the header is confirmed among the parties (all three must run the same
 * job, or the session would deadlock), checked against the model and the party roster, then run with a
 * deadline per step.
 */
import type { Party } from '@puma/protocol';
import { classifyParty, generateParty, type SecureWeights, type StepReport } from '@puma/models/secure';
import { CLIENT, type Channel, type PartyId } from '@puma/transport';
import { decodeJson, encodeJson } from './json.ts';
import { checkRoster, reportsIdentities, shortFingerprint, type Roster } from './roster.ts';
import { describeStep, passSnapshot } from './pass-timing.ts';
import { sha256Hex } from './shares.ts';
import type { StepWatch } from './step-watch.ts';
import type { JobRequest, PartySessionReport, PartyStatus, SessionPhase, StepCost } from './types.ts';

export type Emit = (phase: SessionPhase, message: string, extra?: Partial<PartyStatus>) => void;
type Job = Exclude<JobRequest, { kind: 'end' }>;

/**
 * One round among the parties: each sends the sha256 of the header bytes it received to the other two and
 * compares. Throws naming the party whose header differs, so every party fails instead of running another job.
 */
export async function confirmHeader(channel: Channel, id: PartyId, n: number, header: Uint8Array): Promise<void> {
  const mine = await sha256Hex(header);
  const others = ([0, 1, 2] as const).filter((q) => q !== id);
  for (const q of others) channel.send(q, `j${n}/header`, new TextEncoder().encode(mine));
  const theirs = await Promise.all(others.map(async (q) => new TextDecoder().decode(await channel.recv(q, `j${n}/header`))));
  others.forEach((q, i) => {
    if (theirs[i] !== mine) {
      throw new Error(`job ${n}: party ${q} received a different job header than party ${id} ` +
        `(sha256 ${theirs[i].slice(0, 16)}… vs ${mine.slice(0, 16)}…); the client must send every party the same job`);
    }
  });
}

/**
 * Validates a job header against the model and the roster; throws naming the problem. The client's roster
 * must be this session's: the owner's roster, whose entries the party has checked against its links.
 */
export function parseJob(bytes: Uint8Array, n: number, weights: SecureWeights, ctx: { id: PartyId; roster: Roster; channel: Channel }): JobRequest {
  const j = decodeJson(bytes, 'job header from the client') as Record<string, unknown>;
  const c = weights.manifest.config;
  const int = (v: unknown, what: string, min: number, max: number): number => {
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw new Error(`job header from the client: ${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v as number;
  };
  const parties = checkRoster(j.parties, `job ${n}: the client's approved parties`);
  for (const q of [0, 1, 2] as const) {
    if (parties[q] === ctx.roster[q]) continue;
    const actual = q === ctx.id ? 'this party is' : reportsIdentities(ctx.channel) ? `party ${q}'s link proved` : `the model owner's roster has`;
    throw new Error(`peer identity error: job ${n}: the client approved ${shortFingerprint(parties[q])} as party ${q}, but ${actual} ${shortFingerprint(ctx.roster[q])}`);
  }
  if (j.kind === 'end') return { kind: 'end', parties };
  if (j.kind === 'generate') {
    if (!c.causal) throw new Error(`job header from the client asks to generate, but ${weights.manifest.modelId} is not a causal language model`);
    const promptLength = int(j.promptLength, 'promptLength', 1, c.maxPositions);
    const maxNewTokens = int(j.maxNewTokens, 'maxNewTokens', 1, c.maxPositions - promptLength);
    if (j.reveal !== 'logits' && j.reveal !== 'argmax') throw new Error(`job header from the client: reveal must be "logits" or "argmax", got ${JSON.stringify(j.reveal)}`);
    if (j.earlyStop !== undefined && typeof j.earlyStop !== 'boolean') throw new Error(`job header from the client: earlyStop must be true or false, got ${JSON.stringify(j.earlyStop)}`);
    return { kind: 'generate', promptLength, maxNewTokens, reveal: j.reveal, earlyStop: j.earlyStop === true, parties };
  }
  if (j.kind === 'classify') {
    if (c.numLabels === 0) throw new Error(`job header from the client asks to classify, but ${weights.manifest.modelId} has no classifier head`);
    return { kind: 'classify', length: int(j.length, 'length', 1, c.maxPositions), parties };
  }
  throw new Error(`job header from the client has unknown kind ${JSON.stringify(j.kind)}`);
}

/** Runs one job; `watch` is told of each finished step, so a stalled step fails the session. */
export async function runJob(p: Party, weights: SecureWeights, job: Job, n: number, emit: Emit, watch: StepWatch): Promise<PartySessionReport['jobs'][number]> {
  if (job.kind === 'classify') {
    emit('running', `job ${n}: classifying ${job.length} tokens`, { job: { index: n, kind: 'classify', step: 0, steps: 1, msPerStep: 0, rounds: 0 } });
    const t0 = performance.now();
    const r0 = p.rounds;
    const b0 = p.channel.stats.bytesSent;
    await classifyParty(p, { job: n, weights, length: job.length });
    const cost: StepCost = { step: 0, rounds: p.rounds - r0, bytesSent: p.channel.stats.bytesSent - b0, ms: performance.now() - t0 };
    p.channel.send(CLIENT, `j${n}/cost:0`, encodeJson(cost));
    emit('running', `job ${n}: classified in ${cost.ms.toFixed(0)} ms`, { job: { index: n, kind: 'classify', step: 1, steps: 1, msPerStep: cost.ms, rounds: cost.rounds } });
    return { kind: 'classify', steps: [cost] };
  }
  emit('running', `job ${n}: generating ${job.maxNewTokens} tokens after a ${job.promptLength}-token prompt`, {
    job: { index: n, kind: 'generate', step: 0, steps: job.maxNewTokens, msPerStep: 0, rounds: 0 },
  });
  const times = 'bundles' in weights ? undefined : weights.times;
  let before = passSnapshot(times, p.span);
  const steps = await generateParty(p, { job: n, weights, promptLength: job.promptLength, maxNewTokens: job.maxNewTokens, reveal: job.reveal, earlyStop: job.earlyStop }, {
    progress: (v) => {
      const r = v as StepReport;
      watch.progress(r.step + 1);
      p.channel.send(CLIENT, `j${n}/cost:${r.step}`, encodeJson(r satisfies StepCost));
      const after = passSnapshot(times, p.span);
      const where = describeStep(before, after);
      before = after;
      emit('running', `job ${n}: token ${r.step + 1} of ${job.maxNewTokens} in ${r.ms.toFixed(0)} ms, ${r.rounds} rounds, ${r.bytesSent} bytes sent; ${where}`, {
        job: { index: n, kind: 'generate', step: r.step + 1, steps: job.maxNewTokens, msPerStep: r.ms, rounds: r.rounds },
      });
    },
  });
  return { kind: 'generate', steps };
}
