/**
 * Relay-only ICE in the browser demo flow: the coordinator serves a relay-only ICE config naming a coturn on
 * loopback (e2e/turn-server.ts, relays on 127.0.0.2), and the owner, client and three party pages (e2e/lab.ts)
 * run a stories260K session through it. The secure tokens must equal the plaintext greedy ones computed here,
 * every connected RTCPeerConnection in every page must have a relay candidate at both ends of its selected pair
 * (getStats), on relay ports our coturn allocated, and a page told a wrong TURN password must fail at once
 * with a message naming the TURN server. `?ice=relay` on a page forces relay-only under a coordinator whose
 * policy is "all".
 */
import { expect, test, type Page } from '@playwright/test';
import { LLAMA_BOS, generateGreedy } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { Lab, MODEL_DIR, clientState, type Role } from './lab.ts';
import { RELAY_IP, startTurnServer, type TurnServer } from './turn-server.ts';

const PROMPT = 'Once upon a time';
const TOKENS = 4;

test.describe.configure({ mode: 'serial' });

let turn: TurnServer;
let lab: Lab;

test.beforeAll(async ({ browser }) => {
  turn = await startTurnServer();
  lab = await Lab.start(browser, { iceConfig: { iceServers: [turn.iceServer()], iceTransportPolicy: 'relay' } });
  // Every page records its RTCPeerConnections, so the test can read their selected candidate pairs.
  for (const role of [lab.owner, lab.client, ...lab.parties]) await recordPeerConnections(role);
});

test.afterAll(async () => {
  await lab?.close();
  await turn?.stop();
});

/**
 * Wraps the page's RTCPeerConnection so each connection, once connected, records its selected candidate pair
 * (getStats) in window.pumaSelectedPairs; read at connect time because the owner closes its links once served.
 */
async function recordPeerConnections(role: Role): Promise<void> {
  await role.context.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const seen: unknown[] = [];
    const policies: string[] = [];
    (window as unknown as { pumaSelectedPairs: unknown[] }).pumaSelectedPairs = seen;
    (window as unknown as { pumaIcePolicies: string[] }).pumaIcePolicies = policies;
    const record = async (pc: RTCPeerConnection) => {
      const stats = new Map<string, Record<string, unknown>>();
      (await pc.getStats()).forEach((s: Record<string, unknown>) => stats.set(String(s.id), s));
      const transport = [...stats.values()].find((s) => s.type === 'transport');
      const pair = stats.get(String(transport?.selectedCandidatePairId));
      const local = stats.get(String(pair?.localCandidateId));
      const remote = stats.get(String(pair?.remoteCandidateId));
      seen.push({
        local: String(local?.candidateType), remote: String(remote?.candidateType),
        localAddress: String(local?.address ?? local?.ip), localPort: Number(local?.port), remotePort: Number(remote?.port),
      });
    };
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        // Recorded when the connection starts negotiating: PeerJS's feature check makes one (with its own
        // default config) that never does.
        const policy = config?.iceTransportPolicy ?? 'all';
        const setLocal = this.setLocalDescription.bind(this);
        this.setLocalDescription = (description?: RTCLocalSessionDescriptionInit) => {
          policies.push(policy);
          return setLocal(description);
        };
        let recorded = false;
        this.addEventListener('connectionstatechange', () => {
          if (this.connectionState !== 'connected' || recorded) return;
          recorded = true;
          void record(this);
        });
      }
    };
  });
}

interface PairSeen {
  local: string;
  remote: string;
  localAddress: string;
  localPort: number;
  remotePort: number;
}

function selectedPairs(page: Page): Promise<PairSeen[]> {
  return page.evaluate(() => structuredClone((window as unknown as { pumaSelectedPairs: PairSeen[] }).pumaSelectedPairs));
}

