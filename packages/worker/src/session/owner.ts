/**
 * The model owner's side of a session: each party gets its own manifest and only the parts it asks for; the
 * client gets the public model info. No party is ever sent another party's parts.
 */
import { CLIENT, type Channel, type PartyId } from '@puma/transport';
import { decodeJson, encodeJson } from './json.ts';
import { encodePublicInfo } from './public-info.ts';
import type { OwnerReport, OwnerServeOptions, OwnerStatus, PartyShares, WeightTransferReport } from './types.ts';

/**
 * Serves one session: each party gets its manifest and then only the parts it lacks, the client gets the
 * public model info. Resolves when every endpoint has acknowledged. Call it again with the same `shares` on a
 * new channel for the next session (reloaded pages): parties with valid caches then download nothing.
 */
export async function serveOwner(o: OwnerServeOptions): Promise<OwnerReport> {
  const { channel, shares } = o;
  const parties = o.parties ?? ([0, 1, 2] as const);
  const serveClient = o.client ?? true;
  const emit = (phase: OwnerStatus['phase'], message: string, extra: Partial<OwnerStatus> = {}) =>
    o.onStatus?.({ phase, message, bytesSent: channel.stats.bytesSent, ...extra });
  for (const p of parties) {
    if (shares.parties[p]?.manifest.party !== p) throw new Error(`owner shares hold no share for party ${p}`);
  }
  emit('serving', `serving ${shares.modelId} (epoch ${shares.epoch}) to ${parties.map((p) => `party ${p}`).join(', ')}${serveClient ? ' and the client' : ''}`);
  try {
    const client = serveClient ? servePublicInfo(channel, shares.publicInfo).then((bytes) => {
      emit('client-done', `client has the public model info (${bytes} bytes)`);
      return bytes;
    }) : Promise.resolve(0);
    const served = await Promise.all(parties.map(async (p) => {
      const r = await serveParty(channel, p, shares.parties[p]);
      emit('party-done', `party ${p}: sent ${r.partsRequested} of ${shares.parties[p].parts.length} parts (${r.shareBytesSent} bytes)`, { party: p });
      return r;
    }));
    const publicInfoBytes = await client;
    emit('done', `session served: ${served.reduce((s, r) => s + r.shareBytesSent, 0)} share bytes sent`);
    return { parties: served, publicInfoBytes };
  } catch (e) {
    const message = `model owner: ${e instanceof Error ? e.message : String(e)}`;
    emit('error', message, { error: message });
    throw new Error(message);
  }
}

async function servePublicInfo(channel: Channel, info: OwnerServeOptions['shares']['publicInfo']): Promise<number> {
  const bytes = encodePublicInfo(info);
  channel.send(CLIENT, 'public', bytes);
  await channel.recv(CLIENT, 'public:ok');
  return bytes.byteLength;
}

async function serveParty(channel: Channel, p: PartyId, share: PartyShares): Promise<OwnerReport['parties'][number]> {
  channel.send(p, 'w:manifest', encodeJson(share.manifest));
  const want = decodeJson(await channel.recv(p, 'w:want'), `parts request from party ${p}`) as { parts?: unknown };
  const list = want.parts;
  if (!Array.isArray(list) || !list.every((k) => Number.isInteger(k) && k >= 0 && k < share.parts.length) || new Set(list).size !== list.length) {
    throw new Error(`party ${p} asked for an invalid list of parts (the manifest has ${share.parts.length})`);
  }
  let shareBytesSent = 0;
  for (const k of list as number[]) {
    channel.send(p, `w:part:${k}`, share.parts[k]);
    shareBytesSent += share.parts[k].byteLength;
  }
  const report = decodeJson(await channel.recv(p, 'w:done'), `weights report from party ${p}`) as WeightTransferReport;
  return { party: p, partsRequested: list.length, shareBytesSent, report };
}
