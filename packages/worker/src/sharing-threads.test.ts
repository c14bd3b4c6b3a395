/**
 * The owner's sharing on two threads (sharing-threads.ts): the split and the hashes are the one-thread path's
 * bit for bit (same seeds), a bad value in the helper's range is named by its index in the tensor, and a
 * closed helper refuses work instead of hanging.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDealerSplitter } from '@puma/backend-wasm';
import { loadModel } from '@puma/models/node';
import { SEED_NONCE } from '@puma/protocol';
import { sha256Hex, streamOwnerShares } from './session/index.ts';
import { createSharingThreads, type SharingThreads } from './sharing-threads.ts';

const key = (b: number) => Uint32Array.from({ length: 8 }, (_, i) => (b * 0x9e3779b1 + i * 0x85ebca6b) >>> 0);
const bytesOf = (v: BigUint64Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

function seedCounter(): () => Uint32Array {
  let n = 0;
  return () => {
    n += 1;
    return Uint32Array.from({ length: 8 }, (_, i) => Math.imul(n, 0x9e3779b1) ^ i);
  };
}

let threads: SharingThreads;
beforeAll(async () => {
  threads = await createSharingThreads();
  await threads.ready();
});
afterAll(async () => {
  await threads.close();
});

describe('sharing threads', () => {
  it('split on two threads equals the one-thread split, float32 and float64, and hashes equal WebCrypto\'s', async () => {
    const splitter = await createDealerSplitter();
    const n = (1 << 20) + 13;
    for (const values of [Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 2), Float64Array.from({ length: n }, (_, i) => Math.cos(i) / 3)]) {
      const out = threads.allocate(n);
      expect(out.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(await threads.split(values, 18, key(1), key(2), 'w', out)).toBe(out);
      const expected = splitter.encodeAndSubtract(values, 18, [key(1), key(2)], SEED_NONCE, 'w');
      expect(bytesOf(out).equals(bytesOf(expected))).toBe(true);
      const parts = [new Uint8Array(out.buffer, 0, 1 << 20), new Uint8Array(out.buffer, 1 << 20, 77), Uint8Array.of(1, 2, 3)];
      expect(await threads.hash(parts)).toEqual(await Promise.all([bytesOf(expected).subarray(0, 1 << 20), bytesOf(expected).subarray(1 << 20, (1 << 20) + 77), Uint8Array.of(1, 2, 3)].map(sha256Hex)));
    }
  });

  it('names a NaN in the helper\'s range by its index in the tensor, and keeps working after it', async () => {
    const n = 1 << 18;
    const values = new Float32Array(n).fill(0.5);
    values[n - 5] = NaN;
    await expect(threads.split(values, 18, key(1), key(2), 'l3.up.w', threads.allocate(n))).rejects.toThrow(`cannot encode l3.up.w[${n - 5}] = NaN as fixed point`);
    values[n - 5] = 0.5;
    values[7] = -Infinity;
    await expect(threads.split(values, 18, key(1), key(2), 'l3.up.w', threads.allocate(n))).rejects.toThrow('cannot encode l3.up.w[7] = -Infinity as fixed point');
    values[7] = 0.5;
    const before = { ...threads.words };
    await expect(threads.split(values, 18, key(1), key(2), 'l3.up.w', threads.allocate(n))).resolves.toBeInstanceOf(BigUint64Array);
    expect(threads.words.helper - before.helper).toBeGreaterThan(n / 4);
    expect(threads.words.caller - before.caller).toBeGreaterThan(n / 2);
  });

  it('before the helper has started, the caller splits and hashes alone, with the same results', async () => {
    const helper = await createSharingThreads();
    try {
      const n = 1 << 17;
      const values = Float32Array.from({ length: n }, (_, i) => i / n);
      const out = await helper.split(values, 18, key(3), key(4), 'w', helper.allocate(n));
      const sums = await helper.hash([new Uint8Array(out.buffer, 0, 4096)]);
      // Nothing from the thread yet: it takes far longer to start than the calls above.
      expect(helper.words).toEqual({ caller: n, helper: 0 });
      const expected = (await createDealerSplitter()).encodeAndSubtract(values, 18, [key(3), key(4)], SEED_NONCE, 'w');
      expect(bytesOf(out).equals(bytesOf(expected))).toBe(true);
      expect(sums).toEqual([await sha256Hex(bytesOf(expected).subarray(0, 4096))]);
    } finally {
      await helper.close();
    }
  });

  it('streams gpt2-shakespeare with the helper: the same parts and manifests as one thread, for the same seeds', async () => {
    const { model } = await loadModel('gpt2-shakespeare');
    const one = streamOwnerShares({ model, modelId: 'gpt2-shakespeare', drawSeed: seedCounter(), reuseBuffers: true }).tensors();
    const two = streamOwnerShares({ model, modelId: 'gpt2-shakespeare', drawSeed: seedCounter(), helper: threads });
    let tensors = 0;
    for await (const t of two.tensors()) {
      const expected = (await one.next()).value!;
      expect(t.tensor).toBe(expected.tensor);
      t.parties.forEach((list, p) => list.forEach((part, k) => {
        expect(part.info, `${t.tensor} party ${p}`).toEqual(expected.parties[p][k].info);
        expect(Buffer.from(part.bytes).equals(Buffer.from(expected.parties[p][k].bytes))).toBe(true);
      }));
      // The dense parts are views of the helper's shared buffers, written in part by the helper thread.
      expect(t.parties[1].at(-1)!.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
      tensors += 1;
    }
    expect(tensors).toBe(two.manifests[0].tensors.length);
    expect(threads.words.helper).toBeGreaterThan(0);
    expect(two.manifests[1].parts.length).toBeGreaterThan(two.manifests[1].tensors.length);
  }, 120_000);

  it('a helper created just before a long stream starts taking work once its thread is up', async () => {
    const { model } = await loadModel('gpt2-shakespeare');
    const helper = await createSharingThreads();
    try {
      // One stream of gpt2-shakespeare takes about a second, and on a loaded machine the thread may take longer
      // to start: stream again, back to back (the loop itself awaits only microtasks, as the bug needed), until
      // the helper has taken work, at most 20 times. Before the fix it never did: its ready message was not heard.
      for (let pass = 0; pass < 20 && helper.words.helper === 0; pass++) {
        for await (const t of streamOwnerShares({ model, modelId: 'gpt2-shakespeare', helper }).tensors()) expect(t.parties[1].length).toBeGreaterThan(0);
      }
      expect(helper.words.helper).toBeGreaterThan(0);
    } finally {
      await helper.close();
    }
  }, 120_000);

  it('a closed helper refuses work with a clear error', async () => {
    const helper = await createSharingThreads();
    await helper.close();
    await expect(helper.ready()).rejects.toThrow('the sharing helper thread was closed');
    await expect(helper.split(new Float32Array(1 << 17), 18, key(1), key(2), 'w', helper.allocate(1 << 17))).rejects.toThrow('the sharing helper thread was closed');
    await expect(helper.hash([Uint8Array.of(1)])).rejects.toThrow('the sharing helper thread was closed');
  });
});
