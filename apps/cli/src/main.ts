/**
 * `puma generate | classify`: runs the model owner, the client and the three parties on this machine (each
 * party in its own worker thread) and compares the secure result with the plaintext reference.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { runInThreads, parseBackendChoice } from '@puma/worker';
import { HfTokenizer, LLAMA_BOS, buildsModelInput, classifierLogits, forwardHidden, generateGreedy } from '@puma/models';
import { ensureModel, loadModel } from '@puma/models/node';
import {
  classifyClient, generateClient, greedy, logitPathError, sampler, shareWeights, type ClassifyArgs, type ClientStep, type GenerateArgs, type StepReport,
} from '@puma/models/secure';
import { CHAT_USAGE, chatCommand } from './chat.ts';
import { CLIENT_USAGE } from './client.ts';
import { DOMAIN_CHECK_OPTION, guardDomain } from './domain-guard.ts';
import { EVAL_USAGE, evalCommand } from './eval.ts';
import { IDENTITY_USAGE } from './identity.ts';
import { OWNER_USAGE } from './owner.ts';
import { PARTY_USAGE } from './party.ts';
import { PLAN_USAGE, planCommand } from './plan.ts';
import { HOST_USAGE, hostCommand } from './host.ts';
import { SESSION_COMMANDS, SESSION_USAGE } from './session.ts';
import { SHARE_USAGE } from './share.ts';

const PROGRAMS = new URL('../../../packages/models/src/secure/programs.ts', import.meta.url).href;

const USAGE = `usage:
  puma generate [--model <dir|file|name>] [--prompt <text>] [--max-new-tokens N] [--backend wasm|webgpu|auto]
                [--reveal logits|argmax] [--temperature T] [--top-k K] [--skip-domain-check] [--json]
  puma chat --model <dir|name> [--max-tokens N] [--system <text>] [--json]   (user turns on stdin, one per line)
  puma classify --model <dir|name> --text <text> [--skip-domain-check] [--json]
  puma eval --model <dir|name> --data <file> [--limit N] [--window-size W] [--json]
  puma plan --model <dir|name|shape> [--tokens N] [--new-tokens M] [--network lan|wan] [--json]
  puma share --model <dir|name> --out <dir>
  puma identity [--key <file>] [--json]
  puma session create --coordinator <url> [--model <name>] [--json]
  puma owner --coordinator <url> --session <id> (--model <dir|name> | --bundles <dir>) --parties <fp0>,<fp1>,<fp2>
             (--secret <hex> | --secret-file <file>) [--key <file>] [--sessions N]
  puma party --coordinator <url> --session <id> --party 0|1|2 (--secret <hex> | --secret-file <file>) [--key <file>]
             [--peers party1=<fp>,client=<fp>,owner=<fp>] [--backend wasm|webgpu|auto] [--cache <dir>] [--step-timeout S]
  puma host [--port P] [--host H] [--state DIR] [--models a,b,c] [--max-concurrent N] (the hosted demo; puma host --help)
  puma client --coordinator <url> --session <id> --prompt <text> --parties <fp0>,<fp1>,<fp2>
              (--secret <hex> | --secret-file <file>) [--key <file>] [--max-new-tokens N] [--json]
owner, party and client each run one endpoint of a networked session (WebRTC through the coordinator), each
with its long-term key (--key, default $PUMA_HOME/identity.json) and its slot's secret from "puma session create";
owner and client accept only the party identities listed in --parties ("puma identity" prints an endpoint's).
owner, party, client and host take --ice-servers <json|@file>, --ice-transport-policy all|relay and
--turn-secret <secret|@file> for STUN/TURN; each command's --help lists all its options.
Models are looked up by path or by name under $PUMA_MODELS (default ../shared/models). Default model: stories260K,
downloaded with checksums into $PUMA_CACHE (default ~/.cache/puma-web/models) when there is no local copy.`;

function fail(msg: string): never {
  throw new UsageError(msg);
}
class UsageError extends Error {}

function intArg(v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in [${min}, ${max}], got "${v}"`);
  return n;
}

/** Downloads a known default model (stories260K) when there is no local copy, with a progress bar. */
async function fetchIfMissing(model: string, quiet: boolean): Promise<void> {
  let bar: cliProgress.SingleBar | null = null;
  await ensureModel(model, {
    base: process.env.PUMA_DOWNLOAD_BASE,
    onProgress: (file, received, total) => {
      if (quiet) return;
      if (!bar) {
        bar = new cliProgress.SingleBar({ format: 'downloading {file} |{bar}| {value}/{total} bytes', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
        bar.start(total, 0, { file });
      }
      bar.setTotal(total);
      bar.update(received, { file });
      if (received === total) {
        bar.stop();
        bar = null;
      }
    },
  });
}

async function generate(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string', default: 'stories260K' },
      prompt: { type: 'string', default: '' },
      'max-new-tokens': { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      reveal: { type: 'string', default: 'logits' },
      temperature: { type: 'string', default: '0' },
      'top-k': { type: 'string', default: '0' },
      json: { type: 'boolean', default: false },
      ...DOMAIN_CHECK_OPTION,
    },
  });
  const backend = parseBackendChoice(values.backend);
  if (values.reveal !== 'logits' && values.reveal !== 'argmax') fail(`--reveal must be logits or argmax, got "${values.reveal}"`);
  const temperature = Number(values.temperature);
  if (!(temperature >= 0)) fail(`--temperature must be >= 0, got "${values.temperature}"`);
  const topK = intArg(values['top-k'], 'top-k', 0, 0, 1 << 20);
  // The client samples from the logits it receives; with --reveal argmax it receives only the top token.
  if (values.reveal === 'argmax' && (temperature > 0 || topK > 0)) {
    fail('--temperature and --top-k sample from the logits the client receives, and with --reveal argmax it receives only the top token: drop them, or use --reveal logits (the default)');
  }
  await fetchIfMissing(values.model!, values.json!);
  const { model, tokenizer, location } = await loadModel(values.model!);
  const c = model.config;
  if (c.arch === 'bert') fail(`${values.model} is a BERT classifier; use "puma classify"`);
  if (!tokenizer) fail(`no tokenizer files next to ${location.weights}`);
  const maxNew = intArg(values['max-new-tokens'], 'max-new-tokens', 32, 1, c.maxPositions);
  // tokenizer.json's post-processor adds the model's own BOS (LLaMA 3: 128000; Qwen2: none); legacy files: llama2.c's.
  const prompt = tokenizer instanceof HfTokenizer ? tokenizer.encodeWithSpecialTokens(values.prompt!)
    : c.arch === 'llama' ? [LLAMA_BOS, ...tokenizer.encode(values.prompt!)] : tokenizer.encode(values.prompt!);
  if (prompt.length === 0) prompt.push(c.eosTokenId ?? 0);
  if (prompt.length + maxNew > c.maxPositions) fail(`prompt (${prompt.length} tokens) + ${maxNew} new tokens exceed the model's ${c.maxPositions} positions`);

  const fracBits = DEFAULT_FRAC_BITS;
  const bundles = shareWeights(guardDomain(model, location.name, { tokenizer, skip: values['skip-domain-check'], fracBits }), location.name, fracBits);
  const bar = values.json ? null : new cliProgress.SingleBar({ format: 'secure generation |{bar}| {value}/{total} tokens | {text}', hideCursor: true }, cliProgress.Presets.shades_classic);
  const tokens: number[] = [];
  bar?.start(maxNew, 0, { text: '' });
  const t0 = performance.now();
  const run = await runInThreads<GenerateArgs, StepReport[]>({
    module: PROGRAMS,
    exportName: 'generateParty',
    args: (i) => ({ job: 0, weights: bundles[i], promptLength: prompt.length, maxNewTokens: maxNew, reveal: values.reveal as 'logits' | 'argmax' }),
    backend,
    fracBits,
    client: (ch) => generateClient(ch, {
      job: 0, prompt, vocab: c.vocabSize, maxNewTokens: maxNew, reveal: values.reveal as 'logits' | 'argmax',
      pick: temperature > 0 ? sampler(temperature, topK) : greedy,
      onToken: (s, i) => { tokens.push(s.token); bar?.update(i + 1, { text: JSON.stringify(tokenizer.decode(tokens)).slice(-40) }); },
    }),
  });
  const seconds = (performance.now() - t0) / 1000;
  bar?.stop();
  const plaintextTokens = temperature > 0 ? null : generateGreedy(model, prompt, maxNew).slice(prompt.length);
  const bytesPerParty = run.stats.map((s) => s.bytesSent);
  const steps = run.client as ClientStep[];
  const logitError = values.reveal === 'logits'
    ? logitPathError(model, prompt, steps.map((s) => ({ token: s.token, logits: s.logits! })))
    : null;
  const result = {
    text: tokenizer.decode(tokens),
    tokens,
    plaintextTokens,
    logitError,
    stats: { bytesPerParty, rounds: run.stats[0].rounds, seconds, backend: run.stats[0].backend, peakRssMiBPerParty: run.stats.map((s) => s.peakRssMiB) },
  };
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  // Decoded whole: tokenizer.json decoders strip the leading space of a piece decoded on its own.
  console.log(`\n${tokenizer.decode([...prompt, ...tokens])}\n`);
  if (plaintextTokens) console.log(`plaintext greedy tokens ${plaintextTokens.every((t, i) => t === tokens[i]) ? 'match' : 'DIFFER from'} the secure ones`);
  if (logitError) console.log(`logits along this path: max |secure - plaintext| ${logitError.maxAbsError.toFixed(5)} (step ${logitError.step}); smallest plaintext top-2 gap ${logitError.minTop2Gap.toFixed(5)} (step ${logitError.gapStep})`);
  const perStep = run.results[0];
  console.log(`cost: ${seconds.toFixed(1)} s, ${(Math.max(...bytesPerParty) / 2 ** 20).toFixed(1)} MiB sent per party (max), ${run.stats[0].rounds} rounds; per generated token after the prompt: ${perStep.length > 1 ? (perStep.slice(1).reduce((s, r) => s + r.ms, 0) / (perStep.length - 1)).toFixed(0) : '-'} ms, ${perStep.length > 1 ? perStep[1].rounds : '-'} rounds`);
}

