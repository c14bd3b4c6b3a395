/** Declared communication cost of one protocol operation: rounds and bytes sent by each party. */
export interface Cost {
  rounds: number;
  /** Bytes sent by party 0, 1, 2 (to other parties and to the client). */
  bytes: [number, number, number];
}

export const WORD = 8;

export function cost(rounds: number, b0: number, b1: number, b2: number): Cost {
  return { rounds, bytes: [b0, b1, b2] };
}

/** Sequential composition: rounds and bytes add. */
export function seq(...cs: Cost[]): Cost {
  return {
    rounds: cs.reduce((s, c) => s + c.rounds, 0),
    bytes: [0, 1, 2].map((i) => cs.reduce((s, c) => s + c.bytes[i], 0)) as [number, number, number],
  };
}

export function maxBytes(c: Cost): number {
  return Math.max(...c.bytes);
}
