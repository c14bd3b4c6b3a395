/**
 * Where a job step's time went inside a party, for the party's status line and the browsers bench: the weight
 * handling the step did (store reads, copies, sha256, PRG expansion, uploads, the streamed matmuls' local
 * products; models/secure WeightTimes) and the step's profile spans, layers opened up and their ops summed over
 * the layers (each op's wall time, its rounds and waiting on peers included). Figures are differences between two snapshots taken at step boundaries.
 */
import type { WeightTimes } from '@puma/models/secure';
import type { SpanStats } from '@puma/protocol';

export interface PassSnapshot {
  weights: WeightTimes | null;
  spans: Map<string, number>;
}

/** Layer spans ("layer 3") are opened up and their children summed by name over the layers. */
export function passSnapshot(weights: WeightTimes | undefined, root: SpanStats): PassSnapshot {
  const spans = new Map<string, number>();
  const add = (name: string, ms: number) => spans.set(name, (spans.get(name) ?? 0) + ms);
  for (const c of root.children.values()) {
    if (!/^layer \d+$/.test(c.name)) {
      add(c.name, c.ms);
      continue;
    }
    let inside = 0;
    for (const g of c.children.values()) {
      add(g.name, g.ms);
      inside += g.ms;
    }
    add('layer rest', c.ms - inside);
  }
  return { weights: weights ? { ...weights } : null, spans };
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One line: the step's weight work, then its `top` costliest top-level spans. */
export function describeStep(before: PassSnapshot, after: PassSnapshot, top = 6): string {
  const parts: string[] = [];
  const a = after.weights;
  const b = before.weights;
  if (a && b) {
    const d = (k: keyof WeightTimes) => a[k] - b[k];
    const reused = d('partsReused') > 0 ? `, ${(d('bytesReused') / 1e6).toFixed(0)} MB in ${d('partsReused')} parts as the download verified them` : '';
    parts.push(`weights: waited ${s(d('waitMs'))} for reads (store ${s(d('storeMs'))}, ${(d('bytesRead') / 1e6).toFixed(0)} MB in ${d('partsRead')} parts${reused}; ` +
      `copy ${s(d('copyMs'))}; sha256 ${s(d('hashMs'))}), expand ${s(d('expandMs'))} (${(d('wordsExpanded') / 1e6).toFixed(1)} M words), ` +
      `upload ${s(d('uploadMs'))}, cache copy ${s(d('offerMs'))}, local matmul ${s(d('matmulMs'))}`);
  }
  const spans = [...after.spans].map(([name, ms]) => [name, ms - (before.spans.get(name) ?? 0)] as const).filter(([, ms]) => ms > 0);
  spans.sort((x, y) => y[1] - x[1]);
  if (spans.length) parts.push(`ops: ${spans.slice(0, top).map(([name, ms]) => `${name} ${s(ms)}`).join(', ')}`);
  return parts.join('; ');
}
