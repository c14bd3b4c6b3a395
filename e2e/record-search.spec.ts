/**
 * The record search itself (no browser): a copy of any 16-byte piece of traffic, at any offset, in any encoding
 * the search decodes, is found; random or public data is not. The browser suite relies on this search to say
 * "nothing leaked", so it must be shown to find what is there.
 */
import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { findFragments } from '../apps/party/src/audit.ts';
import { decodeText, recordHaystacks } from './record-search.ts';

const traffic = new Uint8Array(randomBytes(200_003));
/** An offset that is not a multiple of 16, so the search must look at every offset. */
const AT = 123_457;
const piece = traffic.subarray(AT, AT + 16);

const signal = (text: string | Uint8Array) => ({ head: 'puma-abc-1', data: typeof text === 'string' ? new TextEncoder().encode(text) : text });
const search = (...texts: Array<string | Uint8Array>) => findFragments(traffic, recordHaystacks({ entries: texts.map(signal) }).map((b) => Buffer.from(b, 'base64')));

const words = (bytes: Uint8Array, size: number, littleEndian: boolean) => {
  const out: bigint[] = [];
  for (let o = 0; o < bytes.byteLength; o += size) {
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(bytes[o + (littleEndian ? size - 1 - i : i)]);
    out.push(v);
  }
  return out;
};
const bigEndian = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex')}`);

test('record search: unrelated random data and public text give no hits', () => {
  const found = search(JSON.stringify({ type: 'OFFER', payload: Buffer.from(randomBytes(4096)).toString('base64'), n: [...randomBytes(64)] }), '{"model":"stories260K"}');
  expect(found.leaks).toBe(0);
  expect(found.checked).toBeGreaterThan(traffic.byteLength * 0.99);
});

test('record search: a 16-byte copy at an odd offset is found raw, as base64 and as hex', () => {
  const raw = Buffer.concat([Buffer.from('{"candidate":"'), piece, Buffer.from('"}')]);
  expect(search(raw).firstLeakAt).toBe(AT);
  expect(search(`{"sdp":"x${Buffer.from(piece).toString('base64')}"}`).firstLeakAt).toBe(AT);
  expect(search(`{"id":"${Buffer.from(piece).toString('hex')}"}`).firstLeakAt).toBe(AT);
  expect(search(`{"id":"7${Buffer.from(piece).toString('hex')}"}`).firstLeakAt).toBe(AT);
});

test('record search: JSON arrays of bytes, of u32 and u64 words, and index-keyed objects are decoded', () => {
  expect(search(JSON.stringify({ leak: [...piece] })).firstLeakAt).toBe(AT);
  expect(search(JSON.stringify({ leak: JSON.parse(JSON.stringify(piece)) })).firstLeakAt).toBe(AT);
  for (const littleEndian of [true, false]) {
    expect(search(`{"u32":[${words(piece, 4, littleEndian).join(', ')}]}`).firstLeakAt).toBe(AT);
    expect(search(`{"u64":[${words(piece, 8, littleEndian).join(',')}]}`).firstLeakAt).toBe(AT);
  }
  const signed = new Int8Array(piece.buffer, piece.byteOffset, 16);
  expect(search(JSON.stringify([...signed])).firstLeakAt).toBe(AT);
});

test('record search: decimal big integers (both byte orders, leading zero byte) and binary strings are decoded', () => {
  expect(search(`{"n":"${bigEndian(piece)}"}`).firstLeakAt).toBe(AT);
  expect(search(`{"n":${bigEndian(piece.slice().reverse())}}`).firstLeakAt).toBe(AT);
  const zeroFirst = traffic.slice(AT, AT + 16);
  zeroFirst[0] = 0;
  const own = findFragments(zeroFirst, decodeText(`n=${bigEndian(zeroFirst)}`));
  expect(own.leaks).toBe(1);
  expect(search(JSON.stringify({ s: Buffer.from(piece).toString('latin1') })).firstLeakAt).toBe(AT);
});

test('record search: zero runs and plain text are not counted as traffic fragments', () => {
  const text = new TextEncoder().encode('{"modelId":"stories260K","epoch":"e"}');
  expect(findFragments(new Uint8Array(64), [new Uint8Array(64)]).checked).toBe(0);
  expect(findFragments(text, [text]).leaks).toBe(0);
});
