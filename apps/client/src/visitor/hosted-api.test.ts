/**
 * The visitor page's reading of the host's answers: well-formed ones come through field for field, and an answer
 * that breaks the contract is refused with an error naming the field, before the page acts on it.
 */
import { describe, expect, it } from 'vitest';
import { parseListing, parseVisitStatus } from './hosted-api.ts';

const fp = (digit: string) => digit.repeat(64);

function listing(): Record<string, unknown> {
  return {
    models: [
      { id: 'stories260K', label: 'stories', task: 'generate', default: true, maxNewTokens: 48 },
      { id: 'bert-shakespeare', label: 'bert', task: 'classify', default: false, maxNewTokens: 0 },
    ],
    parties: [0, 1, 2].map((index) => ({ index, fingerprint: fp(String(index + 1)), safetyCode: `code ${index}` })),
    maxConcurrent: 1,
    seats: true,
  };
}

function readyStatus(): Record<string, unknown> {
  return {
    state: 'ready',
    position: 0,
    session: {
      coordinator: 'http://127.0.0.1:9000',
      sessionId: 'a'.repeat(32),
      clientSecret: 'b'.repeat(32),
      parties: [fp('1'), fp('4'), fp('3')],
      model: { id: 'stories260K', task: 'generate' },
      seatSecret: 'c'.repeat(32),
    },
  };
}

describe('parseListing', () => {
  it('keeps every field of a well-formed listing', () => {
    const l = parseListing(listing());
    expect(l.models.map((m) => [m.id, m.task, m.default, m.maxNewTokens])).toEqual([
      ['stories260K', 'generate', true, 48],
      ['bert-shakespeare', 'classify', false, 0],
    ]);
    expect(l.parties.map((p) => p.fingerprint)).toEqual([fp('1'), fp('2'), fp('3')]);
    expect([l.maxConcurrent, l.seats]).toEqual([1, true]);
  });

  it.each([
    ['no models', (l: Record<string, any>) => (l.models = []), 'names no models'],
    ['an unknown task', (l: Record<string, any>) => (l.models[1].task = 'translate'), 'models[1].task must be "generate" or "classify", got "translate"'],
    ['a fractional token limit', (l: Record<string, any>) => (l.models[0].maxNewTokens = 2.5), 'models[0].maxNewTokens is not a whole number'],
    ['two parties', (l: Record<string, any>) => l.parties.pop(), 'must name 3 parties'],
    ['parties out of order', (l: Record<string, any>) => (l.parties[1].index = 2), 'parties[1].index must be 1, got 2'],
    ['a short fingerprint', (l: Record<string, any>) => (l.parties[2].fingerprint = 'abc'), "parties[2].fingerprint must be a key fingerprint"],
    ['seats missing', (l: Record<string, any>) => delete l.seats, '"seats" is not true or false'],
  ])('refuses a listing with %s, naming the field', (_what, spoil, message) => {
    const l = listing();
    spoil(l);
    expect(() => parseListing(l)).toThrow(message);
  });

  it('refuses an answer that is not an object', () => {
    expect(() => parseListing([1, 2])).toThrow('the host listing is not an object');
  });
});

describe('parseVisitStatus', () => {
  it('reads a queued visit (no session) and a ready one (with the session and seat secret)', () => {
    expect(parseVisitStatus({ state: 'queued', position: 2 })).toEqual({ state: 'queued', position: 2 });
    const s = parseVisitStatus(readyStatus());
    expect(s.session?.parties).toEqual([fp('1'), fp('4'), fp('3')]);
    expect(s.session?.seatSecret).toBe('c'.repeat(32));
    expect(s.session?.model).toEqual({ id: 'stories260K', task: 'generate' });
  });

  it('keeps the error of a failed visit', () => {
    expect(parseVisitStatus({ state: 'failed', position: 0, error: 'party 2 disconnected' }).error).toBe('party 2 disconnected');
  });

  it.each([
    ['an unknown state', (s: Record<string, any>) => (s.state = 'paused'), 'unknown state "paused"'],
    ['a negative position', (s: Record<string, any>) => (s.position = -1), 'position is not a whole number'],
    ['no client secret', (s: Record<string, any>) => delete s.session.clientSecret, "session.clientSecret is not a non-empty string"],
    ['a bad party key', (s: Record<string, any>) => (s.session.parties[1] = 'zz'), 'session.parties[1] must be a key fingerprint'],
    ['an unknown task', (s: Record<string, any>) => (s.session.model.task = 'chat'), 'session.model.task must be "generate" or "classify"'],
  ])('refuses a status with %s, naming the field', (_what, spoil, message) => {
    const s = readyStatus();
    spoil(s);
    expect(() => parseVisitStatus(s)).toThrow(message);
  });
});
