/**
 * The owner's domain check and the description it publishes, one code path for every owner: the CLI (apps/cli
 * domain-guard.ts: puma share, generate, classify, chat, owner, plan) and the owner page's sharing worker
 * (worker session/owner-domain.ts). The calibration pass of domain-check.ts refuses a model that leaves a domain
 * (the refusal names the quantity, where and by how much), warns on one within the margin, and gives each
 * norm's row variance range, published widened as config.normWindows (norm-windows.ts windowsFromRanges).
 * Deterministic: the calibration ids come from a fixed text through the model's tokenizer (or a fixed spread of
 * ids without one), and the pass is float64 arithmetic in a fixed order, so the same weights, tokenizer and
 * fraction bits give the same windows on every run (an owner page's kept sharing stays the one it would publish).
 */
import { checkDomain, domainVerdict, type DomainReport } from './domain-check.ts';
import { windowsFromRanges, withNormWindows } from './norm-windows.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { Model } from './types.ts';

export type CheckedModel<M extends Model> =
  /** Why the model may not be shared: the quantities that left their domain. */
  | { refused: string; report: DomainReport }
  /** The model with its norm windows in its description (config.normWindows); a warning when it came close. */
  | { refused?: undefined; model: M; warning?: string; report: DomainReport };

/**
 * Runs the owner's check on `model` (called `name` in messages) and, when it passes, publishes its windows.
 * `fracBits` is the sharing's: the limits and the windows' top depend on it.
 */
export function publishCheckedModel<M extends Model>(model: M, name: string, o: { tokenizer?: Tokenizer; fracBits: number }): CheckedModel<M> {
  const report = checkDomain(model, { tokenizer: o.tokenizer, fracBits: o.fracBits });
  const { refused, warning } = domainVerdict(report, name);
  if (refused !== undefined) return { refused, report };
  const published = withNormWindows(model, windowsFromRanges(model.config, report.normRanges, o.fracBits));
  return warning === undefined ? { model: published, report } : { model: published, warning, report };
}
