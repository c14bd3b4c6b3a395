/**
 * Sharded safetensors checkpoints: `model.safetensors.index.json` maps every tensor name to the shard file
 * that holds it ({"metadata": {...}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors", ...}}).
 * The index is checked against the shards when they are joined: a tensor the index names must be in its
 * shard, and a shard must hold no tensor the index does not send to it, so a stale or mixed-up folder fails
 * at load time naming the index, the shard and the tensor.
 */
import type { SafetensorsEntry, SafetensorsFile } from './safetensors.ts';
import type { TensorFile } from './tensor-file.ts';
import type { Tensor } from './types.ts';

export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';

/** tensor name -> shard file name (relative to the index's folder), in the index's order. */
export type ShardMap = ReadonlyMap<string, string>;

/** Parses an index file's JSON text; shard names must be plain file names in the index's folder. */
export function parseSafetensorsIndex(text: string, source = SAFETENSORS_INDEX_FILE): ShardMap {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const map = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as { weight_map?: unknown }).weight_map : undefined;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new Error(`${source}: "weight_map" must be an object mapping tensor names to shard files`);
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || !shard.endsWith('.safetensors') || /[/\\]/.test(shard) || shard.startsWith('.')) {
      throw new Error(`${source}: tensor "${name}" maps to ${JSON.stringify(shard)}, expected a .safetensors file name in the same folder`);
    }
    out.set(name, shard);
  }
  if (out.size === 0) throw new Error(`${source}: "weight_map" is empty`);
  return out;
}

/** The distinct shard files of an index, in first-use order. */
export function shardFiles(map: ShardMap): string[] {
  return [...new Set(map.values())];
}

export class ShardedSafetensors implements TensorFile {
  readonly #map: ShardMap;
  readonly #shards: ReadonlyMap<string, SafetensorsFile>;

  /** `shards` maps each shard file name of the index to its parsed file. */
  constructor(
    readonly source: string,
    map: ShardMap,
    shards: ReadonlyMap<string, SafetensorsFile>,
  ) {
    for (const shard of shardFiles(map)) {
      if (!shards.has(shard)) throw new Error(`${source}: shard "${shard}" (holding "${[...map].find(([, s]) => s === shard)![0]}") was not provided`);
    }
    for (const [name, shard] of map) {
      if (!shards.get(shard)!.has(name)) throw new Error(`${source}: tensor "${name}" should be in shard "${shards.get(shard)!.source}", which lacks it`);
    }
    for (const [shard, file] of shards) {
      const stray = file.names().find((n) => map.get(n) !== shard);
      if (stray !== undefined) {
        throw new Error(`${file.source}: holds tensor "${stray}", which ${source} ${map.has(stray) ? `places in "${map.get(stray)}"` : 'does not list'}`);
      }
    }
    this.#map = map;
    this.#shards = shards;
  }

  names(): string[] {
    return [...this.#map.keys()];
  }

  has(name: string): boolean {
    return this.#map.has(name);
  }

  #shardOf(name: string): SafetensorsFile {
    const shard = this.#map.get(name);
    if (shard === undefined) throw new Error(`${this.source}: missing tensor "${name}"`);
    return this.#shards.get(shard)!;
  }

  entry(name: string): SafetensorsEntry {
    return this.#shardOf(name).entry(name);
  }

  tensor(name: string): Tensor {
    return this.#shardOf(name).tensor(name);
  }

  sourceOf(name: string): string {
    return this.#map.has(name) ? this.#shardOf(name).source : this.source;
  }
}
