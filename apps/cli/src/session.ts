/** `puma session create`: asks the coordinator for a new session id that the five endpoints then join. */
import { parseArgs } from 'node:util';
import { createSession } from '@puma/transport-webrtc';
import { clientCommand } from './client.ts';
import { ownerCommand } from './owner.ts';
import { partyCommand } from './party.ts';
import { required, runCommand, usageError } from './session-endpoint.ts';
import { shareCommand } from './share.ts';

export const SESSION_USAGE = `usage: puma session create --coordinator <url> [--model <name>] [--json]
  Prints the new session's id (or its whole description with --json).`;

export function sessionCommand(argv: string[]): Promise<number> {
  return runCommand('session', SESSION_USAGE, async () => {
    const [action, ...rest] = argv;
    if (action !== 'create') usageError(action ? `unknown action "${action}"` : 'no action given');
    const { values } = parseArgs({ args: rest, options: { coordinator: { type: 'string' }, model: { type: 'string', default: 'stories260K' }, json: { type: 'boolean', default: false } } });
    const info = await createSession(required(values.coordinator, 'coordinator'), { model: values.model! });
    console.log(values.json ? JSON.stringify(info) : info.id);
  });
}

/** The session commands by name, for main.ts to dispatch to; each returns its exit code. */
export const SESSION_COMMANDS = new Map<string, (argv: string[]) => Promise<number>>([
  ['share', shareCommand],
  ['owner', ownerCommand],
  ['party', partyCommand],
  ['client', clientCommand],
  ['session', sessionCommand],
]);
