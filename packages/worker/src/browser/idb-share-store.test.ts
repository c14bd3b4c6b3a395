/**
 * The share store's value format (IndexedDB itself is covered by e2e/storage.spec.ts, in Chromium): parts are
 * written as Blobs of exactly their bytes and read back into a buffer of the reader's own (which the stored
 * weight source checks in place); parts written as Uint8Array by earlier versions are still read; a value of
 * another type or an unreadable Blob is a missing part; the listing takes a part's size without reading it.
 */
import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesOfStoredValue, readableSizeOfStoredValue, sizeOfStoredValue, storedValue } from './idb-share-store.ts';

describe('share store values', () => {
  it('a part cut from a larger buffer is stored as a Blob of its own bytes and read back as the same bytes, in a buffer of their own', async () => {
    const tensor = randomFillSync(new Uint8Array(1 << 16));
    const part = tensor.subarray(4096, 4096 + 24_000);
    const value = storedValue(part);
    expect(value).toBeInstanceOf(Blob);
    expect(value.size).toBe(part.byteLength);
    const back = await bytesOfStoredValue(value);
    expect(back).toBeDefined();
    expect(Buffer.compare(back!, part)).toBe(0);
    // The stored weight source checks such reads in place, as 8-byte words: the buffer must be exactly the part.
    expect(back!.byteOffset).toBe(0);
    expect(back!.buffer.byteLength).toBe(part.byteLength);
    // Written after the put: the stored value does not change with the caller's buffer.
    part[0] ^= 0xff;
    expect((await bytesOfStoredValue(value))![0]).toBe(part[0] ^ 0xff);
  });

  it('a part stored as a Uint8Array (format 1) is read as it is', async () => {
    const old = randomFillSync(new Uint8Array(4096));
    expect(await bytesOfStoredValue(old)).toBe(old);
    expect(sizeOfStoredValue(old)).toBe(4096);
  });

  it('a value of another type, or a Blob whose bytes can no longer be read, is a missing part', async () => {
    class UnreadableBlob extends Blob {
      override arrayBuffer(): Promise<ArrayBuffer> {
        return Promise.reject(new Error('NotReadableError: the file behind this Blob is gone'));
      }
    }
    for (const v of [undefined, null, 'text', 42, { bytes: 8 }, new ArrayBuffer(8), new Uint32Array(2), new UnreadableBlob([new Uint8Array(8)])]) {
      expect(await bytesOfStoredValue(v)).toBeUndefined();
    }
    for (const v of [undefined, 'text', new ArrayBuffer(8), new Uint32Array(2)]) expect(sizeOfStoredValue(v)).toBeNull();
  });

  it('the start-up check takes a part\'s size once its last byte reads back; a Blob that no longer reads is a missing part', async () => {
    expect(await readableSizeOfStoredValue(storedValue(new Uint8Array(4096)))).toBe(4096);
    expect(await readableSizeOfStoredValue(storedValue(new Uint8Array(0)))).toBe(0);
    expect(await readableSizeOfStoredValue(new Uint8Array(12))).toBe(12);
    expect(await readableSizeOfStoredValue('text')).toBeUndefined();
    // What a page closed mid-store can leave: a Blob with its size whose bytes no longer read (NotReadableError).
    class Unreadable extends Blob {
      override slice(): Blob {
        return { arrayBuffer: () => Promise.reject(new DOMException('the file is gone', 'NotReadableError')) } as unknown as Blob;
      }
    }
    const gone = new Unreadable([new Uint8Array(4096)]);
    expect(sizeOfStoredValue(gone)).toBe(4096);
    expect(await readableSizeOfStoredValue(gone)).toBeUndefined();
  });

  it('the listing takes a Blob part\'s size from its handle', () => {
    expect(sizeOfStoredValue(storedValue(new Uint8Array(8 * 2 ** 20)))).toBe(8 * 2 ** 20);
    expect(sizeOfStoredValue(storedValue(new Uint8Array(0)))).toBe(0);
  });
});
