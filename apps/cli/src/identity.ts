/**
 * `puma identity [--key <file>] [--json]`: creates this endpoint's long-term key file when missing and prints
 * its fingerprint (what the others pass to --parties / --peers) and its safety code (what people compare).
 */
import { parseArgs } from 'node:util';
import { safetyCode } from '@puma/transport-webrtc';
import { loadEndpointIdentity } from './endpoint-trust.ts';
import { runCommand } from './session-endpoint.ts';

export const IDENTITY_USAGE = `usage: puma identity [--key <file>] [--json]
  Prints this endpoint's fingerprint and safety code, creating the key file (mode 0600) when missing.
  --key <file>: default $PUMA_HOME/identity.json, PUMA_HOME default ~/.config/puma-web. Others pass the
  fingerprint to --parties / --peers; people compare the safety code with the one the others' endpoints print.`;

export function identityCommand(argv: string[]): Promise<number> {
  return runCommand('identity', IDENTITY_USAGE, async () => {
    const { values } = parseArgs({ args: argv, options: { key: { type: 'string' }, json: { type: 'boolean', default: false } } });
    const { identity, file } = await loadEndpointIdentity(values.key);
    const code = safetyCode(identity.fingerprint);
    if (values.json) console.log(JSON.stringify({ keyFile: file, fingerprint: identity.fingerprint, safetyCode: code }));
    else console.log(`key file     ${file}\nfingerprint  ${identity.fingerprint}\nsafety code  ${code}`);
  });
}
