/**
 * Readers of Hugging Face config.json fields, shared by the GPT-2/BERT and LLaMA-family config parsers: each
 * takes the field's documented default when it is absent, and a wrong type is an error naming the file and key.
 */
export type Json = Record<string, unknown>;

export function asObject(json: unknown, source: string): Json {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: config must be a JSON object`);
  return json as Json;
}

export function posInt(cfg: Json, key: string, source: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new Error(`${source}: "${key}" must be a positive integer, got ${JSON.stringify(cfg[key])}`);
  }
  return v;
}

export function posNumber(cfg: Json, key: string, source: string, fallback: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new Error(`${source}: "${key}" must be a positive number, got ${JSON.stringify(cfg[key])}`);
  }
  return v;
}
