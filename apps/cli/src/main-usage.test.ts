/**
 * The top-level usage: `puma --help` (and -h, help) prints it on stdout and exits 0, naming every command; an
 * unknown or missing command is a usage error (exit 2) with the usage on stderr.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './main.ts';

afterEach(() => vi.restoreAllMocks());

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  return { out, err };
}

describe('puma usage', () => {
  it.each(['--help', '-h', 'help'])('%s prints the usage on stdout and exits 0', async (flag) => {
    const { out, err } = capture();
    expect(await main([flag])).toBe(0);
    expect(err).toEqual([]);
    const text = out.join('\n');
    for (const cmd of ['generate', 'chat', 'classify', 'eval', 'plan', 'share', 'identity', 'session', 'owner', 'party', 'host', 'client']) {
      expect(text).toContain(`puma ${cmd}`);
    }
    expect(text).toContain('--ice-servers');
  });

  it('an unknown or missing command is a usage error naming it', async () => {
    const { out, err } = capture();
    expect(await main(['bogus'])).toBe(2);
    expect(await main([])).toBe(2);
    expect(out).toEqual([]);
    expect(err[0]).toMatch(/^puma: unknown command "bogus"\nusage:/);
    expect(err[1]).toMatch(/^puma: no command given\nusage:/);
  });
});

describe('puma <command> --help', () => {
  it.each([
    ['generate', '--max-new-tokens'], ['classify', '--text'], ['chat', '--system'], ['eval', '--window-size'], ['plan', '--network'],
    ['share', '--out'], ['identity', '--key'], ['session', 'create'], ['owner', '--bundles'], ['party', '--weight-cache-mib'],
    ['host', '--max-concurrent'], ['client', '--prompt'],
  ])('%s --help prints its usage on stdout and exits 0, running nothing', async (cmd, option) => {
    const { out, err } = capture();
    expect(await main([cmd, '--help'])).toBe(0);
    expect(err).toEqual([]);
    expect(out.join('\n')).toContain(`puma ${cmd}`);
    expect(out.join('\n')).toContain(option);
  });

  it('generate refuses sampling options that --reveal argmax would silently ignore (exit 2, naming them)', async () => {
    const { out, err } = capture();
    expect(await main(['generate', '--reveal', 'argmax', '--temperature', '0.8'])).toBe(2);
    expect(await main(['generate', '--reveal', 'argmax', '--top-k', '5'])).toBe(2);
    expect(out).toEqual([]);
    for (const e of err) expect(e).toMatch(/^puma: --temperature and --top-k sample from the logits the client receives, and with --reveal argmax it receives only the top token/);
  });

  it('an unknown option of generate or classify is a usage error (exit 2) naming the option, with the usage', async () => {
    const { out, err } = capture();
    expect(await main(['generate', '--max-new-token', '3'])).toBe(2);
    expect(await main(['classify', '--txt', 'hi'])).toBe(2);
    expect(out).toEqual([]);
    expect(err[0]).toMatch(/^puma: Unknown option '--max-new-token'.*\nusage:/s);
    expect(err[1]).toMatch(/^puma: Unknown option '--txt'.*\nusage:/s);
  });
});
