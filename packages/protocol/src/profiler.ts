/**
 * Nestable profile of protocol work: per span name, calls, rounds on the critical path, bytes this party sent,
 * and wall time. Spans nest (a GeLU shows its comparisons and multiplications).
 */
export interface SpanStats {
  name: string;
  calls: number;
  rounds: number;
  bytesSent: number;
  ms: number;
  children: Map<string, SpanStats>;
}

export function newSpan(name: string): SpanStats {
  return { name, calls: 0, rounds: 0, bytesSent: 0, ms: 0, children: new Map() };
}

export function childSpan(parent: SpanStats, name: string): SpanStats {
  let s = parent.children.get(name);
  if (!s) {
    s = newSpan(name);
    parent.children.set(name, s);
  }
  return s;
}

export interface FlatSpan {
  path: string;
  calls: number;
  rounds: number;
  bytesSent: number;
  ms: number;
}

export function flattenSpans(root: SpanStats, prefix = ''): FlatSpan[] {
  const out: FlatSpan[] = [];
  for (const c of root.children.values()) {
    const path = prefix ? `${prefix}/${c.name}` : c.name;
    out.push({ path, calls: c.calls, rounds: c.rounds, bytesSent: c.bytesSent, ms: c.ms });
    out.push(...flattenSpans(c, path));
  }
  return out;
}

export function spanToJSON(s: SpanStats): unknown {
  return {
    name: s.name,
    calls: s.calls,
    rounds: s.rounds,
    bytesSent: s.bytesSent,
    ms: Math.round(s.ms * 1000) / 1000,
    children: [...s.children.values()].map(spanToJSON),
  };
}
