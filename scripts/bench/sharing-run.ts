/**
 * One owner-sharing run for `npm run bench -- sharing`, in its own process so that its peak RSS is its own:
 * `node --import tsx scripts/bench/sharing-run.ts <stories260K|gpt2-shakespeare|gpt2-base> <streamed|one-thread|js>`. Prints one JSON line:
 * the sharing's wall time (model construction excluded), its CPU time (all threads of the process, so the
 * load of other processes does not inflate it; process.cpuUsage), the RSS before it (the model) and the peak.
 *   streamed  streamOwnerShares (WebAssembly split, tensor by tensor), every part hashed and then dropped, on
 *             two threads with reused shared buffers (@puma/worker createSharingThreads), as `puma share` does
 *             before writing; the helper thread's start is timed too. The in-memory prepareOwnerShares (owner
 *             page) keeps the parts, in fresh arrays, on one thread
 *   one-thread  the same in the calling thread alone (WebCrypto hashes, reused buffers), for comparison
 *   js        the path before issue 13: shareWeights (ChaCha20 in JavaScript, the whole model's bundles at
 *             once), then partySharesFromBundle per party (hashing every part, parties 1 and 2 separately)
 */
import { loadModel } from '@puma/models/node';
import { shareWeights } from '@puma/models/secure';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { createSharingThreads } from '@puma/worker';
import { partySharesFromBundle, streamOwnerShares } from '@puma/worker/session';
import { gpt2BaseShape } from './models-synthetic.ts';

const [modelName, mode] = process.argv.slice(2);
const model = modelName === 'gpt2-base' ? gpt2BaseShape() : ['stories260K', 'gpt2-shakespeare'].includes(modelName) ? (await loadModel(modelName)).model : null;
if (!model) throw new Error(`unknown model ${modelName}: stories260K, gpt2-shakespeare or gpt2-base`);
const mib = (bytes: number) => bytes / 2 ** 20;
const baselineMiB = mib(process.memoryUsage().rss);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let parts = 0;
let bytes = 0;
let words = 0;
/** Weights the helper thread split (streamed mode). */
let helperWords = 0;
const wordsOf = (tensors: ReadonlyArray<{ shape: number[] }>) => tensors.reduce((s, t) => s + t.shape.reduce((a, c) => a * c, 1), 0);
if (mode === 'streamed') {
  const helper = await createSharingThreads();
  try {
    const stream = streamOwnerShares({ model, modelId: modelName, helper });
    words = wordsOf(stream.manifests[0].tensors);
    for await (const t of stream.tensors()) {
      for (const list of t.parties) for (const p of list) {
        parts += 1;
        bytes += p.bytes.byteLength;
      }
    }
    helperWords = helper.words.helper;
  } finally {
    await helper.close();
  }
} else if (mode === 'one-thread') {
  const stream = streamOwnerShares({ model, modelId: modelName, reuseBuffers: true });
  words = wordsOf(stream.manifests[0].tensors);
  for await (const t of stream.tensors()) {
    for (const list of t.parties) for (const p of list) {
      parts += 1;
      bytes += p.bytes.byteLength;
    }
  }
} else if (mode === 'js') {
  const bundles = shareWeights(model, modelName, DEFAULT_FRAC_BITS);
  words = wordsOf(bundles[0].manifest.tensors);
  const epoch = '0123456789abcdef0123456789abcdef';
  for (const p of [0, 1, 2] as const) {
    const share = await partySharesFromBundle(bundles[p], p, epoch);
    parts += share.parts.length;
    bytes += share.parts.reduce((s, b) => s + b.byteLength, 0);
  }
} else {
  throw new Error(`unknown mode ${mode}: streamed, one-thread or js`);
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
// maxRSS is in KiB.
const peakMiB = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ model: modelName, mode, ms, cpuMs, words, helperWords, parts, bytes, baselineMiB, peakMiB }));
