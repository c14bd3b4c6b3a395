/**
 * The owner's domain check before sharing (models domain-check.ts): a model whose calibration pass leaves the
 * secure pass's domain is refused with the reason, unless the user asks to go on (`--skip-domain-check`); one
 * that comes close gets a warning on stderr. Runs the float64 model once on about 32 tokens. The same pass
 * gives the norm windows the owner publishes with the model (models norm-windows.ts: each norm's row variance
 * range widened by 8 octaves each side, 1 round fewer per norm); skipping the check publishes none (every
 * norm on the whole ring's range, as before).
 */
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { assertDomain, checkDomain, windowsFromRanges, withNormWindows, type Model, type Tokenizer } from '@puma/models';

export const DOMAIN_CHECK_OPTION = { 'skip-domain-check': { type: 'boolean', default: false } } as const;

/** The checked model with its norm windows published in its description (config.normWindows). */
export function guardDomain<M extends Model>(model: M, name: string, o: { tokenizer?: Tokenizer; skip?: boolean; fracBits?: number }): M {
  if (o.skip) {
    console.error(`puma: domain check skipped for ${name} (--skip-domain-check): results may be wrong where the model leaves the secure functions' domain`);
    return model;
  }
  const fracBits = o.fracBits ?? DEFAULT_FRAC_BITS;
  const report = checkDomain(model, { tokenizer: o.tokenizer, fracBits });
  const warning = assertDomain(report, name);
  if (warning) console.error(`puma: warning: ${warning}`);
  return withNormWindows(model, windowsFromRanges(model.config, report.normRanges, fracBits));
}
