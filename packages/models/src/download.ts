/**
 * Fetching a default model from its upstream when no local copy exists (Node only). Each file is streamed to
 * `<name>.part`, hashed on the way, and renamed into place only if its size and sha256 match the pinned
 * values, so an interrupted or tampered download never looks like a model.
 *
 * Pinned checksums are those recorded in ../shared/models/<name>/SOURCE.md for the same files.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface UpstreamFile {
  /** File name in the local model folder, and its path under the upstream base URL. */
  name: string;
  size: number;
  sha256: string;
}

export interface UpstreamModel {
  /** Base URL; each file is fetched from `${base}/${file.name}`. */
  base: string;
  files: UpstreamFile[];
}

/** Models `npm start` may fetch: the default, stories260K, from karpathy/tinyllamas on Hugging Face. */
export const UPSTREAM_MODELS: Readonly<Record<string, UpstreamModel>> = {
  stories260K: {
    base: 'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K',
    files: [
      { name: 'stories260K.bin', size: 1056540, sha256: 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696' },
      { name: 'tok512.bin', size: 6227, sha256: '037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312' },
    ],
  },
};

/** Where downloaded models go: $PUMA_CACHE, else ~/.cache/puma-web/models. */
export function downloadCacheDir(): string {
  const env = process.env.PUMA_CACHE;
  return env ? path.resolve(env) : path.join(os.homedir(), '.cache', 'puma-web', 'models');
}

export interface DownloadOptions {
  /** Folder that receives `<dir>/<name>/<file>`. */
  dir: string;
  /** Replaces the upstream base URL (a mirror, or a loopback server in tests). */
  base?: string;
  /** Bytes received so far of the file being fetched, and its expected size. */
  onProgress?: (file: string, received: number, total: number) => void;
}

/** Downloads every file of a known model (skipping those already present) and returns the model folder. */
export async function downloadModel(name: string, o: DownloadOptions): Promise<string> {
  const up = UPSTREAM_MODELS[name];
  if (!up) throw new Error(`no upstream known for model "${name}" (known: ${Object.keys(UPSTREAM_MODELS).join(', ')})`);
  const folder = path.join(o.dir, name);
  await mkdir(folder, { recursive: true });
  for (const f of up.files) {
    const target = path.join(folder, f.name);
    if (existsSync(target)) continue;
    await fetchVerified(`${(o.base ?? up.base).replace(/\/$/, '')}/${f.name}`, target, f, o.onProgress);
  }
  return folder;
}

async function fetchVerified(url: string, target: string, f: UpstreamFile, onProgress?: DownloadOptions['onProgress']): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    throw new Error(`cannot download ${f.name} from ${url}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
  }
  if (!res.ok || !res.body) throw new Error(`cannot download ${f.name} from ${url}: HTTP ${res.status} ${res.statusText}`);
  const partial = `${target}.part`;
  const hash = createHash('sha256');
  const out = await open(partial, 'w');
  let received = 0;
  try {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        received += chunk.byteLength;
        if (received > f.size) throw new Error(`${f.name} from ${url} is larger than the expected ${f.size} bytes`);
        hash.update(chunk);
        await out.write(chunk);
        onProgress?.(f.name, received, f.size);
      }
    } finally {
      await out.close();
    }
    if (received !== f.size) throw new Error(`${f.name} from ${url} has ${received} bytes, expected ${f.size}`);
    const digest = hash.digest('hex');
    if (digest !== f.sha256) throw new Error(`${f.name} from ${url} fails its checksum: sha256 ${digest}, expected ${f.sha256}`);
    await rename(partial, target);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}
