/** `puma session create`: asks the coordinator for a new session (an id and one secret per slot) that the five endpoints then join. */
import { parseArgs } from 'node:util';
import { SLOT_NAMES, createSession } from '@puma/transport-webrtc';
import { clientCommand } from './client.ts';
import { ownerCommand } from './owner.ts';
import { partyCommand } from './party.ts';
import { identityCommand } from './identity.ts';
import { coordinatorUrl, runCommand, usageError } from './session-endpoint.ts';
import { shareCommand } from './share.ts';

export const SESSION_USAGE = `usage: puma session create --coordinator <url> [--model <name>] [--json]
  Prints the new session's id, then one line per slot with its secret ("party0 <secret>", ... "owner <secret>"),
  or one JSON document with --json. Hand each secret to the one endpoint that is to take that slot (its
  --secret or --secret-file): whoever holds a slot's secret can join that slot. The coordinator keeps only
  hashes of the secrets; they are shown this once.`;

export function sessionCommand(argv: string[]): Promise<number> {
  return runCommand('session', SESSION_USAGE, async () => {
    const [action, ...rest] = argv;
    if (action !== 'create') usageError(action ? `unknown action "${action}"` : 'no action given');
    const { values } = parseArgs({ args: rest, options: { coordinator: { type: 'string' }, model: { type: 'string', default: 'stories260K' }, json: { type: 'boolean', default: false } } });
    const created = await createSession(coordinatorUrl(values.coordinator), { model: values.model! });
    if (values.json) {
      console.log(JSON.stringify(created));
      return;
    }
    console.log(created.id);
    for (const slot of SLOT_NAMES) console.log(`${slot} ${created.slotSecrets[slot]}`);
  });
}

/** The session commands by name, for main.ts to dispatch to; each returns its exit code. */
export const SESSION_COMMANDS = new Map<string, (argv: string[]) => Promise<number>>([
  ['share', shareCommand],
  ['owner', ownerCommand],
  ['party', partyCommand],
  ['client', clientCommand],
  ['session', sessionCommand],
  ['identity', identityCommand],
]);
