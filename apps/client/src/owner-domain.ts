/**
 * The owner page's domain check step, between loading the model and offering it: the sharing worker runs the
 * owner's check (worker session/owner-domain.ts, the CLI's check and norm windows) on the model it loaded. A
 * model inside every domain is offered with its norm windows published; one the check refuses is not offered:
 * the page shows the reason and waits for the person to choose sharing it anyway (a checkbox to tick, then a
 * button), which publishes no windows and says results may be wrong. `?skip-domain-check=1` skips the check
 * from the start, as `puma share --skip-domain-check` does.
 */
import type { OwnerDomainVerdict } from '@puma/worker/session';

/** The page's elements of the step. */
export interface DomainStepView {
  /** One line: the verdict, the calibration it ran on, its time, the windows published. */
  summary: HTMLElement;
  /** Shown when the check refuses the model: the reason (role=alert). */
  refusal: HTMLElement;
  /** The opt-out, shown with the refusal: a checkbox the person must tick, and the button it enables. */
  optOut: HTMLElement;
  optOutBox: HTMLInputElement;
  optOutButton: HTMLButtonElement;
}

/** `?skip-domain-check=1` (or 0); anything else is refused by name rather than read as either. */
export function skipDomainCheckParam(params: URLSearchParams): boolean {
  const v = params.get('skip-domain-check');
  if (v === null || v === '0') return false;
  if (v === '1') return true;
  throw new Error(`?skip-domain-check must be 1 (skip the owner's domain check) or 0, got ${JSON.stringify(v)}`);
}

function describe(v: OwnerDomainVerdict): string {
  if (v.outcome === 'skipped') return `skipped: ${v.warning}`;
  const took = v.recorded
    ? `as recorded with this model's kept sharing (the check took ${(v.ms / 1000).toFixed(1)} s then)`
    : `(${(v.ms / 1000).toFixed(1)} s)`;
  if (v.outcome === 'refused') return `refused on ${v.calibration} ${took}`;
  const norms = Object.keys(v.windows).length;
  return `inside every domain on ${v.calibration} ${took}; norm windows published for ${norms} norm${norms === 1 ? '' : 's'}` +
    (v.warning ? `; warning: ${v.warning}` : '');
}

/** Resolves when the person has ticked the opt-out and pressed its button. */
function optedOut(view: DomainStepView): Promise<void> {
  view.optOut.hidden = false;
  view.optOutBox.checked = false;
  view.optOutButton.disabled = true;
  view.optOutBox.addEventListener('change', () => (view.optOutButton.disabled = !view.optOutBox.checked));
  return new Promise((resolve) => {
    view.optOutButton.addEventListener('click', () => {
      if (!view.optOutBox.checked) return;
      view.optOut.hidden = true;
      resolve();
    });
  });
}

/**
 * Runs the check (`check`: the sharing worker's) and settles what is offered. `onVerdict` sees each verdict as it
 * comes (a refusal before the person's choice, then the skip); `onRefused` is told when the page waits on them.
 * Resolves with the verdict the sharing goes ahead under: inside, or skipped.
 */
export async function settleDomain(
  check: (o: { skip: boolean }) => Promise<OwnerDomainVerdict>, skip: boolean, view: DomainStepView,
  on: { verdict(v: OwnerDomainVerdict): void; refused(reason: string): void },
): Promise<OwnerDomainVerdict> {
  const shown = (v: OwnerDomainVerdict) => {
    on.verdict(v);
    view.summary.textContent = describe(v);
    return v;
  };
  const first = shown(await check({ skip }));
  if (first.outcome !== 'refused') return first;
  view.refusal.textContent = `The model is not offered to the parties: ${first.reason}. Reload the page to pick another model, or share this one ` +
    'anyway below (no norm windows are published, and the results may be wrong).';
  view.refusal.hidden = false;
  on.refused(first.reason);
  await optedOut(view);
  const skipped = shown(await check({ skip: true }));
  view.refusal.textContent = `Shared at your choice although the domain check refused the model, so the results may be wrong: ${first.reason}.`;
  return skipped;
}