test('relay-only through coturn: the pages compute the plaintext tokens over relayed links only', async () => {
  const { model, tokenizer } = await loadModel(MODEL_DIR);
  const promptIds = [LLAMA_BOS, ...tokenizer!.encode(PROMPT)];
  const expected = generateGreedy(model, promptIds, TOKENS).slice(promptIds.length);

  const links = await lab.newSession();
  await lab.openSession(links);
  const client = await lab.generate(PROMPT, TOKENS);
  expect(client.promptIds).toEqual(promptIds);
  expect(client.tokens).toEqual(expected);

  const relayPorts = new Set(turn.relayPorts());
  const pages = { owner: lab.owner.page, client: lab.client.page, party0: lab.parties[0].page, party1: lab.parties[1].page, party2: lab.parties[2].page };
  let connections = 0;
  for (const [name, page] of Object.entries(pages)) {
    const pairs = await selectedPairs(page);
    // Each page links to 4 peers: at least one connection per link.
    expect(pairs.length, `${name}: peer connections that connected`).toBeGreaterThanOrEqual(4);
    for (const p of pairs) {
      expect(p, `${name}: both ends of the selected pair are relay candidates`).toMatchObject({ local: 'relay', remote: 'relay', localAddress: RELAY_IP });
      expect(relayPorts.has(p.localPort) && relayPorts.has(p.remotePort), `${name}: relay ports ${p.localPort}, ${p.remotePort} allocated by our coturn`).toBe(true);
    }
    connections += pairs.length;
  }
  expect(turn.allocations()).toBeGreaterThanOrEqual(connections / 2);
  console.log(`relay: ${TOKENS} tokens over ${connections} relayed peer connections (both ends counted), ${turn.allocations()} coturn allocations`);
  await lab.endSession(lab.parties.map((p) => p.page));
});

test('a wrong TURN password fails the page at once, naming the TURN server', async () => {
  const wrong = await Lab.start(lab.client.context.browser()!, { iceConfig: { iceServers: [turn.iceServer('wrong')], iceTransportPolicy: 'relay' } });
  try {
    const page = wrong.client.page;
    await page.goto(`${wrong.coordinator.url}/client/`);
    const t0 = Date.now();
    await page.getByRole('button', { name: 'New session' }).click();
    await page.waitForFunction(() => window.pumaClient?.state.phase === 'error', null, { timeout: 40_000 });
    const s = await clientState(page);
    expect(s.error).toMatch(new RegExp(`relay-only ICE: no relay candidate from ${turn.url}.*401`));
    expect(Date.now() - t0).toBeLessThan(30_000);
  } finally {
    await wrong.close();
  }
});

test('?ice=relay forces relay-only on a page: it probes the TURN server; a bad value or no TURN server is named', async () => {
  const all = await Lab.start(lab.client.context.browser()!, { iceConfig: { iceServers: [turn.iceServer()], iceTransportPolicy: 'all' } });
  const hostOnly = await Lab.start(lab.client.context.browser()!);
  try {
    await recordPeerConnections(all.client);
    const page = all.client.page;
    await page.goto(`${all.coordinator.url}/client/?ice=relay`);
    await page.getByRole('button', { name: 'New session' }).click();
    await page.waitForFunction(() => (window.pumaClient?.state.partyLinks.length ?? 0) === 3, null, { timeout: 30_000 });
    // The relay probe, then the link to the owner: every peer connection the page made is relay-only.
    const policies = () => page.evaluate(() => [...(window as unknown as { pumaIcePolicies: string[] }).pumaIcePolicies]);
    await expect.poll(async () => (await policies()).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    expect(new Set(await policies())).toEqual(new Set(['relay']));
    expect((await clientState(page)).error).toBeNull();

    const bad = all.owner.page;
    await bad.goto(`${all.coordinator.url}/client/?ice=relays`);
    await bad.getByRole('button', { name: 'New session' }).click();
    await expect(bad.getByRole('alert')).toContainText('the page parameter ice must be "relay", got "relays"');

    const none = hostOnly.client.page;
    await none.goto(`${hostOnly.coordinator.url}/client/?ice=relay`);
    await none.getByRole('button', { name: 'New session' }).click();
    await expect(none.getByRole('alert')).toContainText('iceTransportPolicy "relay" needs at least one turn: or turns: server');
  } finally {
    await all.close();
    await hostOnly.close();
  }
});
