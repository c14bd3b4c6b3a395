import { fixedInput, randomFloats, runWithInputs } from '../packages/protocol/src/test-support.ts';
import { maxLastWide } from '../packages/nn/src/max.ts';
const rows = 12 * 32, cols = 32;
const inputs = { x: fixedInput(randomFloats(rows * cols, -9, 9, 1), [rows, cols]) };
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  await runWithInputs(inputs, async (p, s) => maxLastWide(p, s.x));
  console.log('max', (performance.now() - t0).toFixed(0), 'ms');
}
