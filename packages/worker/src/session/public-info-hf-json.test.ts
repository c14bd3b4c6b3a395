/**
 * tokenizer.json in the public model info (kind hf-json): a folder's tokenizer.json and tokenizer_config.json
 * travel to the client and give the same ids there as the folder's own tokenizer; a separate chat_template.jinja
 * or chat_template.json travels beside them and is the template the client renders.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatTemplate, HfTokenizer, Llama2cTokenizer, llamaTokenizerJsonFromBin } from '@puma/models';
import { loadModel, modelDir } from '@puma/models/node';
import { decodePublicInfo, encodePublicInfo, hfJsonTokenizerSource, OPTIONAL_TOKENIZER_FILES, tokenizerFromSource } from './public-info.ts';

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

  it('carries a separate chat template file: the client renders it exactly as the same template in tokenizer_config.json', async () => {
    const { model } = await loadModel('stories260K');
    const docs = llamaTokenizerJsonFromBin(readFileSync(path.join(modelDir('stories260K'), 'tok512.bin')), 512);
    const utf8 = (x: string) => new TextEncoder().encode(x);
    const template = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
    const onWire = (source: ReturnType<typeof hfJsonTokenizerSource>) => {
      const info = decodePublicInfo(encodePublicInfo({ modelId: 'm', config: model.config, fracBits: 18, tokenizer: source }));
      return tokenizerFromSource(info.tokenizer!, model.config.vocabSize) as HfTokenizer;
    };
    const config = utf8(JSON.stringify(docs.config));
    const inConfig = onWire(hfJsonTokenizerSource(utf8(JSON.stringify(docs.tokenizer)), utf8(JSON.stringify({ ...docs.config, chat_template: template }))));
    const jinja = hfJsonTokenizerSource(utf8(JSON.stringify(docs.tokenizer)), config, { name: 'chat_template.jinja', bytes: utf8(template) });
    expect(Object.keys(jinja.files)).toEqual(['hf-tokenizer.json', 'hf-tokenizer-config.json', 'hf-chat-template.jinja']);
    expect(OPTIONAL_TOKENIZER_FILES['hf-json']).toEqual(['hf-chat-template.jinja', 'hf-chat-template.json']);
    const messages = [{ role: 'user', content: 'Once upon a time' }];
    const expected = ChatTemplate.fromTokenizer(inConfig).render(messages, true);
    expect(expected).toBe('<s>user: Once upon a time\nassistant:');
    for (const source of [jinja, hfJsonTokenizerSource(utf8(JSON.stringify(docs.tokenizer)), config, { name: 'chat_template.json', bytes: utf8(JSON.stringify({ chat_template: template })) })]) {
      const tok = onWire(source);
      expect(ChatTemplate.fromTokenizer(tok).render(messages, true)).toBe(expected);
      expect(tok.encode(expected)).toEqual(inConfig.encode(expected));
    }
    const broken = onWire(hfJsonTokenizerSource(utf8(JSON.stringify(docs.tokenizer)), config, { name: 'chat_template.jinja', bytes: utf8('{% if %}') }));
    expect(() => ChatTemplate.fromTokenizer(broken, "m's tokenizer_config.json")).toThrow(/^the model's chat_template\.jinja is not a valid Jinja template: /);
    const notText = hfJsonTokenizerSource(utf8(JSON.stringify(docs.tokenizer)), config, { name: 'chat_template.jinja', bytes: new Uint8Array([0xff, 0xfe]) });
    expect(() => onWire(notText)).toThrow("the model's chat_template.jinja is not UTF-8 text");
  });
});
