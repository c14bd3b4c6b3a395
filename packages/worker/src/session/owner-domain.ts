/**
 * The model owner page's domain check, run by its sharing worker on the model it loaded before splitting it: the
 * CLI's check and publication (models domain-publish.ts), with the model's own tokenizer when the page has one
 * (the calibration text through it, as `puma share` reads a folder's tokenizer), else a fixed spread of ids. A
 * model the check refuses is not shared unless the person opts out (the page's checkbox or
 * ?skip-domain-check=1, as --skip-domain-check), which publishes no windows: every norm on the whole ring's
 * range, and results may be wrong where the model leaves a domain.
 * The check is a plaintext pass over the calibration text (4.3 s for GPT-2-base on the owner page), and its
 * verdict depends only on the weights, the tokenizer, the fraction bits and the check itself: the page records it
 * with its kept sharing under domainCheckKey, and a later visit with the same model passes it back (`recorded`)
 * instead of running the pass again.
 */
import { DOMAIN_CHECK_VERSION, publishCheckedModel, withNormWindows, type Model, type NormWindows } from '@puma/models';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { tokenizerFromSource } from './public-info.ts';
import { sha256Hex } from './shares.ts';
import type { TokenizerSource } from './types.ts';

/**
 * The check's version in recorded verdicts: models' DOMAIN_CHECK_VERSION, bumped beside the check whenever it
 * changes, so no page reuses a verdict the current check might not give.
 */
export const DOMAIN_CHECK_FORMAT = `puma-domain-check/${DOMAIN_CHECK_VERSION}`;

/** What the page shows of the check (structured-cloneable: it crosses from the worker). `recorded`: reused, not run. */
export type OwnerDomainVerdict =
  | { outcome: 'inside'; windows: NormWindows; warning: string | null; calibration: string; ms: number; recorded?: boolean }
  | { outcome: 'refused'; reason: string; calibration: string; ms: number; recorded?: boolean }
  | { outcome: 'skipped'; warning: string };

/**
 * What a recorded verdict must match to be reused: the check's format, the weights' hash (the owner's model
 * files), the tokenizer's files (kind, names and bytes) and the fraction bits.
 */
export async function domainCheckKey(model: { weightsHash: string; tokenizer?: TokenizerSource }, fracBits = DEFAULT_FRAC_BITS): Promise<string> {
  const t = model.tokenizer;
  let tokenizer = 'none';
  if (t) {
    const names = Object.keys(t.files).sort();
    const hashes = await Promise.all(names.map((n) => sha256Hex(t.files[n])));
    tokenizer = await sha256Hex(new TextEncoder().encode(JSON.stringify([t.kind, names, hashes])));
  }
  return `${DOMAIN_CHECK_FORMAT}|${model.weightsHash}|${tokenizer}|${fracBits}`;
}

export interface OwnerDomainDecision {
  verdict: OwnerDomainVerdict;
  /** The model as it is to be shared: with its windows, or as loaded when skipped; null when refused. */
  published: Model | null;
}

export interface OwnerDomainOptions {
  /** The model's name in messages (its public id). */
  name: string;
  tokenizer?: TokenizerSource;
  /** The sharing's fraction bits: the limits and the windows' top depend on them. */
  fracBits: number;
  /** The person chose to share without the check. */
  skip: boolean;
  /** The verdict this owner recorded for the same domainCheckKey: taken instead of running the check. */
  recorded?: Exclude<OwnerDomainVerdict, { outcome: 'skipped' }>;
}

export function decideOwnerDomain(model: Model, o: OwnerDomainOptions): OwnerDomainDecision {
  if (o.skip) {
    const warning = `domain check skipped for ${o.name}: no norm windows are published, and results may be wrong where the model leaves the secure functions' domain`;
    return { verdict: { outcome: 'skipped', warning }, published: model };
  }
  const r = o.recorded;
  if (r) return { verdict: { ...r, recorded: true }, published: r.outcome === 'inside' ? withNormWindows(model, r.windows) : null };
  const tokenizer = o.tokenizer && tokenizerFromSource(o.tokenizer, model.config.vocabSize);
  const started = performance.now();
  const checked = publishCheckedModel(model, o.name, { tokenizer, fracBits: o.fracBits });
  const ms = Math.round(performance.now() - started);
  const tokens = checked.report.tokens;
  const calibration = o.tokenizer ? `${tokens} tokens of the calibration text through the model's ${o.tokenizer.kind} tokenizer` : `${tokens} ids spread over the vocabulary (no tokenizer was given)`;
  if (checked.refused !== undefined) return { verdict: { outcome: 'refused', reason: checked.refused, calibration, ms }, published: null };
  const windows = checked.model.config.normWindows ?? {};
  return { verdict: { outcome: 'inside', windows, warning: checked.warning ?? null, calibration, ms }, published: checked.model };
}

/** Whether two descriptions publish the same windows (none and an empty set alike): a kept sharing is reused only then. */
export function sameNormWindows(a: NormWindows | undefined, b: NormWindows | undefined): boolean {
  const entries = (w: NormWindows | undefined) => Object.entries(w ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  const ea = entries(a);
  const eb = entries(b);
  return ea.length === eb.length && ea.every(([name, [lo, hi]], i) => eb[i][0] === name && eb[i][1][0] === lo && eb[i][1][1] === hi);
}
