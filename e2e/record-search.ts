/**
 * What the coordinator received, as the haystacks a party page searches its traffic in (AuditedChannel.findLeaks
 * in apps/party/src/kit.ts): every HTTP head and body and signaling message, raw, and the base64 and hex runs in
 * them decoded, since a leak through JSON would be encoded.
 */
import type { CoordinatorRecord } from '@puma/coordinator';

/** Runs of base64 or hex characters long enough to hold a 16-byte window, decoded. */
function decodedRuns(text: string): Buffer[] {
  const out: Buffer[] = [];
  const base64 = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{24,}={0,2}/g)) {
    // A leak may start anywhere in a base64 group; decoding from each of the four phases covers every alignment.
    for (let shift = 0; shift < 4; shift++) out.push(base64(m[0].slice(shift)));
  }
  for (const m of text.matchAll(/(?:[0-9a-fA-F]{2}){16,}/g)) {
    out.push(Buffer.from(m[0], 'hex'), Buffer.from(m[0].slice(1, -1), 'hex'));
  }
  return out;
}

/** The record's contents, raw and decoded, base64-encoded for page.evaluate. */
export function recordHaystacks(record: CoordinatorRecord): string[] {
  const out: Buffer[] = [];
  for (const e of record.entries) {
    const head = Buffer.from(e.head, 'utf8');
    const data = Buffer.from(e.data);
    out.push(head, data, ...decodedRuns(e.head), ...decodedRuns(data.toString('latin1')));
  }
  return out.filter((b) => b.byteLength >= 16).map((b) => b.toString('base64'));
}
