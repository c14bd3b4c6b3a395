import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { CpuMeter, cpuSpent, formatCores, machineBusySeconds, sampleCpu } from './process-cpu.ts';

/** Keeps this thread busy for `ms`. */
function spin(ms: number): number {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  return x;
}

describe.runIf(os.platform() === 'linux')('process CPU from /proc', () => {
  it('counts this process as node, and what it spends between samples', () => {
    const before = sampleCpu();
    expect([...before.keys()].some((k) => k === `node ${process.pid}`)).toBe(true);
    spin(300);
    const spent = cpuSpent(before, sampleCpu());
    // Clock ticks are 10 ms; a loaded machine may run this thread less than the whole 300 ms.
    expect(spent.node).toBeGreaterThan(0.05);
    expect(spent.node).toBeLessThan(5);
  });

  it('counts the machine busy at least while this thread spins, and formats cores per kind', () => {
    const meter = new CpuMeter();
    const busyBefore = machineBusySeconds();
    spin(300);
    expect(machineBusySeconds() - busyBefore).toBeGreaterThan(0.05);
    const r = meter.read();
    expect(r.treeCores.node).toBeGreaterThan(0.1);
    expect(r.machineCores).toBeGreaterThanOrEqual(r.treeCores.node - 0.1);
    expect(formatCores(r)).toMatch(/^session \d+\.\d\d cores \(node \d+\.\d\d.*\) of \d+\.\d\d busy on the machine$/);
  });
});
