/**
 * tokenizer.json in the public model info (kind hf-json): a folder's tokenizer.json and tokenizer_config.json
 * travel to the client and give the same ids there as the folder's own tokenizer.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Llama2cTokenizer, llamaTokenizerJsonFromBin } from '@puma/models';
import { loadModel, modelDir } from '@puma/models/node';
import { decodePublicInfo, encodePublicInfo, tokenizerFromSource } from './public-info.ts';

describe('public model info with tokenizer.json', () => {
  it('round-trips tokenizer.json + tokenizer_config.json and the client encodes as the legacy reader does', async () => {
    const { model } = await loadModel('stories260K');
    const bin = readFileSync(path.join(modelDir('stories260K'), 'tok512.bin'));
    const docs = llamaTokenizerJsonFromBin(bin, 512);
    const utf8 = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
    const tokenizer = { kind: 'hf-json' as const, files: { 'hf-tokenizer.json': utf8(docs.tokenizer), 'hf-tokenizer-config.json': utf8(docs.config) } };
    const info = decodePublicInfo(encodePublicInfo({ modelId: 'stories260K-hf', config: model.config, fracBits: 18, tokenizer }));
    const tok = tokenizerFromSource(info.tokenizer!, model.config.vocabSize);
    const text = 'Once upon a time, there was a little girl named Lily.\nShe smiled 😀';
    expect(tok.encode(text)).toEqual(Llama2cTokenizer.fromBytes(bin, 512).encode(text));
    expect(() => tokenizerFromSource(info.tokenizer!, 300)).toThrow(/tokenizer\.json has token ids up to 511, but the model's vocabulary has only 300 entries/);
    expect(() => tokenizerFromSource({ kind: 'hf-json', files: { 'hf-tokenizer.json': utf8(docs.tokenizer) } }, 512)).toThrow('hf-json tokenizer needs the file hf-tokenizer-config.json; got hf-tokenizer.json');
  });
});
