/**
 * `puma chat --model <dir>`: a conversation with an instruct model, every reply generated securely. Each line
 * on stdin is a user turn (so `printf 'hi\n' | puma chat ...` works); the whole history is rendered with the
 * model's chat template (chat_template.jinja, chat_template.json or tokenizer_config.json's, in that priority) and tokenized with its tokenizer.json,
 * then the three parties (worker threads, as `puma generate`) generate the reply, which streams to stdout and
 * ends at an end-of-sequence token or --max-tokens. The weights are shared once for the whole conversation.
 * With --json nothing streams; one JSON document with every turn is printed at the end.
 */
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { parseBackendChoice, runInThreads } from '@puma/worker';
import { ChatTemplate, generateGreedy, HfTokenizer, type ChatMessage } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { generateClient, greedy, shareWeights, type ClientStep, type GenerateArgs, type StepReport } from '@puma/models/secure';
import { DOMAIN_CHECK_OPTION, guardDomain } from './domain-guard.ts';
import { intOption, required, runCommand, usageError } from './session-endpoint.ts';

const PROGRAMS = new URL('../../../packages/models/src/secure/programs.ts', import.meta.url).href;

export const CHAT_USAGE = `usage: puma chat --model <dir|name> [--max-tokens N] [--system <text>] [--backend wasm|webgpu|auto] [--skip-domain-check] [--json]
reads one user turn per line from stdin; the model folder needs tokenizer.json and a chat template.`;

interface Turn {
  readonly user: string;
  /** The rendered prompt text (history + this turn + the generation prompt). */
  readonly prompt: string;
  readonly promptTokens: number[];
  readonly replyTokens: number[];
  readonly reply: string;
  readonly stoppedBy: 'eos' | 'max-tokens';
  readonly plaintextTokens: number[];
  readonly stats: { rounds: number; bytesPerParty: number[]; seconds: number };
}

/** The ids that end a reply: tokenizer_config.json's eos_token and config.json's eos_token_id. */
function stopIds(tokenizer: HfTokenizer, configEos: number | undefined): number[] {
  const ids = new Set<number>();
  const eos = tokenizer.specialToken('eos_token');
  if (eos) ids.add(eos.id);
  if (configEos !== undefined) ids.add(configEos);
  return [...ids];
}

/** Text of `ids` that is safe to print: a trailing incomplete UTF-8 sequence (U+FFFD) is held back. */
function printable(tokenizer: HfTokenizer, ids: readonly number[]): string {
  return tokenizer.decode(ids).replace(/\uFFFD+$/, '');
}

export function chatCommand(argv: string[]): Promise<number> {
  return runCommand('chat', CHAT_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'max-tokens': { type: 'string' },
        system: { type: 'string' },
        backend: { type: 'string', default: 'wasm' },
        json: { type: 'boolean', default: false },
        ...DOMAIN_CHECK_OPTION,
      },
    });
    const backend = parseBackendChoice(values.backend);
    const { model, tokenizer, location } = await loadModel(required(values.model, 'model'));
    const c = model.config;
    if (c.arch === 'bert' || model.weights.head.kind !== 'lm') usageError(`${location.name} is not a language model; chat needs one`);
    if (!(tokenizer instanceof HfTokenizer)) {
      usageError(`${location.dir} has no tokenizer.json${tokenizer ? ' (only legacy tokenizer files)' : ''}; chat renders a chat template, which needs tokenizer.json and tokenizer_config.json`);
    }
    const configFile = location.tokenizer?.kind === 'tokenizer-json' ? location.tokenizer.config : undefined;
    // The loader has put a chat_template.jinja / chat_template.json into the tokenizer's config (it wins, as in transformers).
    const template = ChatTemplate.fromTokenizer(tokenizer, configFile ?? path.join(location.dir, 'tokenizer_config.json'));
    const maxTokens = intOption(values['max-tokens'], 'max-tokens', 64, 1, c.maxPositions);
    const stops = stopIds(tokenizer, c.eosTokenId);

    const fracBits = DEFAULT_FRAC_BITS;
    const bundles = shareWeights(guardDomain(model, location.name, { tokenizer, skip: values['skip-domain-check'], fracBits }), location.name, fracBits);
    const messages: ChatMessage[] = values.system === undefined ? [] : [{ role: 'system', content: values.system }];
    const turns: Turn[] = [];
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      messages.push({ role: 'user', content: line });
      const prompt = template.render(messages, true);
      const promptTokens = tokenizer.encode(prompt);
      if (promptTokens.length === 0) throw new Error(`${template.source} rendered an empty prompt`);
      if (promptTokens.length + maxTokens > c.maxPositions) {
        throw new Error(`the conversation is ${promptTokens.length} tokens; with --max-tokens ${maxTokens} it exceeds the model's ${c.maxPositions} positions`);
      }
      let shown = '';
      const replyIds: number[] = [];
      const t0 = performance.now();
      const run = await runInThreads<GenerateArgs, StepReport[]>({
        module: PROGRAMS,
        exportName: 'generateParty',
        args: (i) => ({ job: 0, weights: bundles[i], promptLength: promptTokens.length, maxNewTokens: maxTokens, reveal: 'logits', earlyStop: true }),
        backend,
        fracBits,
        client: (ch) => generateClient(ch, {
          job: 0, prompt: promptTokens, vocab: c.vocabSize, maxNewTokens: maxTokens, reveal: 'logits', pick: greedy, stopIds: stops,
          onToken: (s) => {
            if (stops.includes(s.token)) return;
            replyIds.push(s.token);
            if (values.json) return;
            const text = printable(tokenizer, replyIds);
            if (!text.startsWith(shown)) return;
            process.stdout.write(text.slice(shown.length));
            shown = text;
          },
        }),
      });
      const steps = run.client as ClientStep[];
      const replyTokens = steps.map((s) => s.token);
      const reply = tokenizer.decode(replyIds);
      const plaintextTokens = generateGreedy(model, promptTokens, maxTokens, { stopIds: stops }).slice(promptTokens.length);
      const turn: Turn = {
        user: line, prompt, promptTokens, replyTokens, reply,
        stoppedBy: stops.includes(replyTokens[replyTokens.length - 1]) ? 'eos' : 'max-tokens',
        plaintextTokens,
        stats: { rounds: run.stats[0].rounds, bytesPerParty: run.stats.map((s) => s.bytesSent), seconds: (performance.now() - t0) / 1000 },
      };
      turns.push(turn);
      messages.push({ role: 'assistant', content: reply });
      if (!values.json) {
        process.stdout.write(`${reply.startsWith(shown) ? reply.slice(shown.length) : ''}\n`);
        const same = plaintextTokens.length === replyTokens.length && plaintextTokens.every((t, i) => t === replyTokens[i]);
        console.error(`[${replyTokens.length} tokens, stopped by ${turn.stoppedBy}, ${turn.stats.seconds.toFixed(1)} s; plaintext greedy tokens ${same ? 'match' : 'DIFFER'}]`);
      }
    }
    if (turns.length === 0) usageError('no user turn on stdin (one line per turn)');
    if (values.json) console.log(JSON.stringify({ model: location.name, turns }));
  });
}
