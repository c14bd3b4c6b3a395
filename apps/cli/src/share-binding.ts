/**
 * Binds a `puma share` folder to the party identities it is served to. One identity must never hold two
 * parties' shares of one sharing (two shares of a replicated sharing reveal the weights), so once an owner has
 * served a folder to parties (A, B, C), serving it to any other list would let an identity collect a second
 * share over restarts. The first serve writes bound-parties.json; later serves must name the same list.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PartyFingerprints } from './endpoint-trust.ts';

const BINDING_FILE = 'bound-parties.json';
const BINDING_FORMAT = 'puma-bound-parties/1';

interface Binding {
  format: typeof BINDING_FORMAT;
  /** The sharing the binding belongs to (share.json's epoch). */
  epoch: string;
  /** Fingerprints of parties 0, 1 and 2. */
  parties: [string, string, string];
}

async function readBinding(file: string): Promise<Binding | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let parsed: Partial<Binding>;
  try {
    parsed = JSON.parse(text) as Partial<Binding>;
  } catch {
    throw new Error(`${file} is not valid JSON; it records which party identities this sharing was served to, so it cannot be ignored`);
  }
  const fp = /^[0-9a-f]{64}$/;
  if (parsed.format !== BINDING_FORMAT || typeof parsed.epoch !== 'string' || !Array.isArray(parsed.parties) || parsed.parties.length !== 3 || !parsed.parties.every((p) => typeof p === 'string' && fp.test(p))) {
    throw new Error(`${file} is malformed (expected ${BINDING_FORMAT} with an epoch and three fingerprints); it records which party identities this sharing was served to, so it cannot be ignored`);
  }
  return parsed as Binding;
}

/** The party identities the folder's sharing is bound to, or undefined before its first serve. */
export async function readShareBinding(dir: string, epoch: string): Promise<PartyFingerprints | undefined> {
  const file = path.join(dir, BINDING_FILE);
  const binding = await readBinding(file);
  if (binding === undefined) return undefined;
  if (binding.epoch !== epoch) {
    throw new Error(`${file} belongs to another sharing (epoch ${binding.epoch}, the folder's share.json says ${epoch}); the folder was altered`);
  }
  return binding.parties;
}

/** Throws, saying to share the model again, unless `parties` is the list (in order) the folder is bound to. */
export function checkShareBinding(dir: string, bound: PartyFingerprints, parties: PartyFingerprints): void {
  const changed = ([0, 1, 2] as const).filter((p) => bound[p] !== parties[p]);
  if (changed.length === 0) return;
  const detail = changed.map((p) => `party ${p}: bound to ${bound[p].slice(0, 16)}…, --parties gives ${parties[p].slice(0, 16)}…`).join('; ');
  throw new Error(
    `share folder ${dir} was served to other party identities (${detail}). One identity must never hold two parties' shares ` +
    `of one sharing, so a different set of parties needs a fresh sharing: run "puma share --model <model> --out <new folder>" ` +
    `and serve that folder`,
  );
}

/**
 * Binds the folder's sharing to `parties` (before its first bundle goes out), or checks that it is bound to
 * them already. Two owners starting on one folder cannot both bind it: the second finds the first's list.
 */
export async function bindShareDir(dir: string, epoch: string, parties: PartyFingerprints): Promise<'bound' | 'same'> {
  const file = path.join(dir, BINDING_FILE);
  const binding: Binding = { format: BINDING_FORMAT, epoch, parties: [...parties] };
  // Written under a temporary name, then hard-linked into place: the file appears whole, and only once.
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(binding, null, 2)}\n`);
  try {
    await link(temp, file);
    return 'bound';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot record the party identities in ${file} (${(e as Error).message})`);
  } finally {
    await unlink(temp);
  }
  const bound = await readShareBinding(dir, epoch);
  if (bound === undefined) throw new Error(`${file} vanished while being read`);
  checkShareBinding(dir, bound, parties);
  return 'same';
}
