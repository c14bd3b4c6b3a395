/**
 * `puma owner`: the model owner as a Node endpoint. It shares the model once (or loads a `puma share` folder)
 * and serves session after session with that one sharing: when the endpoints of a session leave (done, or
 * pages reloaded), it reconnects and serves the next, and parties whose caches hold this epoch download nothing.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { CLIENT, OWNER, type Channel, type EndpointId } from '@puma/transport';
import { serveOwner, type OwnerShares } from '@puma/worker/session';
import { KEY_USAGE, type PartyFingerprints, describeKey, loadEndpointIdentity, parseApprovedParties, parsePeerPins, pinsWithParties, readSlotSecret } from './endpoint-trust.ts';
import { DOMAIN_CHECK_OPTION } from './domain-guard.ts';
import { readShareDir, shareModel } from './share.ts';
import { bindShareDir, checkShareBinding, readShareBinding } from './share-binding.ts';
import { ICE_FLAGS, ICE_USAGE, connectEndpoint, coordinatorUrl, iceFlags, exitAfterGrace, intOption, interruptSignal, formatBytes, required, runCommand, usageError } from './session-endpoint.ts';

export const OWNER_USAGE = `usage: puma owner --coordinator <url> --session <id> (--model <dir|name> | --bundles <dir>)
                  --parties <fp0>,<fp1>,<fp2> (--secret <hex> | --secret-file <file>) [--key <file>]
                  [--peers client=<fp>] [--sessions N] [--frac-bits F] [--connect-timeout S] [--skip-domain-check]
  Serves the model's shares to the session's parties and its public description to the client, again for
  every new session of the same id (reloaded pages), until interrupted or N sessions were served.
  --parties: the only identities (fingerprints from "puma identity") that may receive party 0's, 1's and 2's
  share; a share folder stays bound to the set it was first served to (another set needs "puma share" again).
  --model first checks the model against the secure functions' domain, as "puma share" does.
  ${KEY_USAGE}
  ${ICE_USAGE}`;

const PEERS: readonly EndpointId[] = [0, 1, 2, CLIENT];
/** Failed attempts in a row (no session served) after which the owner gives up, and the pause between them. */
const MAX_FAILED_ATTEMPTS = 10;
const RETRY_DELAY_MS = 1_000;

/** Resolves when the first peer of the channel is gone (its link failed or the channel closed). */
export function firstDeparture(channel: Channel): Promise<string> {
  return Promise.race(PEERS.map((p) => channel.recv(p, 'owner:never-sent').then(() => 'unexpected message', (e: unknown) => (e instanceof Error ? e.message : String(e)))));
}

/**
 * A share folder's sharing stays with the parties it was first served to (bound-parties.json): refuses another
 * --parties at once, and returns serveOwner's recordHolders, which binds the folder before its first bundle.
 */
async function shareFolderHolders(dir: string, shares: OwnerShares, approved: PartyFingerprints): Promise<() => Promise<void>> {
  const bound = await readShareBinding(dir, shares.epoch);
  if (bound !== undefined) {
    checkShareBinding(dir, bound, approved);
    shares.holders = { 0: bound[0], 1: bound[1], 2: bound[2] };
    console.error(`owner: share folder ${dir} is bound to these parties`);
  }
  // serveOwner records each party's holder as it serves it, in parallel; the folder is bound once, to all three.
  let binding: Promise<void> | undefined;
  return () => {
    binding ??= bindShareDir(dir, shares.epoch, approved).then((result) => {
      if (result === 'bound') console.error(`owner: share folder ${dir} now bound to these parties`);
    });
    return binding;
  };
}

