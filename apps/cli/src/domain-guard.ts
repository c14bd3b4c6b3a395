/**
 * The owner's domain check before sharing (models domain-check.ts): a model whose calibration pass leaves the
 * secure pass's domain is refused with the reason, unless the user asks to go on (`--skip-domain-check`); one
 * that comes close gets a warning on stderr. Runs the float64 model once on about 32 tokens.
 */
import { assertDomain, checkDomain, type Model, type Tokenizer } from '@puma/models';

export const DOMAIN_CHECK_OPTION = { 'skip-domain-check': { type: 'boolean', default: false } } as const;

export function guardDomain(model: Model, name: string, o: { tokenizer?: Tokenizer; skip?: boolean; fracBits?: number }): void {
  if (o.skip) {
    console.error(`puma: domain check skipped for ${name} (--skip-domain-check): results may be wrong where the model leaves the secure functions' domain`);
    return;
  }
  const warning = assertDomain(checkDomain(model, { tokenizer: o.tokenizer, fracBits: o.fracBits }), name);
  if (warning) console.error(`puma: warning: ${warning}`);
}