async function classify(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, text: { type: 'string' }, json: { type: 'boolean', default: false }, ...DOMAIN_CHECK_OPTION } });
  if (!values.model) fail('classify needs --model');
  if (values.text === undefined) fail('classify needs --text');
  const { model, tokenizer, location } = await loadModel(values.model);
  if (model.weights.head.kind !== 'classifier') fail(`${values.model} has no classification head`);
  if (!buildsModelInput(tokenizer)) fail(`${values.model} needs a BERT tokenizer (tokenizer.json or a WordPiece vocab.txt)`);
  const withSpecial = tokenizer.encodeForModel(values.text, undefined, model.config.maxPositions).ids;
  const fracBits = DEFAULT_FRAC_BITS;
  const bundles = shareWeights(guardDomain(model, location.name, { tokenizer, skip: values['skip-domain-check'], fracBits }), location.name, fracBits);
  const t0 = performance.now();
  const run = await runInThreads<ClassifyArgs, { rounds: number; bytesSent: number }>({
    module: PROGRAMS,
    exportName: 'classifyParty',
    args: (i) => ({ job: 0, weights: bundles[i], length: withSpecial.length }),
    fracBits,
    client: (ch) => classifyClient(ch, { job: 0, ids: withSpecial, vocab: model.config.vocabSize }),
  });
  const logits = Array.from(run.client as Float64Array);
  const plaintextLogits = Array.from(classifierLogits(model, forwardHidden(model, withSpecial)));
  const label = greedy(Float64Array.from(logits));
  const out = { label: model.config.labels?.[label] ?? label, logits, plaintextLogits, stats: { bytesPerParty: run.stats.map((s) => s.bytesSent), rounds: run.stats[0].rounds, seconds: (performance.now() - t0) / 1000 } };
  console.log(values.json ? JSON.stringify(out) : `label: ${out.label}\nsecure logits:    ${logits.map((v) => v.toFixed(4)).join(' ')}\nplaintext logits: ${plaintextLogits.map((v) => v.toFixed(4)).join(' ')}`);
}

