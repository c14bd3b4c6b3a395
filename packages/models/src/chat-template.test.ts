/** Chat templates from tokenizer_config.json: where the template comes from, what it sees, and clear errors. */
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from './chat-template.ts';

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

  it('picks the "default" of a list of named templates, or chat_template.jinja when there is one', () => {
    const listed = ChatTemplate.fromConfig({ chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D{{ messages | length }}' }] });
    expect(listed.render(messages, false)).toBe('D4');
    const file = ChatTemplate.fromConfig({ chat_template: 'ignored' }, 'tc.json', { text: 'J', source: 'chat_template.jinja' });
    expect(file.render(messages, true)).toBe('J');
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
});
