/**
 * Issue 13, chat mode on the client page: stories260K converted to a Hugging Face folder by llama2c-to-hf.ts
 * with a small Q:/A: chat template written here (no instruct model is among the shared models), served by the
 * owner page from its files. The client page offers the Chat toggle because the template reached it in the
 * public model info; two turns are rendered with the template over the history kept on the page, every
 * generated token equals the plaintext greedy token from the same prompt tokens, and each reply is cut at the
 * first EOS. A model without a template (the llama2.c checkpoint) leaves the toggle off, saying why.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { LLAMA_EOS, generateGreedy, type Model, type Tokenizer } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { GENERATE_TIMEOUT_MS, Lab, MODEL_FILES, ROOT, clientState } from './lab.ts';
import { approveAll, startSession } from './storage-lab.ts';

const TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n" +
  "{% elif m['role'] == 'user' %}Q: {{ m['content'] }}\n{% else %}A: {{ m['content'] }}{{ eos_token }}\n{% endif %}{% endfor %}" +
  '{% if add_generation_prompt %}A:{% endif %}';
const TOKENS = 4;

test.describe.configure({ mode: 'serial' });

let lab: Lab;
let dir: string;
let files: string[];
let plain: { model: Model; tokenizer: Tokenizer };

test.beforeAll(async ({ browser }) => {
  test.setTimeout(180_000);
  const root = mkdtempSync(path.join(os.tmpdir(), 'puma-e2e-chat-'));
  dir = path.join(root, 'stories260K-chat');
  writeFileSync(path.join(root, 'template.jinja'), TEMPLATE);
  execFileSync(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'packages/models/scripts/llama2c-to-hf.ts'), 'stories260K', dir, '--chat-template', path.join(root, 'template.jinja')], {
    cwd: ROOT, stdio: 'pipe', timeout: 120_000,
  });
  files = readdirSync(dir).map((f) => path.join(dir, f));
  const loaded = await loadModel(dir);
  plain = { model: loaded.model, tokenizer: loaded.tokenizer! };
  lab = await Lab.start(browser);
});

test.afterAll(async () => {
  await lab?.close();
  if (dir) rmSync(path.dirname(dir), { recursive: true, force: true });
});

/** Types a message in chat mode, presses Send and waits for the reply. */
async function send(message: string): Promise<void> {
  const page = lab.client.page;
  await page.locator('#prompt').fill(message);
  await page.locator('#max-new').fill(String(TOKENS));
  await page.getByRole('button', { name: 'Send' }).click();
  await page.waitForFunction(() => ['done', 'error'].includes(window.pumaClient?.state.phase ?? ''), null, { timeout: GENERATE_TIMEOUT_MS, polling: 200 });
  const s = await clientState(page);
  if (s.phase === 'error') throw new Error(`chat turn failed: ${s.error}; ${await lab.pagesSummary()}`);
}

test('an instruct-style model: two chat turns rendered with its template, tokens equal plaintext, replies cut at EOS', async () => {
  await startSession(lab, files);
  await approveAll(lab);
  await lab.waitClientReady();
  const page = lab.client.page;
  let s = await clientState(page);
  expect(s.chat.available).toBe(true);
  expect(s.chat.stopIds).toContain(LLAMA_EOS);
  await expect(page.locator('#chat-note')).toContainText('has a chat template');
  await page.getByLabel('Chat').check();
  await page.locator('#chat-system').fill('A story.');

  await send('Once upon a time');
  await send('Where did they go?');
  s = await clientState(page);
  expect(s.chat.turns).toHaveLength(2);
  const [first, second] = s.chat.turns;
  expect(first.prompt).toBe('<s>A story.\nQ: Once upon a time\nA:');
  expect(second.prompt).toBe(`<s>A story.\nQ: Once upon a time\nA: ${first.reply}</s>\nQ: Where did they go?\nA:`);
  for (const t of s.chat.turns) {
    const ids = plain.tokenizer.encode(t.prompt);
    expect(t.promptIds).toEqual(ids);
    // The parties stop with the reply: generation ends at the first stop token (included).
    const full = generateGreedy(plain.model, ids, TOKENS).slice(ids.length);
    const eos = full.indexOf(LLAMA_EOS);
    expect(t.generated).toEqual(eos < 0 ? full : full.slice(0, eos + 1));
    const stop = t.generated.indexOf(LLAMA_EOS);
    const replyIds = stop < 0 ? t.generated : t.generated.slice(0, stop);
    expect(t.reply).toBe(plain.tokenizer.decode(replyIds));
    expect(t.stoppedBy).toBe(stop < 0 ? 'max-tokens' : 'eos');
  }
  // The conversation is on the page: both turns, each side.
  await expect(page.locator('#conversation .turn.you')).toHaveText(['You: Once upon a time', 'You: Where did they go?']);
  await expect(page.locator('#conversation .turn.model')).toHaveText([`Model: ${first.reply}`, `Model: ${second.reply}`]);
  console.log(`chat: replies ${JSON.stringify(first.reply)} (${first.stoppedBy}), ${JSON.stringify(second.reply)} (${second.stoppedBy})`);

  await page.getByRole('button', { name: 'New conversation' }).click();
  await expect(page.locator('#conversation .turn')).toHaveCount(0);
  await lab.endSession(lab.parties.map((p) => p.page));
});

test('a model without a chat template leaves the Chat toggle off and says why', async () => {
  await startSession(lab, MODEL_FILES);
  await approveAll(lab);
  await lab.waitClientReady();
  const page = lab.client.page;
  const s = await clientState(page);
  expect(s.chat.available).toBe(false);
  expect(s.chat.reason).toBe('stories260K came without tokenizer.json and tokenizer_config.json, which chat needs for its template');
  await expect(page.getByLabel('Chat')).toBeDisabled();
  await expect(page.locator('#chat-note')).toContainText('No chat mode: stories260K came without tokenizer.json');
  await lab.endSession(lab.parties.map((p) => p.page));
});
