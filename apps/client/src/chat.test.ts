/**
 * The client page's chat mode without the page: stories260K's tokenizer converted to tokenizer.json, with a
 * chat template written here in its tokenizer_config.json, travels in the public model info as the owner sends
 * it (encode, decode, build the tokenizer), and the conversation renders, tokenizes and cuts replies the way
 * `puma chat` does.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Gpt2Tokenizer, LLAMA_BOS, LLAMA_EOS, llamaTokenizerJsonFromBin, type ModelConfig } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { decodePublicInfo, encodePublicInfo, tokenizerFromSource, type PublicModelInfo } from '@puma/worker/session';
import { Conversation, chatSetup, type ChatSetup } from './chat.ts';

const MODELS = process.env.PUMA_MODELS ?? path.join(new URL('../../..', import.meta.url).pathname, '../shared/models');
const STORIES = path.join(MODELS, 'stories260K');

/** Q:/A: turns, each reply closed by EOS, an optional system line first. */
const TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n" +
  "{% elif m['role'] == 'user' %}Q: {{ m['content'] }}\n{% else %}A: {{ m['content'] }}{{ eos_token }}\n{% endif %}{% endfor %}" +
  '{% if add_generation_prompt %}A:{% endif %}';

let config: ModelConfig;

/** The public info the owner would send for the converted folder, after its trip over the wire. */
function publicInfo(tokenizerConfig: Record<string, unknown>): PublicModelInfo {
  const docs = llamaTokenizerJsonFromBin(readFileSync(path.join(STORIES, 'tok512.bin')), config.vocabSize);
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const info: PublicModelInfo = {
    modelId: 'stories260K-chat', config, fracBits: 18,
    tokenizer: { kind: 'hf-json', files: { 'hf-tokenizer.json': enc(docs.tokenizer), 'hf-tokenizer-config.json': enc({ ...docs.config, ...tokenizerConfig }) } },
  };
  return decodePublicInfo(encodePublicInfo(info));
}

function setupOf(info: PublicModelInfo): ChatSetup {
  const s = chatSetup(info, tokenizerFromSource(info.tokenizer!, info.config.vocabSize));
  if ('reason' in s) throw new Error(s.reason);
  return s;
}

beforeAll(async () => {
  config = (await loadModel(STORIES)).model.config;
});

describe('client chat mode', () => {
  it("the template reaches the client in the public model info; EOS from tokenizer_config.json is the stop id", () => {
    const s = setupOf(publicInfo({ chat_template: TEMPLATE }));
    expect(s.template.source).toBe('stories260K-chat\'s tokenizer_config.json "chat_template"');
    expect(s.stopIds).toEqual([LLAMA_EOS]);
  });

  it('renders the history with the template and tokenizes it without adding special tokens', () => {
    const s = setupOf(publicInfo({ chat_template: TEMPLATE }));
    const chat = new Conversation(s, 'Be brief.');
    const first = chat.prompt('Once upon a time');
    expect(first.text).toBe('<s>Be brief.\nQ: Once upon a time\nA:');
    // "<s>" in the rendered text is the BOS token, once, and nothing else is added.
    expect(first.ids[0]).toBe(LLAMA_BOS);
    expect(first.ids.filter((t) => t === LLAMA_BOS)).toHaveLength(1);
    expect(s.tokenizer.decode(first.ids)).toBe('Be brief.\nQ: Once upon a time\nA:');

    const replyIds = s.tokenizer.encode(' There was a cat.');
    const reply = chat.reply([...replyIds, LLAMA_EOS, 42, 43]);
    expect(reply).toEqual({ ids: replyIds, text: s.tokenizer.decode(replyIds), stoppedBy: 'eos' });
    chat.commit('Once upon a time', reply);

    const second = chat.prompt('Where?');
    expect(second.text).toBe(`<s>Be brief.\nQ: Once upon a time\nA: ${reply.text}</s>\nQ: Where?\nA:`);
    // The first reply's EOS comes from the template, as a special token.
    expect(second.ids).toContain(LLAMA_EOS);
    expect(chat.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
  });

  it('a reply without a stop id runs to the token limit', () => {
    const chat = new Conversation(setupOf(publicInfo({ chat_template: TEMPLATE })));
    expect(chat.reply([5, 6, 7])).toMatchObject({ ids: [5, 6, 7], stoppedBy: 'max-tokens' });
    expect(chat.reply([LLAMA_EOS])).toMatchObject({ ids: [], text: '', stoppedBy: 'eos' });
  });

  it("config.json's eos_token_id is a stop id too", () => {
    const s = setupOf({ ...publicInfo({ chat_template: TEMPLATE }), config: { ...config, eosTokenId: 7 } });
    expect(s.stopIds.sort((a, b) => a - b)).toEqual([LLAMA_EOS, 7]);
  });

  it('says why a model has no chat mode', () => {
    const plain = publicInfo({});
    expect(chatSetup(plain, tokenizerFromSource(plain.tokenizer!, config.vocabSize))).toEqual({ reason: 'stories260K-chat has no chat_template in its tokenizer_config.json; use plain generation' });
    const gpt2 = Gpt2Tokenizer.fromFiles('{"a":0}', '#version: 0.2\n');
    expect(chatSetup(plain, gpt2)).toEqual({ reason: 'stories260K-chat came without tokenizer.json and tokenizer_config.json, which chat needs for its template' });
    expect(chatSetup({ ...plain, config: { ...config, causal: false } }, null)).toEqual({ reason: 'stories260K-chat is not a language model' });
    expect(() => new Conversation(setupOf(publicInfo({ chat_template: TEMPLATE }))).prompt('  ')).toThrow('type a message first');
  });

  it('a broken template is named when the model info arrives', () => {
    const broken = publicInfo({ chat_template: '{% for %}' });
    expect(() => chatSetup(broken, tokenizerFromSource(broken.tokenizer!, config.vocabSize))).toThrow(/stories260K-chat's tokenizer_config\.json "chat_template" is not a valid Jinja template/);
  });
});