/** What `puma <command> --help` prints: the command's own usage (generate and classify share the top one). */
const COMMAND_USAGE: Record<string, string> = {
  generate: USAGE, classify: USAGE, chat: CHAT_USAGE, eval: EVAL_USAGE, plan: PLAN_USAGE, share: SHARE_USAGE, identity: IDENTITY_USAGE,
  session: SESSION_USAGE, owner: OWNER_USAGE, party: PARTY_USAGE, host: HOST_USAGE, client: CLIENT_USAGE,
};

/** node:util parseArgs's complaints about the command line (unknown option, missing value) are usage errors. */
const isArgumentError = (e: unknown): boolean => typeof (e as { code?: unknown })?.code === 'string' && (e as { code: string }).code.startsWith('ERR_PARSE_ARGS_');

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (cmd !== undefined && COMMAND_USAGE[cmd] !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(COMMAND_USAGE[cmd]);
    return 0;
  }
  try {
    if (cmd === 'generate') await generate(rest);
    else if (cmd === 'classify') await classify(rest);
    else if (cmd === 'eval') return await evalCommand(rest);
    else if (cmd === 'plan') return await planCommand(rest);
    else if (cmd === 'host') return await hostCommand(rest);
    else if (cmd === 'chat') return await chatCommand(rest);
    else if (cmd !== undefined && SESSION_COMMANDS.has(cmd)) return await SESSION_COMMANDS.get(cmd)!(rest);
    else fail(cmd ? `unknown command "${cmd}"` : 'no command given');
    return 0;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const usage = e instanceof UsageError || isArgumentError(e);
    console.error(usage ? `puma: ${msg}\n${cmd !== undefined ? (COMMAND_USAGE[cmd] ?? USAGE) : USAGE}` : `puma: ${msg}`);
    return usage ? 2 : 1;
  }
}
