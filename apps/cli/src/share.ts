/**
 * `puma share --model <dir|name> --out <dir>`: splits a model into the three parties' shares once, on disk, so
 * that `puma owner --bundles <dir>` serves the same sharing (same epoch) after every restart and the parties'
 * caches stay valid.
 *
 * Layout of <dir>:
 *   share.json                      { format, modelId, epoch, fracBits }
 *   party0/ party1/ party2/         manifest.json (tensors, parts with size and sha256) + one file per part,
 *                                   named <index>.<tensor>.<part>.bin in manifest order
 *   public/                         config.json (the model config the secure pass uses) + tokenizer files
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { loadModel, type ModelLocation } from '@puma/models/node';
import { createSharingThreads } from '@puma/worker';
import {
  OPTIONAL_TOKENIZER_FILES, TOKENIZER_FILES, checkManifest, hfJsonTokenizerSource, prepareOwnerShares, streamOwnerShares, verifyPartyShares, type OwnerShareStream, type OwnerShares, type PartyShares,
  type PublicModelInfo, type TokenizerSource,
} from '@puma/worker/session';
import { DOMAIN_CHECK_OPTION, guardDomain } from './domain-guard.ts';
import { intOption, formatBytes, required, runCommand, usageError } from './session-endpoint.ts';

export const SHARE_USAGE = `usage: puma share --model <dir|name> --out <dir> [--frac-bits F] [--skip-domain-check]
  Splits the model into the three parties' shares (party0/ party1/ party2/, each with a manifest of sha256
  sums) and its public description (public/: config and tokenizer), for "puma owner --bundles <dir>".
  First runs the model in plaintext on a calibration text and refuses one that leaves the secure functions'
  domain (--skip-domain-check goes on anyway).`;

const SHARE_FORMAT = 'puma-shares/1';

interface ShareIndex {
  format: typeof SHARE_FORMAT;
  modelId: string;
  epoch: string;
  fracBits: number;
}

/** Reads the model folder's tokenizer files under the names the session runtime expects. */
export async function tokenizerSource(location: ModelLocation): Promise<TokenizerSource | undefined> {
  const t = location.tokenizer;
  if (!t) return undefined;
  switch (t.kind) {
    case 'llama2c':
      return { kind: 'llama2c', files: { 'tokenizer.bin': await readFile(t.path) } };
    case 'gpt2-bpe':
      return { kind: 'gpt2-bpe', files: { 'vocab.json': await readFile(t.encoder), 'merges.txt': await readFile(t.merges) } };
    case 'wordpiece':
      return { kind: 'wordpiece', files: { 'vocab.txt': await readFile(t.vocab) } };
    case 'tokenizer-json':
      return hfJsonTokenizerSource(
        await readFile(t.path), t.config ? await readFile(t.config) : undefined,
        t.chatTemplate && { name: t.chatTemplate.name, bytes: await readFile(t.chatTemplate.path) },
      );
  }
}

function partFileName(index: number, tensor: string, part: string): string {
  return `${String(index).padStart(5, '0')}.${tensor}.${part}.bin`;
}

/** Writes a file through a temporary name, so an interrupted run never leaves a truncated file under the real one. */
async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/**
 * Writes a sharing as it streams (streamOwnerShares): each tensor's part files as soon as they are split and
 * hashed, then the manifests, the public folder and share.json. Memory stays at one tensor's shares.
 */
export async function writeShareStream(dir: string, stream: OwnerShareStream, onFile?: () => void): Promise<void> {
  const partyDirs = [0, 1, 2].map((p) => path.join(dir, `party${p}`));
  for (const d of partyDirs) await mkdir(d, { recursive: true });
  for await (const t of stream.tensors()) {
    await Promise.all(t.parties.flatMap((parts, p) => parts.map(async (part) => {
      await writeAtomic(path.join(partyDirs[p], partFileName(part.index, part.info.tensor, part.info.part)), part.bytes);
      onFile?.();
    })));
  }
  for (const [p, manifest] of stream.manifests.entries()) await writeAtomic(path.join(partyDirs[p], 'manifest.json'), JSON.stringify(manifest));
  await writePublicAndIndex(dir, stream.publicInfo, stream.epoch);
}

