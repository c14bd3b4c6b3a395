/**
 * The live chart of the visitor page (uPlot): per generated token, the milliseconds this page waited for it (left
 * axis) and the KiB each party sent for it (right axis), as the parties report them. The first token carries the
 * whole prompt, so it stands out; later ones show the steady per-token cost.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const HEIGHT = 220;
const PARTY_COLORS = ['#1f77b4', '#2ca02c', '#9467bd'];

export class CostChart {
  private readonly plot: uPlot;
  private readonly tokens: number[] = [];
  private readonly ms: number[] = [];
  private readonly kib: [number[], number[], number[]] = [[], [], []];

  constructor(private readonly container: HTMLElement) {
    const party = (i: number): uPlot.Series => ({ label: `party ${i} KiB`, scale: 'kib', stroke: PARTY_COLORS[i], width: 1.5, value: (_u, v) => (v == null ? '-' : v.toFixed(1)) });
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        scales: { x: { time: false }, ms: {}, kib: {} },
        axes: [
          // Tokens are whole numbers: no ticks between them.
          { label: 'token', incrs: [1, 2, 5, 10, 20, 50, 100] },
          { scale: 'ms', label: 'ms per token' },
          { scale: 'kib', side: 1, label: 'KiB sent per party', grid: { show: false } },
        ],
        series: [
          { label: 'token' },
          { label: 'ms', scale: 'ms', stroke: '#c0392b', width: 2, value: (_u, v) => (v == null ? '-' : v.toFixed(0)) },
          party(0),
          party(1),
          party(2),
        ],
        cursor: { drag: { x: false, y: false } },
      },
      this.data(),
      container,
    );
    addEventListener('resize', () => this.plot.setSize({ width: this.width(), height: HEIGHT }));
  }

  clear(): void {
    for (const a of [this.tokens, this.ms, ...this.kib]) a.length = 0;
    this.plot.setData(this.data());
  }

  /** One generated token: how long it took and the bytes each party sent for it. */
  add(ms: number, bytesPerParty: readonly number[]): void {
    this.tokens.push(this.tokens.length + 1);
    this.ms.push(ms);
    this.kib.forEach((series, i) => series.push((bytesPerParty[i] ?? 0) / 1024));
    this.plot.setData(this.data());
  }

  private data(): uPlot.AlignedData {
    return [this.tokens, this.ms, ...this.kib];
  }

  private width(): number {
    return Math.max(280, this.container.clientWidth || 600);
  }
}
