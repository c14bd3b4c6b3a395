/**
 * The owner's model input read by byte range (owner-model-files.ts): the same model as the whole-file loaders,
 * a safetensors file never read whole, the chunked weights hash computed independently here with node:crypto,
 * and a clear error for each malformed input.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHuggingFace, loadLlama2c, namedTensors, parseSafetensors, type Tensor } from '@puma/models';
import { modelDir } from '@puma/models/node';
import { HASH_CHUNK_BYTES, chunkedSha256, loadOwnerModel, type ModelFileReader } from './index.ts';

/** A reader over bytes in memory that records the length of every read. */
function recordingReader(name: string, bytes: Uint8Array): ModelFileReader & { reads: number[] } {
  const reads: number[] = [];
  return {
    name,
    size: bytes.byteLength,
    reads,
    read(begin, end) {
      reads.push(end - begin);
      return bytes.slice(begin, end);
    },
  };
}

const fileOf = (dir: string, name: string, as = name) => recordingReader(as, new Uint8Array(readFileSync(path.join(dir, name))));
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
/** A tensor's bytes (vitest's deep equality over millions of elements takes minutes; Buffer.equals does not). */
const bytesOf = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

/** Names, shapes and bytes of every tensor equal. */
function expectSameTensors(got: Array<[string, Tensor]>, expected: Array<[string, Tensor]>): void {
  expect(got.map(([n, t]) => [n, t.shape])).toEqual(expected.map(([n, t]) => [n, t.shape]));
  got.forEach(([name, t], i) => expect(bytesOf(t).equals(bytesOf(expected[i][1])), name).toBe(true));
}

describe('owner model files read by byte range', () => {
  it('gpt2-shakespeare: the same tensors as the whole-file loader, the file read one tensor at a time', async () => {
    const dir = modelDir('gpt2-shakespeare');
    const weights = fileOf(dir, 'model.safetensors');
    const config = fileOf(dir, 'config.json');
    const files = [config, weights, fileOf(dir, 'vocab.json'), fileOf(dir, 'merges.txt')];
    const loaded = await loadOwnerModel(files, 'gpt2-shakespeare');
    const whole = loadHuggingFace(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')), parseSafetensors(readFileSync(path.join(dir, 'model.safetensors'))));
    expectSameTensors(namedTensors(loaded.model.weights), namedTensors(whole.weights));
    expect(loaded.model.config).toEqual(whole.config);
    // The largest read outside hashing is one tensor (the 50257 x 128 embedding, 25.7 MB of a 29.0 MB file).
    const loaderReads = weights.reads.filter((n) => n !== weights.size);
    expect(Math.max(...loaderReads)).toBe(50257 * 128 * 4);
    // The one whole-file read is the hash's single chunk (the file is under HASH_CHUNK_BYTES).
    expect(weights.reads.filter((n) => n === weights.size)).toHaveLength(1);
    expect(loaded.modelId).toBe('gpt2-shakespeare');
    expect(loaded.tokenizer?.kind).toBe('gpt2-bpe');
    expect(loaded.description).toBe('gpt2-shakespeare (gpt2, Hugging Face safetensors)');
    const file = readFileSync(path.join(dir, 'model.safetensors'));
    expect(loaded.weightsHash).toBe(`${sha256(sha256(file))}+${sha256(readFileSync(path.join(dir, 'config.json')))}`);
  });

  it('stories260K: a llama2.c checkpoint with its tokenizer, as loadLlama2c reads it', async () => {
    const dir = modelDir('stories260K');
    const loaded = await loadOwnerModel([fileOf(dir, 'stories260K.bin'), fileOf(dir, 'tok512.bin')]);
    const whole = loadLlama2c(readFileSync(path.join(dir, 'stories260K.bin')));
    expectSameTensors(namedTensors(loaded.model.weights), namedTensors(whole.weights));
    expect(loaded.modelId).toBe('stories260K');
    expect(loaded.tokenizer?.kind).toBe('llama2c');
    expect(loaded.weightsHash).toBe(sha256(sha256(readFileSync(path.join(dir, 'stories260K.bin')))));
  });

  it('the weights hash spans chunks: sha256 of the chunk digests, and one changed byte in the last chunk changes it', async () => {
    const size = 2 * HASH_CHUNK_BYTES + 12_345;
    const pattern = (begin: number, end: number, flip = -1) => {
      const out = new Uint8Array(end - begin);
      for (let i = 0; i < out.length; i++) out[i] = ((begin + i) * 2654435761) >>> 24 ^ (begin + i === flip ? 1 : 0);
      return out;
    };
    const reader = (flip?: number): ModelFileReader => ({ name: 'big.bin', size, read: (b, e) => pattern(b, e, flip) });
    const chunks = [0, 1, 2].map((k) => sha256(pattern(k * HASH_CHUNK_BYTES, Math.min(size, (k + 1) * HASH_CHUNK_BYTES))));
    expect(await chunkedSha256(reader())).toBe(sha256(chunks.join('')));
    expect(await chunkedSha256(reader(size - 1))).not.toBe(sha256(chunks.join('')));
    expect(await chunkedSha256({ name: 'empty', size: 0, read: () => new Uint8Array(0) })).toBe(sha256(sha256(new Uint8Array(0))));
  });

  it('refuses malformed input with an error naming the problem', async () => {
    const dir = modelDir('gpt2-shakespeare');
    const text = (name: string, s: string) => recordingReader(name, new TextEncoder().encode(s));
    await expect(loadOwnerModel([])).rejects.toThrow('no model files given');
    await expect(loadOwnerModel([fileOf(dir, 'model.safetensors')])).rejects.toThrow('model.safetensors needs the config.json beside it');
    await expect(loadOwnerModel([fileOf(dir, 'model.safetensors'), text('config.json', '{ nope')])).rejects.toThrow(/^config\.json is not valid JSON/);
    await expect(loadOwnerModel([fileOf(dir, 'model.safetensors'), fileOf(dir, 'model.safetensors', 'b.safetensors')])).rejects.toThrow('several .safetensors files (model.safetensors, b.safetensors); pick one');
    await expect(loadOwnerModel([fileOf(dir, 'vocab.json')])).rejects.toThrow('no model weights among vocab.json');
    const bytes = readFileSync(path.join(dir, 'model.safetensors'));
    const truncated = recordingReader('model.safetensors', new Uint8Array(bytes.subarray(0, bytes.byteLength - 100)));
    await expect(loadOwnerModel([truncated, fileOf(dir, 'config.json')])).rejects.toThrow(/run past the data section .*file truncated\?/);
    // A picked PyTorch file is refused from its first four bytes; the rest is never read.
    const pickled = new Uint8Array(1 << 20);
    pickled.set([0x50, 0x4b, 0x03, 0x04]);
    const torch = recordingReader('pytorch_model.bin', pickled);
    await expect(loadOwnerModel([torch, fileOf(dir, 'config.json')])).rejects.toThrow(/pytorch_model\.bin: this is a PyTorch zip archive/);
    expect(torch.reads).toEqual([4]);
  });
});
