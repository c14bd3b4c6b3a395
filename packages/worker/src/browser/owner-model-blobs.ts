/// <reference lib="webworker" />
/**
 * The owner page's model files inside its sharing worker: picked Files (structured-cloned to the worker: the
 * clone refers to the same file, no bytes are copied) or URLs fetched there as Blobs, each read by byte range
 * with FileReaderSync (dedicated workers only), so the loader (session/owner-model-files.ts) reads a
 * safetensors file tensor by tensor and neither the page nor the worker holds the whole file.
 */
import { CHAT_TEMPLATE_FILES } from '@puma/models';
import { loadOwnerModel, type ModelFileReader, type OwnerModel } from '../session/index.ts';

/** What the page gives its worker to load: the picked files, or `?model=` and `?tokenizer=` as absolute URLs. */
export type OwnerModelSource = { files: File[] } | { url: string; tokenizerUrl: string | null };

const FETCH_TIMEOUT_MS = 120_000;

/** A Blob read by byte range, synchronously (FileReaderSync gives a fresh ArrayBuffer per read). */
export function blobReader(name: string, blob: Blob): ModelFileReader {
  const reader = new FileReaderSync();
  return {
    name,
    size: blob.size,
    read: (begin, end) => new Uint8Array(reader.readAsArrayBuffer(blob.slice(begin, end))),
  };
}

async function fetchBlob(url: URL): Promise<Blob> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (e) {
    throw new Error(`cannot fetch ${url.href}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!res.ok) throw new Error(`cannot fetch ${url.href}: HTTP ${res.status}`);
  return res.blob();
}

/**
 * `url`: a llama2.c .bin (its tokenizer from `tokenizerUrl`), or a Hugging Face folder URL ending in "/"
 * (config.json, model.safetensors and whichever tokenizer files it has).
 */
async function fetchModelFiles(modelUrl: string, tokenizerUrl: string | null): Promise<{ files: ModelFileReader[]; folderName?: string }> {
  const url = new URL(modelUrl);
  const base = (p: string) => p.split('/').filter(Boolean).pop() ?? 'model';
  const get = (name: string, at: URL) => fetchBlob(at).then((blob) => blobReader(name, blob));
  if (url.pathname.endsWith('/')) {
    const optional = (name: string) => get(name, new URL(name, url)).catch(() => null);
    const files = [await get('config.json', new URL('config.json', url)), await get('model.safetensors', new URL('model.safetensors', url))];
    for (const f of await Promise.all(['tokenizer.json', 'tokenizer_config.json', ...CHAT_TEMPLATE_FILES, 'vocab.json', 'merges.txt', 'vocab.txt'].map(optional))) if (f) files.push(f);
    return { files, folderName: base(url.pathname) };
  }
  const files = [await get(base(url.pathname), url)];
  if (tokenizerUrl) files.push(await get('tokenizer.bin', new URL(tokenizerUrl)));
  return { files };
}

/** Loads the owner's model from picked files or URLs, in the worker that will share it. */
export async function loadOwnerModelSource(source: OwnerModelSource): Promise<OwnerModel> {
  if ('files' in source) return loadOwnerModel(source.files.map((f) => blobReader(f.name, f)));
  const { files, folderName } = await fetchModelFiles(source.url, source.tokenizerUrl);
  return loadOwnerModel(files, folderName);
}
