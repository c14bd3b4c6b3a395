/**
 * `puma chat` on stories260K converted to an HF folder by llama2c-to-hf.ts (tokenizer.json + a small chat
 * template written here into tokenizer_config.json, or the same template as the folder's own chat_template.jinja),
 * turns piped on stdin: the rendered prompts are the
 * template's text for the history, their tokens are tokenizer.json's, and each secure reply's tokens equal the
 * plaintext greedy tokens computed here from those prompts. Folders without a template or tokenizer.json, a
 * broken template file, and an empty stdin, get clear errors naming the problem.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGreedy } from '@puma/models';
import { loadModel } from '@puma/models/node';

const BIN = new URL('../bin/puma.mjs', import.meta.url).pathname;
const CONVERT = new URL('../../../packages/models/scripts/llama2c-to-hf.ts', import.meta.url).pathname;
const TSX = new URL('../../../node_modules/.bin/tsx', import.meta.url).pathname;

/** Q:/A: turns, the reply closed by EOS, an optional system line first; unknown roles raise. */
const TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n" +
  "{% elif m['role'] == 'user' %}Q: {{ m['content'] }}\n{% elif m['role'] == 'assistant' %}A: {{ m['content'] }}{{ eos_token }}\n" +
  "{% else %}{{ raise_exception('unknown role ' + m['role']) }}{% endif %}{% endfor %}{% if add_generation_prompt %}A:{% endif %}";

interface Turn {
  user: string; prompt: string; promptTokens: number[]; replyTokens: number[]; reply: string; stoppedBy: string; plaintextTokens: number[];
}

const root = mkdtempSync(path.join(tmpdir(), 'puma-chat-'));
const withTemplate = path.join(root, 'chat');
const withoutTemplate = path.join(root, 'plain');
/** The template as chat_template.jinja beside a tokenizer_config.json that has none. */
const jinjaOnly = path.join(root, 'jinja');
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(() => {
  writeFileSync(path.join(root, 'template.jinja'), TEMPLATE);
  execFileSync(TSX, [CONVERT, 'stories260K', withTemplate, '--chat-template', path.join(root, 'template.jinja')], { stdio: 'pipe', timeout: 120_000 });
  execFileSync(TSX, [CONVERT, 'stories260K', withoutTemplate], { stdio: 'pipe', timeout: 120_000 });
  cpSync(withoutTemplate, jinjaOnly, { recursive: true });
  writeFileSync(path.join(jinjaOnly, 'chat_template.jinja'), TEMPLATE);
}, 240_000);

function chat(model: string, stdin: string, ...flags: string[]) {
  return spawnSync(process.execPath, [BIN, 'chat', '--model', model, ...flags], { input: stdin, encoding: 'utf8', timeout: 280_000 });
}

describe('puma chat', () => {
  it('two piped turns: template-rendered prompts with the history, secure replies equal plaintext greedy tokens (--json)', async () => {
    const r = chat(withTemplate, 'Once upon a time\n\nWhere did they go?\n', '--max-tokens', '3', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { turns } = JSON.parse(r.stdout) as { turns: Turn[] };
    expect(turns.map((t) => t.user)).toEqual(['Once upon a time', 'Where did they go?']);
    expect(turns[0].prompt).toBe('<s>Q: Once upon a time\nA:');
    expect(turns[1].prompt).toBe(`<s>Q: Once upon a time\nA: ${turns[0].reply}</s>\nQ: Where did they go?\nA:`);

    const { model, tokenizer } = await loadModel(withTemplate);
    for (const t of turns) {
      const ids = tokenizer!.encode(t.prompt);
      expect(ids[0]).toBe(1); // <s> in the template text is BOS, not three characters
      expect(t.promptTokens).toEqual(ids);
      const plain = generateGreedy(model, ids, 3, { stopIds: [2] }).slice(ids.length);
      expect(t.replyTokens).toEqual(plain);
      expect(t.reply).toBe(tokenizer!.decode(plain));
      expect(t.stoppedBy).toBe(plain.includes(2) ? 'eos' : 'max-tokens');
    }
    expect(turns[1].promptTokens).toContain(2); // the first reply's </s> from the template
  }, 300_000);

  it('streams the reply to stdout, one line per turn, with a system message', async () => {
    const r = chat(withTemplate, 'Tell me a story\n', '--max-tokens', '2', '--system', 'Be brief.');
    expect(r.status).toBe(0);
    const { model, tokenizer } = await loadModel(withTemplate);
    const ids = tokenizer!.encode('<s>Be brief.\nQ: Tell me a story\nA:');
    const plain = generateGreedy(model, ids, 2, { stopIds: [2] }).slice(ids.length).filter((t) => t !== 2);
    expect(r.stdout).toBe(`${tokenizer!.decode(plain)}\n`);
    expect(r.stderr).toMatch(/plaintext greedy tokens match/);
  }, 300_000);

  it('a folder with only chat_template.jinja chats exactly as with the same template in tokenizer_config.json', () => {
    const run = (model: string) => {
      const r = chat(model, 'Once upon a time\nWhere did they go?\n', '--max-tokens', '2', '--json');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      // Everything but the timings.
      return (JSON.parse(r.stdout) as { turns: Turn[] }).turns.map(({ user, prompt, promptTokens, replyTokens, reply, stoppedBy }) => ({ user, prompt, promptTokens, replyTokens, reply, stoppedBy }));
    };
    const fromFile = run(jinjaOnly);
    expect(fromFile[0].prompt).toBe('<s>Q: Once upon a time\nA:');
    expect(fromFile).toEqual(run(withTemplate));
  }, 300_000);

  it('a broken chat_template.jinja or chat_template.json is an error naming the file', () => {
    const broken = path.join(root, 'broken');
    cpSync(withoutTemplate, broken, { recursive: true });
    writeFileSync(path.join(broken, 'chat_template.jinja'), "{% for m in messages %}{{ m['content'] }}");
    const jinja = chat(broken, 'hi\n');
    expect(jinja.status).toBe(1);
    expect(jinja.stderr).toContain(`${path.join(broken, 'chat_template.jinja')} is not a valid Jinja template`);
    rmSync(path.join(broken, 'chat_template.jinja'));
    writeFileSync(path.join(broken, 'chat_template.json'), '{"chat_template": 7}');
    const json = chat(broken, 'hi\n');
    expect(json.status).toBe(1);
    expect(json.stderr).toContain(`${path.join(broken, 'chat_template.json')} must be a non-empty string of Jinja text`);
    for (const r of [jinja, json]) expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  }, 120_000);

  it('refuses a folder without a chat template or without tokenizer.json, and an empty stdin, clearly', () => {
    const noTemplate = chat(withoutTemplate, 'hi\n');
    expect(noTemplate.status).toBe(1);
    expect(noTemplate.stderr).toMatch(/tokenizer_config\.json has no "chat_template" \(and there is no chat_template\.jinja or chat_template\.json\)/);
    const legacy = chat('stories260K', 'hi\n');
    expect(legacy.status).toBe(2);
    expect(legacy.stderr).toMatch(/has no tokenizer\.json \(only legacy tokenizer files\)/);
    const empty = chat(withTemplate, '\n');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/no user turn on stdin/);
    for (const r of [noTemplate, legacy, empty]) expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  }, 120_000);
});
