/**
 * Chat templates from tokenizer_config.json or a separate chat_template.jinja / chat_template.json: where the
 * template comes from (the separate file wins, as in transformers), what it sees, and clear errors naming the file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatTemplate, chatTemplateOfFile } from './chat-template.ts';
import { modelDir } from './node.ts';
import { llamaTokenizerJsonFromBin } from './tokenizer-json-writer.ts';
import { HfTokenizer } from './tokenizer-json.ts';

/** A ChatML-style template (as Qwen2 instruct models ship), written here. */
const CHATML =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

describe('ChatTemplate', () => {
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello.' }, { role: 'user', content: 'Bye' }];

  it('renders messages and the generation prompt as the template says', () => {
    const t = ChatTemplate.fromConfig({ chat_template: CHATML });
    expect(t.render(messages.slice(0, 2), true)).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(t.render(messages, false)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n',
    );
  });

  it('passes the special tokens, given as strings or as AddedToken objects', () => {
    const t = ChatTemplate.fromConfig({ chat_template: '{{ bos_token }}[{{ messages[0].content }}]{{ eos_token }}', bos_token: { content: '<s>', lstrip: false }, eos_token: '</s>' });
    expect(t.render([{ role: 'user', content: 'x' }], true)).toBe('<s>[x]</s>');
  });

  it('picks the "default" of a list of named templates', () => {
    const listed = ChatTemplate.fromConfig({ chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D{{ messages | length }}' }] });
    expect(listed.render(messages, false)).toBe('D4');
  });

  it('names the file and the problem', () => {
    expect(() => ChatTemplate.fromConfig({}, 'm/tokenizer_config.json')).toThrow(/m\/tokenizer_config\.json has no "chat_template"/);
    expect(() => ChatTemplate.fromConfig({ chat_template: 3 }, 'tc.json')).toThrow(/tc\.json "chat_template" must be a non-empty string of Jinja text/);
    expect(() => ChatTemplate.fromConfig({ chat_template: [{ name: 'tool_use', template: 'T' }] }, 'tc.json')).toThrow(/lists templates named \["tool_use"\] but none is "default"/);
    expect(() => ChatTemplate.fromConfig({ chat_template: '{% for %}' }, 'tc.json')).toThrow(/tc\.json "chat_template" is not a valid Jinja template/);
    const raising = ChatTemplate.fromConfig({ chat_template: "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be the user') }}{% endif %}ok" }, 'tc.json');
    expect(raising.render([{ role: 'user', content: 'a' }], true)).toBe('ok');
    expect(() => raising.render([{ role: 'assistant', content: 'a' }], true)).toThrow(/tc\.json "chat_template": rendering failed: .*first message must be the user/);
  });

  it('reads chat_template.jinja as text and chat_template.json\'s "chat_template" entry; a malformed .json names its file', () => {
    expect(chatTemplateOfFile({ name: 'chat_template.jinja', text: CHATML, source: 'm/chat_template.jinja' })).toBe(CHATML);
    expect(chatTemplateOfFile({ name: 'chat_template.json', text: JSON.stringify({ chat_template: CHATML }), source: 'm/chat_template.json' })).toBe(CHATML);
    const named = [{ name: 'default', template: 'D' }];
    expect(chatTemplateOfFile({ name: 'chat_template.json', text: JSON.stringify({ chat_template: named }), source: 'c.json' })).toEqual(named);
    expect(() => chatTemplateOfFile({ name: 'chat_template.json', text: '{"chat_template": ', source: 'm/chat_template.json' })).toThrow(/^m\/chat_template\.json: not valid JSON/);
    expect(() => chatTemplateOfFile({ name: 'chat_template.json', text: '["x"]', source: 'm/chat_template.json' })).toThrow('m/chat_template.json: must be a JSON object with a "chat_template" entry');
  });
});

describe('HfTokenizer with a separate chat template file', () => {
  const docs = llamaTokenizerJsonFromBin(readFileSync(path.join(modelDir('stories260K'), 'tok512.bin')), 512);
  const tokenizerJson = JSON.stringify(docs.tokenizer);
  const messages = [{ role: 'user', content: 'Hi' }];

  it('renders exactly as the same template inside tokenizer_config.json, and wins over the config\'s own', () => {
    const inConfig = HfTokenizer.fromJson(tokenizerJson, JSON.stringify({ ...docs.config, chat_template: CHATML }));
    const inFile = HfTokenizer.fromJson(tokenizerJson, JSON.stringify({ ...docs.config, chat_template: 'the old {{ messages }}' }), 'tokenizer.json', 'tokenizer_config.json', {
      name: 'chat_template.jinja', text: CHATML, source: 'm/chat_template.jinja',
    });
    const rendered = ChatTemplate.fromTokenizer(inConfig).render(messages, true);
    expect(rendered).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(ChatTemplate.fromTokenizer(inFile).render(messages, true)).toBe(rendered);
    expect(inFile.chatTemplateFile).toBe('m/chat_template.jinja');
    expect(inConfig.chatTemplateFile).toBeUndefined();
    // A folder with no tokenizer_config.json at all still chats from the file.
    const fileOnly = HfTokenizer.fromJson(tokenizerJson, undefined, 'tokenizer.json', 'tokenizer_config.json', { name: 'chat_template.json', text: JSON.stringify({ chat_template: CHATML }), source: 'c.json' });
    expect(ChatTemplate.fromTokenizer(fileOnly).render(messages, true)).toBe(rendered);
  });

  it('a broken template file is an error naming that file, not tokenizer_config.json', () => {
    const broken = HfTokenizer.fromJson(tokenizerJson, JSON.stringify(docs.config), 'tokenizer.json', 'tokenizer_config.json', {
      name: 'chat_template.jinja', text: '{% for m in messages %}', source: 'm/chat_template.jinja',
    });
    expect(() => ChatTemplate.fromTokenizer(broken, 'm/tokenizer_config.json')).toThrow(/^m\/chat_template\.jinja is not a valid Jinja template: /);
    const empty = HfTokenizer.fromJson(tokenizerJson, undefined, 'tokenizer.json', 'tokenizer_config.json', { name: 'chat_template.jinja', text: '  \n', source: 'm/chat_template.jinja' });
    expect(() => ChatTemplate.fromTokenizer(empty)).toThrow('m/chat_template.jinja must be a non-empty string of Jinja text');
    expect(() => HfTokenizer.fromJson(tokenizerJson, undefined, 'tokenizer.json', 'tokenizer_config.json', { name: 'chat_template.json', text: 'nope', source: 'm/chat_template.json' }))
      .toThrow(/^m\/chat_template\.json: not valid JSON/);
  });
});
