import { describe, expect, it } from 'vitest';
import { decodeFixed, encodeFixed } from '@puma/ring';
import { receiveFromParties, sendInput } from '@puma/protocol';
import { runInThreads } from './threads.ts';

const FIXTURES = new URL('./fixtures/programs.ts', import.meta.url).href;

describe('parties in worker threads', () => {
  it('square a client input and reveal it to the client only', async () => {
    const x = [1.5, -2, 0.25, 3];
    const run = await runInThreads<{ n: number }, number>({
      module: FIXTURES,
      exportName: 'squareForClient',
      args: () => ({ n: x.length }),
      client: async (c) => {
        sendInput(c, 'x', encodeFixed(x));
        return decodeFixed(await receiveFromParties(c, 'y'));
      },
    });
    expect(Array.from(run.client as Float64Array)).toEqual(x.map((v) => v * v));
    // input 1 + mul with truncation 2 + reveal to the client 1
    expect(run.results).toEqual([4, 4, 4]);
    expect(run.stats.every((s) => s.bytesSent > 0 && s.peakRssMiB > 0)).toBe(true);
  });

  it("a party's error reaches the caller with its message", async () => {
    await expect(runInThreads({ module: FIXTURES, exportName: 'failOnParty1', args: () => ({}) })).rejects.toThrow(/party 1: deliberate failure/);
  });
});
