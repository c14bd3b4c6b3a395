import { describe, expect, it } from 'vitest';
import { escapeXml, layerChartSvg, markdownTable } from './models-render.ts';

describe('markdownTable', () => {
  it('writes a header, a separator and escaped rows', () => {
    expect(markdownTable(['a', 'b'], [['1', 'x|y']])).toBe('| a | b |\n|---|---|\n| 1 | x\\|y |');
  });
  it('rejects a row with the wrong number of cells', () => {
    expect(() => markdownTable(['a', 'b'], [['1']])).toThrow(/1 cells, header 2/);
  });
});

describe('layerChartSvg', () => {
  const svg = layerChartSvg('t <1>', [{ label: 'layer 0', bytes: 2e6, ms: 500 }, { label: 'a&b', bytes: 1e6, ms: 1000 }]);
  it('draws one bar per row in each panel, the largest full width', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(4);
    expect(svg).toContain('width="300.0"'); // 2 MB, the bytes maximum
    expect(svg).toContain('width="150.0"'); // 1 MB, and 500 ms of 1000 ms
    expect(svg).toContain('>2.00<');
    expect(svg).toContain('>1.000<');
  });
  it('escapes labels and title', () => {
    expect(svg).toContain('t &lt;1&gt;');
    expect(svg).toContain('a&amp;b');
    expect(escapeXml('"')).toBe('&quot;');
  });
  it('rejects empty input and negative values', () => {
    expect(() => layerChartSvg('t', [])).toThrow(/at least one row/);
    expect(() => layerChartSvg('t', [{ label: 'x', bytes: -1, ms: 0 }])).toThrow(/non-negative/);
  });
});
