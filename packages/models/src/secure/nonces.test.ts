/**
 * PRG (key, nonce) pairs over a secure session of two generation jobs (stories260K, greedy, a few tokens; job 0
 * reveals logits, job 1 only the argmax) on one party context each, as the session runtime runs them: every
 * party's backend records each prg() call. A pair drawn twice by one party would reuse a mask; a pair
 * drawn by more than the two holders of its key would mean two different streams met. Nonces are op ids
 * encoded injectively (@puma/protocol nonce.ts); the all-zero nonce is the input dealers' (fresh seeds).
 * Also checks that the secure tokens still equal the plaintext greedy tokens.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '@puma/backend';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { decodeOpNonce, opIdBits, PATH_BITS, runLocal } from '@puma/protocol';
import { testBackend } from '@puma/protocol/test-support';
import type { PartyId } from '@puma/transport';
import { DecoderSession } from '../decoder.ts';
import { loadModel } from '../node.ts';
import { argmax } from '../softmax.ts';
import { generateClient, generateParty, greedy } from './programs.ts';
import { shareWeights } from './share-weights.ts';

const ZERO_NONCE = '/' + '0'.repeat(24);
const hex = (w: Uint32Array) => Array.from(w, (v) => v.toString(16).padStart(8, '0')).join('');

/** A backend that records "<key>/<nonce>" of every prg() call into `draws`. */
function recording(be: Backend, draws: string[]): Backend {
  const prg: Backend['prg'] = (key, nonce, n, counter) => {
    if (counter) throw new Error(`prg called with block counter ${counter}; the protocol starts every stream at 0`);
    draws.push(`${hex(key)}/${hex(nonce)}`);
    return be.prg(key, nonce, n, counter);
  };
  return new Proxy(be, {
    get(target, prop) {
      if (prop === 'prg') return prg;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('PRG nonces over a secure generation (stories260K)', async () => {
  const { model } = await loadModel('stories260K');
  const steps = 3;
  const prompt = [1];
  const plaintext: number[] = [];
  const session = new DecoderSession(model);
  let logits = session.prefill(prompt);
  for (let i = 0; i < steps; i++) {
    plaintext.push(argmax(logits));
    logits = session.step(plaintext[i]);
  }

  it('over two jobs no party draws a (key, op nonce) pair twice, and no pair goes beyond its key\'s two holders', async () => {
    const bundles = shareWeights(model, 'stories260K', DEFAULT_FRAC_BITS);
    const jobs = [{ job: 0, reveal: 'logits' as const }, { job: 1, reveal: 'argmax' as const }];
    const draws: [string[], string[], string[]] = [[], [], []];
    const makeBackend = testBackend();
    const t0 = performance.now();
    const run = await runLocal(async (id: PartyId) => recording(await makeBackend(), draws[id]), async (p) => {
      for (const { job, reveal } of jobs) {
        await generateParty(p, { job, weights: bundles[p.id], promptLength: prompt.length, maxNewTokens: steps, reveal }, { progress: () => {} });
      }
    }, {
      client: async (c) => {
        const tokens: number[][] = [];
        for (const { job, reveal } of jobs) {
          const out = await generateClient(c, { job, prompt, vocab: model.config.vocabSize, maxNewTokens: steps, reveal, pick: greedy });
          tokens.push(out.map((s) => s.token));
        }
        return tokens;
      },
    });
    const ms = performance.now() - t0;
    expect(run.client).toEqual([plaintext, plaintext]);

    // Op nonces (pairwise keys): never twice per party. The all-zero nonce goes with a dealer's one-time seed and
    // derives one share component; every pass (each generated token) streams the weights block by block again
    // (weight-stream.ts), so a weight seed is expanded once per pass (the same component again, not a new mask),
    // the token embedding's twice when the head is tied to it (stories260K's is), an input seed once.
    const holders = new Map<string, number>();
    for (const [party, list] of draws.entries()) {
      const counts = new Map<string, number>();
      for (const d of list) counts.set(d, (counts.get(d) ?? 0) + 1);
      const repeatedOps = [...counts].filter(([d, c]) => c > 1 && !d.endsWith(ZERO_NONCE));
      expect(repeatedOps, `party ${party}: (key, op nonce) pairs drawn more than once`).toEqual([]);
      const usesPerPass = model.config.tiedHead ? 2 : 1;
      expect(Math.max(...counts.values()), `party ${party}: a seed expanded more often than its uses per pass`).toBeLessThanOrEqual(usesPerPass * jobs.length * steps);
      for (const d of counts.keys()) holders.set(d, (holders.get(d) ?? 0) + 1);
    }
    expect([...holders].filter(([, count]) => count > 2), 'pairs drawn by all three parties').toEqual([]);
    const opIds = [...holders.keys()].filter((d) => !d.endsWith(ZERO_NONCE)).map((d) => d.slice(65))
      .map((n) => decodeOpNonce(Uint32Array.from(n.match(/.{8}/g)!, (w) => parseInt(w, 16))).id);
    const deepest = Math.max(...opIds.map((id) => id.split('.').length));
    const widest = Math.max(...opIds.map(opIdBits));
    const lastRoot = Math.max(...opIds.map((id) => Number(id.split('.')[0])));
    // Bits below the root counter: what a path needs besides its root (the headroom for longer sessions).
    const tail = Math.max(...opIds.map((id) => opIdBits(id) - opIdBits(id.split('.')[0])));
    const total = draws[0].length + draws[1].length + draws[2].length;
    console.log(`2 jobs x ${steps} tokens: ${total} prg draws (${draws.map((d) => d.length).join(' / ')} by party), ${holders.size} distinct (key, nonce) pairs, `
      + `${opIds.length} of them op nonces; deepest op id ${deepest} counters, widest ${widest} of ${PATH_BITS} bits (at most ${tail} below the root counter), last root counter ${lastRoot}; ${ms.toFixed(0)} ms`);
    expect(total).toBeGreaterThan(1000);
  }, 120_000);
});
