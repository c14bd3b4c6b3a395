/**
 * `puma client`: the client as a Node endpoint: sends the prompt's shares to the parties and prints the
 * generated text as it arrives (or one JSON object with --json). The prompt never leaves this process in the
 * clear.
 */
import { parseArgs } from 'node:util';
import { greedy, sampler } from '@puma/models/secure';
import { CLIENT, OWNER, type EndpointId } from '@puma/transport';
import { openClientSession } from '@puma/worker/session';
import { KEY_USAGE, loadEndpointIdentity, parseApprovedParties, parsePeerPins, pinsWithParties, readSlotSecret } from './endpoint-trust.ts';
import { ICE_FLAGS, ICE_USAGE, connectEndpoint, coordinatorUrl, iceFlags, exitAfterGrace, intOption, interruptSignal, formatBytes, required, runCommand, usageError } from './session-endpoint.ts';

export const CLIENT_USAGE = `usage: puma client --coordinator <url> --session <id> --prompt <text> --parties <fp0>,<fp1>,<fp2>
                   (--secret <hex> | --secret-file <file>) [--key <file>] [--peers owner=<fp>] [--max-new-tokens N]
                   [--reveal logits|argmax] [--temperature T] [--top-k K] [--json] [--step-timeout S] [--connect-timeout S]
  Generates text with the session's three parties; only this process sees the prompt and the output.
  --parties: the only identities (fingerprints from "puma identity") that may receive this client's input shares.
  ${KEY_USAGE}
  ${ICE_USAGE}`;

const PEERS: readonly EndpointId[] = [0, 1, 2, OWNER];

export function clientCommand(argv: string[]): Promise<number> {
  return runCommand('client', CLIENT_USAGE, async (afterOutcome) => {
    const { values } = parseArgs({
      args: argv,
      options: {
        coordinator: { type: 'string' }, session: { type: 'string' }, prompt: { type: 'string' },
        'max-new-tokens': { type: 'string' }, reveal: { type: 'string', default: 'logits' },
        temperature: { type: 'string', default: '0' }, 'top-k': { type: 'string', default: '0' },
        json: { type: 'boolean', default: false }, 'connect-timeout': { type: 'string' },
        ...ICE_FLAGS, key: { type: 'string' }, secret: { type: 'string' }, 'secret-file': { type: 'string' }, parties: { type: 'string' }, peers: { type: 'string' },
        'step-timeout': { type: 'string' },
      },
    });
    const coordinator = coordinatorUrl(values.coordinator);
    const sessionId = required(values.session, 'session');
    if (values.prompt === undefined) usageError('--prompt is required (it may be empty: --prompt "")');
    const maxNewTokens = intOption(values['max-new-tokens'], 'max-new-tokens', 32, 1, 1 << 20);
    const reveal = values.reveal;
    if (reveal !== 'logits' && reveal !== 'argmax') usageError(`--reveal must be logits or argmax, got "${reveal}"`);
    const temperature = Number(values.temperature);
    if (!(temperature >= 0)) usageError(`--temperature must be >= 0, got "${values.temperature}"`);
    if (temperature > 0 && reveal === 'argmax') usageError('--temperature needs --reveal logits (with argmax the parties pick the token)');
    const topK = intOption(values['top-k'], 'top-k', 0, 0, 1 << 20);
    const connectTimeoutMs = intOption(values['connect-timeout'], 'connect-timeout', 60, 1, 24 * 3600) * 1000;
    const stepTimeoutMs = values['step-timeout'] === undefined ? undefined : intOption(values['step-timeout'], 'step-timeout', 0, 1, 24 * 3600) * 1000;
    const approvedParties = parseApprovedParties(values.parties, 'the client decides which identities may receive its input shares');
    const expectedPeers = pinsWithParties(approvedParties, parsePeerPins(values.peers, CLIENT, PEERS));
    const ice = iceFlags(values);
    const slotSecret = await readSlotSecret(values.secret, values['secret-file']);
    const { identity } = await loadEndpointIdentity(values.key);

    const signal = interruptSignal();
    const channel = await connectEndpoint({
      coordinator, sessionId, self: CLIENT, peers: PEERS, connectTimeoutMs, identity, slotSecret, expectedPeers, ice,
      log: (l) => console.error(l),
    });
    afterOutcome(async () => {
      channel.close('client: session over');
      await channel.closed;
      exitAfterGrace();
    });
    const session = await openClientSession({ channel, signal, approvedParties, stepTimeoutMs, onStatus: (s) => values.json || console.error(`client ${s.phase}: ${s.message}`) });
    if (!values.json) process.stdout.write(values.prompt);
    const tokenMs: number[] = [];
    const result = await session.generate({
      prompt: values.prompt,
      maxNewTokens,
      reveal,
      pick: temperature > 0 ? sampler(temperature, topK) : greedy,
      onToken: (t) => {
        tokenMs.push(t.ms);
        if (!values.json) process.stdout.write(t.text);
      },
    });
    session.end();
    const maxBytes = (step: number) => Math.max(...result.costs[step].map((c) => c.bytesSent));
    const perToken = tokenMs.slice(1);
    const summary = {
      model: session.info.modelId,
      promptIds: result.promptIds,
      tokens: result.tokens,
      text: result.text,
      seconds: result.seconds,
      bytesSentByBusiestParty: result.costs.reduce((s, _, i) => s + maxBytes(i), 0),
      msPerTokenAfterPrompt: perToken.length ? perToken.reduce((a, b) => a + b, 0) / perToken.length : null,
    };
    if (values.json) console.log(JSON.stringify(summary));
    else {
      console.log('');
      console.error(`client: ${result.tokens.length} tokens in ${result.seconds.toFixed(1)} s, ${formatBytes(summary.bytesSentByBusiestParty)} sent by the busiest party` +
        (summary.msPerTokenAfterPrompt === null ? '' : `, ${summary.msPerTokenAfterPrompt.toFixed(0)} ms per token after the prompt`));
    }
  });
}