export function ownerCommand(argv: string[]): Promise<number> {
  return runCommand('owner', OWNER_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        coordinator: { type: 'string' }, session: { type: 'string' }, model: { type: 'string' }, bundles: { type: 'string' },
        sessions: { type: 'string' }, 'frac-bits': { type: 'string' }, 'connect-timeout': { type: 'string' }, ...DOMAIN_CHECK_OPTION,
        ...ICE_FLAGS, key: { type: 'string' }, secret: { type: 'string' }, 'secret-file': { type: 'string' }, parties: { type: 'string' }, peers: { type: 'string' },
      },
    });
    const coordinator = coordinatorUrl(values.coordinator);
    const sessionId = required(values.session, 'session');
    if ((values.model === undefined) === (values.bundles === undefined)) usageError('give exactly one of --model and --bundles');
    const sessions = intOption(values.sessions, 'sessions', Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER);
    const connectTimeoutMs = intOption(values['connect-timeout'], 'connect-timeout', 3600, 1, 7 * 24 * 3600) * 1000;
    if (values.bundles !== undefined && values['frac-bits'] !== undefined) usageError('--frac-bits applies to --model; a share folder has its own');
    const fracBits = intOption(values['frac-bits'], 'frac-bits', DEFAULT_FRAC_BITS, 0, 40);
    const approvedParties = parseApprovedParties(values.parties, 'the model owner decides which identities may receive the weight shares');
    const expectedPeers = pinsWithParties(approvedParties, parsePeerPins(values.peers, OWNER, PEERS));
    const ice = iceFlags(values);
    const slotSecret = await readSlotSecret(values.secret, values['secret-file']);
    const { identity } = await loadEndpointIdentity(values.key);
    const shares: OwnerShares = values.bundles !== undefined ? await readShareDir(values.bundles) : await shareModel(values.model!, fracBits, false, values['skip-domain-check']);
    console.error(`owner: ${shares.modelId}, epoch ${shares.epoch}, ${shares.fracBits} fraction bits`);
    const recordHolders = values.bundles !== undefined ? await shareFolderHolders(values.bundles, shares, approvedParties) : undefined;
    approvedParties.forEach((fp, p) => console.error(`owner: party ${p} approved: ${describeKey(fp)}`));
    const interrupted = interruptSignal();

    try {
      let failedAttempts = 0;
      for (let served = 0; served < sessions; ) {
        if (interrupted.aborted) throw interrupted.reason;
        const channel = await connectEndpoint({
          coordinator, sessionId, self: OWNER, peers: PEERS, connectTimeoutMs, identity, slotSecret, expectedPeers, ice, log: (l) => console.error(l),
        });
        const stop = () => channel.close(`model owner: ${String(interrupted.reason)}`);
        interrupted.addEventListener('abort', stop, { once: true });
        try {
          console.error(`owner: waiting for session ${served + 1}'s parties and client`);
          const report = await serveOwner({ channel, shares, approvedParties, recordHolders, onStatus: (s) => console.error(`owner ${s.phase}: ${s.message}`) });
          served += 1;
          failedAttempts = 0;
          const bytes = report.parties.map((p) => `party ${p.party} ${formatBytes(p.shareBytesSent)}`).join(', ');
          console.log(JSON.stringify({ session: served, shareBytesSent: report.parties.map((p) => p.shareBytesSent), cacheHits: report.parties.map((p) => p.report.cacheHits) }));
          console.error(`owner: session ${served} served (${bytes})`);
          if (served < sessions) console.error(`owner: session ${served} over (${await firstDeparture(channel)})`);
        } catch (e) {
          if (interrupted.aborted) throw interrupted.reason;
          // A session whose endpoints left before being served is retried; the sharing stays the same.
          const message = e instanceof Error ? e.message : String(e);
          if (++failedAttempts >= MAX_FAILED_ATTEMPTS) throw new Error(`${failedAttempts} attempts in a row failed; the last: ${message}`);
          console.error(`owner: session attempt failed (${message}); retrying`);
        } finally {
          interrupted.removeEventListener('abort', stop);
          channel.close('model owner: session over');
          await channel.closed;
        }
        if (failedAttempts > 0) await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      }
    } finally {
      exitAfterGrace();
    }
  });
}
