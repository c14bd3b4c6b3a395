/**
 * `puma plan`: what a secure inference will cost before anything runs (packages/models/src/secure/plan.ts):
 * memory, disk, bytes and rounds per party and projected time, for a model folder or a named shape.
 */
import { parseArgs } from 'node:util';
import type { ModelConfig } from '@puma/models';
import { MATMUL_MACS_PER_S, NONLINEAR_WORDS_PER_S, PLAN_NETWORKS, WASM_FLOOR_BYTES, planInference, type InferencePlan, type PlanWorkload } from '@puma/models/secure';
import { loadModel } from '@puma/models/node';
import { DOMAIN_CHECK_OPTION, guardDomain } from './domain-guard.ts';
import { resolvePlanModel } from './plan-model.ts';
import { intOption, required, runCommand, usageError } from './session-endpoint.ts';

export const PLAN_USAGE = `usage: puma plan --model <dir|file|name|shape> [--tokens N] [--new-tokens M] [--reveal logits|argmax]
                 [--network lan|wan] [--skip-domain-check] [--json]
  Estimates one secure inference before running it: memory, disk (share bundle), bytes and rounds per party,
  and the projected time on the network. Shapes: gpt2-base, bert-base, llama2-7b; or any model folder (its
  config.json or llama2.c header; its weights only as below). --tokens: prompt tokens (language models, default 32)
  or the sequence length (classifiers, default 128); --new-tokens: generated tokens (default 1).
  Rounds and bytes come from the declared costs of the ops the secure pass runs; memory and time are models
  with stated constants (see the output), checked against measured runs by npm run bench -- models.
  A model folder of up to 500 M weights is loaded once for the owner's calibration pass, whose norm windows puma
  share publishes (fewer rounds per norm); a larger one, one the check refuses, and --skip-domain-check plan
  without windows (said on stderr), as such a share runs. A shape has no weights: its norms plan on the whole
  ring's range.`;

/** Largest model (weight elements) whose float weights plan loads for the calibration: about 2 GB as float32. */
const CALIBRATION_ELEMENTS = 500e6;

const mem = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const traffic = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(3)} GB` : `${(b / 1e6).toFixed(2)} MB`);

function text(name: string, plan: InferencePlan): string {
  const w = plan.workload;
  const what = w.kind === 'generate' ? `${w.promptTokens} prompt tokens → ${w.newTokens} generated (${w.reveal ?? 'logits'} revealed)` : `one ${w.tokens}-token sequence classified`;
  const m = plan.memory;
  return [
    `plan for ${name}: ${what}`,
    `  weights:          ${(plan.weightElements / 1e6).toFixed(1)} M secure elements`,
    `  rounds:           ${plan.rounds.toLocaleString('en-US')}`,
    `  bytes per party:  ${plan.bytesPerParty.map(traffic).join(' / ')} (max ${traffic(plan.maxBytesPerParty)})`,
    `  disk per party:   ${plan.diskPerParty.map(mem).join(' / ')} (share bundles of parties 0 / 1 / 2)`,
    `  memory per party: ${mem(m.maxPerParty)} peak = baseline ${mem(m.baseline)} + weight cache ${mem(m.weightCache)} + store part ${mem(m.storePart)}`,
    `                    + WebAssembly ${mem(m.webAssembly)} (weight blocks ${mem(m.weightBlocks)} + KV cache ${mem(m.kvCache)} + one-hot input ${mem(m.oneHotInput)} + largest nonlinear op ${mem(m.activations)}, at least ${mem(WASM_FLOOR_BYTES)})`,
    `  compute:          ${plan.computeSeconds.toFixed(2)} s (${(plan.macs / 1e9).toFixed(2)} G multiply-adds)`,
    `  projected time:   ${plan.projectedSeconds.toFixed(2)} s on ${plan.network.name}`,
    `  (compute = 2 × multiply-adds / ${MATMUL_MACS_PER_S / 1e9} G/s + words sent / ${NONLINEAR_WORDS_PER_S / 1e6} M/s; time = compute + rounds × RTT + bytes / bandwidth;`,
    `   weights streamed from the party's store in blocks, as a party with a share store runs. Rounds and bytes are the ops' declared costs.)`,
  ].join('\n');
}

/**
 * The config with the norm windows the owner would publish for this model folder (domain-guard.ts), or why it
 * plans without them: too many weights to load for a plan, or a model the owner's check refuses.
 */
async function withPublishedWindows(nameOrPath: string, name: string, c: ModelConfig, elements: number): Promise<{ config: ModelConfig; without?: string }> {
  if (elements > CALIBRATION_ELEMENTS) {
    return { config: c, without: `${(elements / 1e6).toFixed(0)} M weights are more than plan loads for the calibration (${CALIBRATION_ELEMENTS / 1e6} M)` };
  }
  const { model, tokenizer } = await loadModel(nameOrPath);
  try {
    return { config: { ...c, normWindows: guardDomain(model, name, { tokenizer }).config.normWindows } };
  } catch (e) {
    return { config: c, without: (e as Error).message };
  }
}

export function planCommand(argv: string[]): Promise<number> {
  return runCommand('plan', PLAN_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' }, tokens: { type: 'string' }, 'new-tokens': { type: 'string' }, reveal: { type: 'string', default: 'logits' },
        network: { type: 'string', default: 'lan' }, json: { type: 'boolean', default: false }, ...DOMAIN_CHECK_OPTION,
      },
    });
    const network = values.network!;
    if (network !== 'lan' && network !== 'wan') usageError(`--network must be lan or wan, got "${network}"`);
    if (values.reveal !== 'logits' && values.reveal !== 'argmax') usageError(`--reveal must be logits or argmax, got "${values.reveal}"`);
    const model = await resolvePlanModel(required(values.model, 'model'));
    let c = model.config;
    let workload: PlanWorkload;
    if (c.arch === 'bert') {
      if (values['new-tokens'] !== undefined) usageError(`${model.name} is a BERT classifier: it generates nothing (drop --new-tokens)`);
      workload = { kind: 'classify', tokens: intOption(values.tokens, 'tokens', Math.min(128, c.maxPositions), 1, c.maxPositions) };
    } else {
      const promptTokens = intOption(values.tokens, 'tokens', Math.min(32, c.maxPositions - 1), 1, c.maxPositions - 1);
      const newTokens = intOption(values['new-tokens'], 'new-tokens', 1, 1, c.maxPositions - promptTokens);
      workload = { kind: 'generate', promptTokens, newTokens, reveal: values.reveal };
    }
    if (model.source !== 'shape' && !values['skip-domain-check']) {
      const published = await withPublishedWindows(values.model!, model.name, c, planInference(c, workload).weightElements);
      if (published.without) console.error(`puma plan: planned without norm windows (every norm on the ring's whole range): ${published.without}`);
      c = published.config;
    }
    const plan = planInference(c, workload, PLAN_NETWORKS[network]);
    if (values.json) console.log(JSON.stringify({ model: model.name, source: model.source, config: c, ...plan }));
    else console.log(text(model.name, plan));
  });
}
