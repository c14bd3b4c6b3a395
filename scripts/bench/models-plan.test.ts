import { describe, expect, it } from 'vitest';
import { planShape } from '@puma/models/secure';
import { planFor, planVsMeasured } from './models-plan.ts';

describe('bench models: plan vs measured', () => {
  it('puts the plan beside the measurement with their ratio, and leaves out rows without a plan', () => {
    const plan = planFor(planShape('gpt2-base')!, 'generate', 32, 1);
    const measured = { id: 'gpt2-base', rounds: plan.rounds, bytesPerParty: plan.bytesPerParty.map((b) => b / 2), peakPartyMiB: [plan.peakMiBPerParty * 2], wallMs: plan.computeSeconds * 4000 };
    const lines = planVsMeasured([{ ...measured, plan }, { ...measured, id: 'old-row' }]).join('\n').split('\n');
    expect(lines[0]).toBe('## Plan vs measured');
    const row = lines.find((l) => l.startsWith('| gpt2-base'))!;
    const cells = row.split('|').map((c) => c.trim()).slice(1, -1);
    // ratio columns: rounds, bytes, memory, time
    expect([cells[3], cells[6], cells[9], cells[12]]).toEqual(['1.00', '2.00', '0.50', '0.25']);
    expect(lines.some((l) => l.includes('old-row'))).toBe(false);
    expect(planVsMeasured([measured])).toEqual([]);
  });

  it('plans the weight cache the run was given: a cap of 0 streams every pass and plans no cache', () => {
    const c = planShape('gpt2-base')!;
    const cached = planFor(c, 'generate', 32, 1);
    const streamed = planFor(c, 'generate', 32, 1, 0);
    expect((cached.peakMiBPerParty - streamed.peakMiBPerParty) * 2 ** 20).toBe(384 * 2 ** 20);
  });
});
