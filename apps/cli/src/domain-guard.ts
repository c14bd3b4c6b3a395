/**
 * The owner's domain check before sharing (models domain-publish.ts, the same path as the owner page's): a model
 * whose calibration pass leaves the secure pass's domain is refused with the reason, unless the user asks to go
 * on (`--skip-domain-check`); one that comes close gets a warning on stderr. Runs the float64 model once on
 * about 32 tokens. The same pass gives the norm windows the owner publishes with the model (models
 * norm-windows.ts: each norm's row variance range widened by 8 octaves each side, 1 round fewer per norm);
 * skipping the check publishes none (every norm on the whole ring's range, as before).
 */
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { publishCheckedModel, type Model, type Tokenizer } from '@puma/models';

export const DOMAIN_CHECK_OPTION = { 'skip-domain-check': { type: 'boolean', default: false } } as const;

/** The checked model with its norm windows published in its description (config.normWindows). */
export function guardDomain<M extends Model>(model: M, name: string, o: { tokenizer?: Tokenizer; skip?: boolean; fracBits?: number }): M {
  if (o.skip) {
    console.error(`puma: domain check skipped for ${name} (--skip-domain-check): results may be wrong where the model leaves the secure functions' domain`);
    return model;
  }
  const checked = publishCheckedModel(model, name, { tokenizer: o.tokenizer, fracBits: o.fracBits ?? DEFAULT_FRAC_BITS });
  if (checked.refused !== undefined) throw new Error(checked.refused);
  if (checked.warning) console.error(`puma: warning: ${checked.warning}`);
  return checked.model;
}
