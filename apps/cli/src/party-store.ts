/**
 * A ShareStore in a directory, for Node parties (`puma party --cache <dir>`): one file per part, at
 * <dir>/<modelId>/<epoch>/<party>/<tensor>/<part> with each key segment percent-encoded.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ShareStore } from '@puma/worker/session';

export class DirectoryShareStore implements ShareStore {
  /**
   * Every get is a fresh read into a buffer of the caller's own (below), so the weight source checks and uses a
   * part in place instead of copying it first: one fresh 8 MiB buffer per part read instead of two (allocating
   * and filling a fresh 8 MiB buffer took a median 24 ms of CPU on the 2-core bench machine, mostly page faults).
   */
  readonly freshReads = true;

  constructor(readonly dir: string) {}

  /**
   * The file of `key`. Percent-encoding keeps every segment one path component; a leading dot is encoded so
   * "." and ".." cannot climb.
   */
  file(key: string): string {
    const segments = key.split('/').map((s) => encodeURIComponent(s).replace(/^\./, '%2E'));
    if (segments.some((s) => s === '')) throw new Error(`share store key ${JSON.stringify(key)} has an empty segment`);
    return path.join(this.dir, ...segments);
  }

  /**
   * Read synchronously, on purpose: fs/promises' readFile takes an 8 MiB part in 512 KiB chunks, each one a
   * thread-pool job whose callback waits for the party's event loop, which the secure pass keeps busy between
   * rounds. In `gpt2-base-tokens` (2-core bench machine) parties 1 and 2 then waited about 1 s per generated
   * token for reads they had started ahead (3.0-3.2 s in the prompt pass); a blocking read of a part from the
   * page cache holds the party about 14 ms instead (its store time per 8 MiB part in that bench's step figures,
   * three parties on two cores), and the waits fell to 0.02-0.07 s (1.7 s in the prompt pass).
   */
  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const b = readFileSync(this.file(key));
      // A file read into a buffer of its own is handed out as a plain view of it (no copy of an 8 MiB part);
      // a buffer that shares its memory (Node's pool) is copied, so no caller holds a view of the pool.
      return b.byteOffset === 0 && b.buffer.byteLength === b.byteLength ? new Uint8Array(b.buffer) : new Uint8Array(b);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** The part file's size, without reading it (the session's start-up check looks parts up by size). */
  async size(key: string): Promise<number | undefined> {
    try {
      const s = await stat(this.file(key));
      return s.isFile() ? s.size : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async set(key: string, bytes: Uint8Array): Promise<void> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    // Through a temporary name: a crash mid-write leaves no truncated part under the real name.
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
}
