/**
 * "Plan vs measured" for the model bench: what `puma plan` (packages/models/src/secure/plan.ts) estimates for
 * each workload, before it runs, beside what the run measured, with the ratio. Rounds and bytes come from the
 * ops' declared costs and should match to the message; memory and time are the plan's models with stated
 * constants (time here without a network: the three parties share this machine).
 */
import { planInference, type InferencePlan, type PlanWorkload } from '@puma/models/secure';
import type { ModelConfig } from '@puma/models';
import { markdownTable } from './models-render.ts';

/** The plan's figures kept in a workload's result. */
export interface PlanFigures {
  rounds: number;
  bytesPerParty: [number, number, number];
  peakMiBPerParty: number;
  computeSeconds: number;
}

/** `weightCacheBytes`: the parties' weight cache cap, as the run sets it (undefined: the default). */
export function planFor(c: ModelConfig, kind: 'generate' | 'classify', tokens: number, newTokens: number, weightCacheBytes?: number): PlanFigures {
  const w: PlanWorkload = kind === 'classify' ? { kind, tokens } : { kind, promptTokens: tokens, newTokens, reveal: 'logits' };
  const p: InferencePlan = planInference(c, w, undefined, undefined, undefined, weightCacheBytes);
  return { rounds: p.rounds, bytesPerParty: p.bytesPerParty, peakMiBPerParty: p.memory.maxPerParty / 2 ** 20, computeSeconds: p.computeSeconds };
}

interface Measured {
  id: string;
  rounds: number;
  bytesPerParty: number[];
  peakPartyMiB: number[];
  wallMs: number;
  plan?: PlanFigures;
}

const ratio = (planned: number, measured: number) => (measured > 0 ? `${(planned / measured).toFixed(2)}` : '—');

/** The markdown section; rows without a plan (a result from before plans existed) are left out. */
export function planVsMeasured(results: readonly Measured[]): string[] {
  const rows = results.filter((r) => r.plan);
  if (rows.length === 0) return [];
  return [
    '## Plan vs measured',
    '',
    'What `puma plan` estimates before anything runs, beside this run. Rounds and bytes (busiest party): the declared costs of the ops the secure pass runs. Peak memory per party and compute time: the plan\'s models (packages/models/src/secure/plan.ts states their constants); time is compared with the measured wall time on this machine.',
    '',
    markdownTable(
      ['workload', 'rounds plan', 'measured', 'ratio', 'MB/party plan', 'measured', 'ratio', 'peak MiB/party plan', 'measured', 'ratio', 'time s plan', 'measured', 'ratio'],
      rows.map((r) => {
        const p = r.plan!;
        const bytes = Math.max(...p.bytesPerParty);
        const measuredBytes = Math.max(...r.bytesPerParty);
        const mem = Math.max(...r.peakPartyMiB);
        return [
          r.id, p.rounds.toLocaleString('en-US'), r.rounds.toLocaleString('en-US'), ratio(p.rounds, r.rounds),
          (bytes / 1e6).toFixed(1), (measuredBytes / 1e6).toFixed(1), ratio(bytes, measuredBytes),
          p.peakMiBPerParty.toFixed(0), mem.toFixed(0), ratio(p.peakMiBPerParty, mem),
          p.computeSeconds.toFixed(2), (r.wallMs / 1000).toFixed(2), ratio(p.computeSeconds * 1000, r.wallMs),
        ];
      }),
    ),
    '',
  ];
}
