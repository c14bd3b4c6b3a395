/**
 * Secure generation for one chat turn, stopping when the reply ends: as generateParty / generateClient
 * (@puma/models/secure), except that before every step after the first the client tells the parties in the clear
 * whether to go on (tag j<job>/more:<step>, one byte), so that a reply ending in EOS costs no further steps. The
 * parties learn only the reply's length, which they see anyway from the number of steps they compute.
 */
import { decodeFixed } from '@puma/ring';
import { maxLast, receiveFromParties, receiveInput, revealToClient, sendInput, type Party } from '@puma/protocol';
import { CLIENT, type Channel, type PartyId } from '@puma/transport';
import {
  emptyCache, jobTag, loadSecureModel, oneHot, secureHidden, secureLastLogits, type ClientStep, type GenerateArgs, type Sampler, type StepReport,
} from '@puma/models/secure';

const GO_ON = 1;
const STOP = 0;

export async function chatParty(p: Party, a: GenerateArgs, env: { progress: (v: unknown) => void }): Promise<StepReport[]> {
  const m = loadSecureModel(p, a.weights);
  const vocab = m.config.vocabSize;
  const cache = emptyCache();
  const reports: StepReport[] = [];
  for (let step = 0; step < a.maxNewTokens; step++) {
    if (step > 0) {
      const more = await p.channel.recv(CLIENT, jobTag(a.job, `more:${step}`));
      if (more.length !== 1 || (more[0] !== GO_ON && more[0] !== STOP)) throw new Error(`chat: the client's continue flag for step ${step} is malformed`);
      if (more[0] === STOP) break;
    }
    const t0 = performance.now();
    const r0 = p.rounds;
    const b0 = p.channel.stats.bytesSent;
    const T = step === 0 ? a.promptLength : 1;
    const x = await receiveInput(p, CLIENT, jobTag(a.job, `tok:${step}`), [T, vocab]);
    const h = await secureHidden(p, m, x, cache.length, cache);
    const logits = await secureLastLogits(p, m, h);
    if (a.reveal === 'argmax') {
      const { argmax } = await maxLast(p, logits, true);
      await revealToClient(p, argmax!, jobTag(a.job, `logits:${step}`));
    } else {
      await revealToClient(p, logits, jobTag(a.job, `logits:${step}`));
    }
    const rep = { step, rounds: p.rounds - r0, bytesSent: p.channel.stats.bytesSent - b0, ms: performance.now() - t0 };
    reports.push(rep);
    env.progress(rep);
  }
  return reports;
}

export interface ChatClientOptions {
  readonly job: number;
  readonly prompt: readonly number[];
  readonly vocab: number;
  readonly maxNewTokens: number;
  readonly fracBits: number;
  readonly reveal: 'logits' | 'argmax';
  readonly pick: Sampler;
  /** The reply ends after any of these (the stop token is included in the steps). */
  readonly stopIds: readonly number[];
  readonly onToken?: (s: ClientStep, i: number) => void;
}

export async function chatClient(c: Channel, o: ChatClientOptions): Promise<ClientStep[]> {
  const steps: ClientStep[] = [];
  let feed: readonly number[] = o.prompt;
  for (let step = 0; step < o.maxNewTokens; step++) {
    if (step > 0) {
      const flag = o.stopIds.includes(steps[step - 1].token) ? STOP : GO_ON;
      for (const party of [0, 1, 2] as PartyId[]) c.send(party, jobTag(o.job, `more:${step}`), Uint8Array.of(flag));
      if (flag === STOP) break;
    }
    sendInput(c, jobTag(o.job, `tok:${step}`), oneHot(feed, o.vocab));
    const out = await receiveFromParties(c, jobTag(o.job, `logits:${step}`));
    const s: ClientStep = o.reveal === 'argmax' ? { token: Number(out[0]) } : (() => {
      const logits = decodeFixed(out, o.fracBits);
      return { token: o.pick(logits), logits };
    })();
    steps.push(s);
    o.onToken?.(s, step);
    feed = [s.token];
  }
  return steps;
}
