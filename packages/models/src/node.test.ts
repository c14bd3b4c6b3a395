import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findModel, loadModel, modelDir, modelsRoot } from './node.ts';
import { encodeSafetensors } from './safetensors-writer.ts';
import { asWritable, tinyGpt2Checkpoint, tinyGpt2Config } from './test-fixtures.ts';

describe('model folders and --model resolution', () => {
  const saved = process.env.PUMA_MODELS;
  afterEach(() => {
    if (saved === undefined) delete process.env.PUMA_MODELS;
    else process.env.PUMA_MODELS = saved;
  });

  it('resolves names under the models folder', () => {
    const s = findModel('stories260K');
    expect(s).toMatchObject({ name: 'stories260K', format: 'llama2c', weights: path.join(modelsRoot(), 'stories260K', 'stories260K.bin'), tokenizer: { kind: 'llama2c', path: path.join(modelsRoot(), 'stories260K', 'tok512.bin') } });
    const g = findModel('gpt2-shakespeare');
    expect(g).toMatchObject({ format: 'hf-safetensors', config: path.join(g.dir, 'config.json'), tokenizer: { kind: 'gpt2-bpe', encoder: path.join(g.dir, 'vocab.json'), merges: path.join(g.dir, 'merges.txt') } });
    // two .safetensors files: model.safetensors is the model
    const b = findModel('bert-shakespeare');
    expect(b).toMatchObject({ weights: path.join(b.dir, 'model.safetensors'), tokenizer: { kind: 'wordpiece' } });
  });

  it('accepts a folder or a weights file path', () => {
    const dir = modelDir('bert-shakespeare');
    expect(findModel(dir).weights).toBe(path.join(dir, 'model.safetensors'));
    const mlm = findModel(path.join(dir, 'mlm-pretrained.safetensors'));
    expect(mlm).toMatchObject({ name: 'mlm-pretrained', weights: path.join(dir, 'mlm-pretrained.safetensors'), config: path.join(dir, 'config.json') });
  });

  it('loads a model folder written elsewhere (here: a tiny GPT-2 without tokenizer files)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'puma-models-'));
    try {
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyGpt2Config()));
      writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(asWritable(tinyGpt2Checkpoint())));
      process.env.PUMA_MODELS = path.dirname(dir);
      const { model, tokenizer, location } = await loadModel(path.basename(dir));
      expect(location.dir).toBe(dir);
      expect(model.config.arch).toBe('gpt2');
      expect(tokenizer).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('fails clearly for unknown names and missing model folders', () => {
    expect(() => findModel('no-such-model')).toThrow(/model "no-such-model" not found: it is not a path, .* \(models in .*: .*stories260K/);
    const empty = mkdtempSync(path.join(tmpdir(), 'puma-empty-'));
    const cache = mkdtempSync(path.join(tmpdir(), 'puma-cache-'));
    const cacheBefore = process.env.PUMA_CACHE;
    try {
      process.env.PUMA_MODELS = empty;
      // What a download that failed for want of a network leaves behind: the model's folder, without its files.
      process.env.PUMA_CACHE = cache;
      mkdirSync(path.join(cache, 'stories260K'));
      expect(modelsRoot()).toBe(empty);
      expect(() => modelDir('stories260K')).toThrow(/model folder "stories260K" not found at .*\. Set PUMA_MODELS/);
      expect(() => findModel('stories260K')).toThrow(/models folder .* is empty; set PUMA_MODELS/);
      expect(() => findModel(empty)).toThrow(/no model weights found/);
      // A Hugging Face folder with PyTorch weights only: named as such, never read as a llama2.c checkpoint.
      writeFileSync(path.join(empty, 'config.json'), JSON.stringify(tinyGpt2Config()));
      writeFileSync(path.join(empty, 'pytorch_model.bin'), Buffer.from('PK\x03\x04 a zip archive', 'latin1'));
      expect(() => findModel(empty)).toThrow(/pytorch_model\.bin is not a format puma reads .*safetensors/);
      expect(() => findModel(path.join(empty, 'pytorch_model.bin'))).toThrow(/pytorch_model\.bin is not a format puma reads/);
      // Beside safetensors they are ignored.
      writeFileSync(path.join(empty, 'model.safetensors'), encodeSafetensors(asWritable(tinyGpt2Checkpoint())));
      expect(findModel(empty).weights).toBe(path.join(empty, 'model.safetensors'));
    } finally {
      rmSync(empty, { recursive: true });
      rmSync(cache, { recursive: true });
      if (cacheBefore === undefined) delete process.env.PUMA_CACHE;
      else process.env.PUMA_CACHE = cacheBefore;
    }
  });
});