/** public/ (config and tokenizer files), then share.json, which marks the folder finished. */
async function writePublicAndIndex(dir: string, info: PublicModelInfo, epoch: string): Promise<void> {
  const publicDir = path.join(dir, 'public');
  await mkdir(publicDir, { recursive: true });
  await writeAtomic(path.join(publicDir, 'config.json'), JSON.stringify(info.config, null, 2));
  const tok = info.tokenizer;
  if (tok) {
    await writeAtomic(path.join(publicDir, 'tokenizer.json'), JSON.stringify({ kind: tok.kind }));
    for (const [name, bytes] of Object.entries(tok.files)) await writeAtomic(path.join(publicDir, name), bytes);
  }
  const index: ShareIndex = { format: SHARE_FORMAT, modelId: info.modelId, epoch, fracBits: info.fracBits };
  // Written last: a folder without share.json is an unfinished run.
  await writeAtomic(path.join(dir, 'share.json'), JSON.stringify(index, null, 2));
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`${file} is missing`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Reads what writeShareDir wrote and checks every part against its manifest's size and sha256. */
export async function readShareDir(dir: string): Promise<OwnerShares> {
  if (!existsSync(dir)) throw new Error(`share folder ${dir} does not exist`);
  const index = (await readJson(path.join(dir, 'share.json'))) as Partial<ShareIndex>;
  if (index.format !== SHARE_FORMAT) throw new Error(`${path.join(dir, 'share.json')}: format is ${JSON.stringify(index.format)}, expected ${SHARE_FORMAT}`);
  const parties: PartyShares[] = [];
  const read = new Map<string, Uint8Array>();
  for (const party of [0, 1, 2] as const) {
    const partyDir = path.join(dir, `party${party}`);
    const manifest: unknown = await readJson(path.join(partyDir, 'manifest.json'));
    checkManifest(manifest, party);
    if (manifest.epoch !== index.epoch || manifest.modelId !== index.modelId) throw new Error(`${partyDir}: manifest belongs to another sharing than share.json`);
    const parts: Uint8Array[] = [];
    for (const [k, p] of manifest.parts.entries()) {
      const file = path.join(partyDir, partFileName(k, p.tensor, p.part));
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(file));
      } catch {
        throw new Error(`${file} is missing`);
      }
      // Parties 1 and 2 hold the same dense component: a file equal to one already read shares its memory.
      const same = read.get(p.sha256);
      if (same && Buffer.from(same.buffer, same.byteOffset, same.byteLength).equals(bytes)) bytes = same;
      else read.set(p.sha256, bytes);
      parts.push(bytes);
    }
    const share = { manifest, parts };
    await verifyPartyShares(share);
    parties.push(share);
  }
  const publicDir = path.join(dir, 'public');
  const config = (await readJson(path.join(publicDir, 'config.json'))) as OwnerShares['publicInfo']['config'];
  let tokenizer: TokenizerSource | undefined;
  if (existsSync(path.join(publicDir, 'tokenizer.json'))) {
    const { kind } = (await readJson(path.join(publicDir, 'tokenizer.json'))) as { kind: TokenizerSource['kind'] };
    const names = TOKENIZER_FILES[kind];
    if (!names) throw new Error(`${publicDir}/tokenizer.json names unknown tokenizer kind ${JSON.stringify(kind)}`);
    const files: Record<string, Uint8Array> = {};
    for (const name of names) files[name] = new Uint8Array(await readFile(path.join(publicDir, name)));
    for (const name of OPTIONAL_TOKENIZER_FILES[kind]) if (existsSync(path.join(publicDir, name))) files[name] = new Uint8Array(await readFile(path.join(publicDir, name)));
    tokenizer = { kind, files };
  }
  const { modelId, epoch, fracBits } = index as ShareIndex;
  // Holders are the folder's binding (bound-parties.json), which `puma owner` reads with the parties it serves.
  return { modelId, epoch, fracBits, parties: parties as OwnerShares['parties'], publicInfo: { modelId, config, fracBits, tokenizer }, holders: { 0: null, 1: null, 2: null } };
}

/** Loads a model folder (or name) and shares it under a fresh epoch, with a progress bar on stderr. */
export async function shareModel(nameOrPath: string, fracBits: number, quiet: boolean, skipDomainCheck = false): Promise<OwnerShares> {
  const { model, location, tokenizer } = await loadModel(nameOrPath);
  const published = guardDomain(model, location.name, { tokenizer, skip: skipDomainCheck, fracBits });
  const bar = quiet ? null : new cliProgress.SingleBar({ format: 'sharing |{bar}| {value}/{total} parts hashed', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
  bar?.start(1, 0);
  try {
    return await prepareOwnerShares({
      model: published, modelId: location.name, fracBits, tokenizer: await tokenizerSource(location),
      onProgress: (done, total) => {
        bar?.setTotal(total);
        bar?.update(done);
      },
    });
  } finally {
    bar?.stop();
  }
}

export function shareCommand(argv: string[]): Promise<number> {
  return runCommand('share', SHARE_USAGE, async () => {
    const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, out: { type: 'string' }, 'frac-bits': { type: 'string' }, ...DOMAIN_CHECK_OPTION } });
    const model = required(values.model, 'model');
    const out = required(values.out, 'out');
    if (existsSync(out) && readdirSync(out).length > 0) usageError(`--out ${out} exists and is not empty; shares are never overwritten in place`);
    const fracBits = intOption(values['frac-bits'], 'frac-bits', DEFAULT_FRAC_BITS, 0, 40);
    const { model: loaded, location, tokenizer } = await loadModel(model);
    const published = guardDomain(loaded, location.name, { tokenizer, skip: values['skip-domain-check'], fracBits });
    // Split and hash on two threads. writeShareStream awaits each tensor's writes before asking for the next,
    // as the helper's reused buffers require.
    const helper = await createSharingThreads();
    const stream = streamOwnerShares({ model: published, modelId: location.name, fracBits, tokenizer: await tokenizerSource(location), helper });
    const bar = new cliProgress.SingleBar({ format: 'sharing |{bar}| {value}/{total} part files', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
    bar.start(stream.totalParts, 0);
    try {
      let n = 0;
      await writeShareStream(out, stream, () => bar.update(++n));
    } finally {
      bar.stop();
      await helper.close();
    }
    const sizes = stream.manifests.map((m) => m.parts.reduce((s, p) => s + p.bytes, 0));
    console.log(`shared ${stream.modelId} (epoch ${stream.epoch}, ${fracBits} fraction bits) into ${out}: ${sizes.map((b, i) => `party ${i} ${formatBytes(b)}`).join(', ')}`);
  });
}
