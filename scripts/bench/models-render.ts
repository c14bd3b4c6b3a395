/** Rendering for the model bench: markdown tables and a hand-written SVG bar chart of cost per layer. */

export function markdownTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  for (const r of rows) if (r.length !== headers.length) throw new Error(`table row has ${r.length} cells, header ${headers.length}`);
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  const line = (r: readonly string[]) => `| ${r.map(esc).join(' | ')} |`;
  return [line(headers), `|${headers.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface ChartRow {
  label: string;
  bytes: number;
  ms: number;
}

const ROW_H = 18;
const LABEL_W = 120;
const PANEL_W = 300;
const VALUE_W = 70;
const TOP = 48;

/**
 * Two horizontal bar panels side by side, one row per layer-level span: bytes sent by the busiest party (MB)
 * and wall time (s), each panel scaled to its own maximum.
 */
export function layerChartSvg(title: string, rows: readonly ChartRow[]): string {
  if (rows.length === 0) throw new Error('chart needs at least one row');
  for (const r of rows) if (!(r.bytes >= 0) || !(r.ms >= 0)) throw new Error(`chart row ${r.label}: bytes and ms must be non-negative numbers`);
  const width = LABEL_W + 2 * (PANEL_W + VALUE_W) + 20;
  const height = TOP + rows.length * ROW_H + 16;
  const panels = [
    { x: LABEL_W, heading: 'MB sent (busiest party)', value: (r: ChartRow) => r.bytes / 1e6, fill: '#4e79a7', digits: 2 },
    { x: LABEL_W + PANEL_W + VALUE_W + 10, heading: 'seconds (wall)', value: (r: ChartRow) => r.ms / 1000, fill: '#f28e2b', digits: 3 },
  ];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="8" y="18" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (const p of panels) {
    const max = Math.max(...rows.map(p.value));
    out.push(`<text x="${p.x}" y="${TOP - 8}" font-weight="bold">${escapeXml(p.heading)}</text>`);
    rows.forEach((r, i) => {
      const v = p.value(r);
      const w = max > 0 ? (v / max) * PANEL_W : 0;
      const y = TOP + i * ROW_H;
      out.push(`<rect x="${p.x}" y="${y + 2}" width="${w.toFixed(1)}" height="${ROW_H - 4}" fill="${p.fill}"/>`);
      out.push(`<text x="${(p.x + w + 4).toFixed(1)}" y="${y + ROW_H - 5}">${v.toFixed(p.digits)}</text>`);
    });
  }
  rows.forEach((r, i) => out.push(`<text x="8" y="${TOP + i * ROW_H + ROW_H - 5}">${escapeXml(r.label)}</text>`));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
