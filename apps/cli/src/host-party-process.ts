/**
 * One hosted party of one visit: a `puma party` child process (as an operator would start it on its own
 * machine) with the host's key file and share cache for that party. Its slot secret goes through a file only
 * its owner can read (never the command line, which other users of the machine can see). Its stderr status
 * lines tell when it starts computing; its exit tells how the session ended.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const PUMA_BIN = new URL('../bin/puma.mjs', import.meta.url).pathname;
/** How long a stopped party may take to tell its peers and exit before it is killed. */
const STOP_GRACE_MS = 1_000;
/** Lines of a party's stderr kept for the error message of a failed visit. */
const KEPT_LINES = 40;

export interface PartyProcessOptions {
  party: 0 | 1 | 2;
  coordinator: string;
  sessionId: string;
  secret: string;
  keyFile: string;
  cacheDir: string;
  /** Where the secret file is written (a folder only the host's user can read). */
  runDir: string;
  /** Fingerprints of the peers this party pins (party<j>=, owner=). */
  peers: string;
  /** How long the party waits for its peers (the visitor's page among them). */
  connectTimeoutS: number;
  /** Extra flags passed through (ICE configuration). */
  extraArgs: readonly string[];
  /** Each stderr line, for the host's log. */
  onLine: (line: string) => void;
}

export interface PartyExit {
  ok: boolean;
  /** The party's own last error line (puma party: ...), or how it ended. */
  message: string;
}

export class PartyProcess {
  readonly exited: Promise<PartyExit>;
  /** Resolves when the party reports its first job step running. */
  readonly running: Promise<void>;
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];

  private constructor(o: PartyProcessOptions, secretFile: string) {
    const args = [
      PUMA_BIN, 'party', '--coordinator', o.coordinator, '--session', o.sessionId, '--party', String(o.party),
      '--secret-file', secretFile, '--key', o.keyFile, '--cache', o.cacheDir, '--peers', o.peers, '--backend', 'wasm',
      '--connect-timeout', String(o.connectTimeoutS), ...o.extraArgs,
    ];
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let markRunning: () => void = () => {};
    this.running = new Promise((resolve) => (markRunning = resolve));
    let pending = '';
    this.child.stderr!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        this.lines.push(line);
        if (this.lines.length > KEPT_LINES) this.lines.shift();
        if (line.startsWith(`party ${o.party} running:`)) markRunning();
        o.onLine(line);
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (e) => resolve({ ok: false, message: `party ${o.party} could not start: ${e.message}` }));
      this.child.once('close', (code, signal) => {
        void rm(secretFile, { force: true });
        // Its own error line, else (it failed before its command ran) the last thing it printed.
        const own = [...this.lines].reverse().find((l) => l.startsWith('puma party: '))?.slice('puma '.length);
        const last = this.lines.filter((l) => l.trim() !== '').at(-1);
        const how = `party ${o.party} ended with ${signal ?? `exit code ${code}`}`;
        if (code === 0) resolve({ ok: true, message: `party ${o.party} finished` });
        else resolve({ ok: false, message: own ?? (last === undefined ? how : `${how}: ${last}`) });
      });
    });
  }

  static async start(o: PartyProcessOptions): Promise<PartyProcess> {
    const secretFile = path.join(o.runDir, `${o.sessionId}-party${o.party}.secret`);
    await writeFile(secretFile, o.secret, { mode: 0o600 });
    return new PartyProcess(o, secretFile);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Asks the party to stop (it tells its peers why), kills it after a short grace, and resolves once it exited. */
  async stop(): Promise<PartyExit> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }
}
