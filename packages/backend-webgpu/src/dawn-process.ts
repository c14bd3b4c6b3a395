/**
 * Runs a Node script that uses WebGPU through Dawn in a child process. Dawn's Vulkan loader reads
 * LD_LIBRARY_PATH only at process start, so a process that did not start with a Vulkan setup cannot get one
 * later; the child starts with it. A Vulkan setup the caller already has (VK_ICD_FILENAMES set) is kept;
 * otherwise the child points Dawn at the SwiftShader that Debian's chromium package ships.
 * The script prints one JSON document as its last line of stdout.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Environment that lets Dawn find SwiftShader. */
export const SWIFTSHADER_ENV = {
  VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json',
  LD_LIBRARY_PATH: '/usr/lib/chromium',
} as const;

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Starts `node --import tsx script ...args`, kills it after timeoutMs, and resolves with its parsed JSON line. */
export function runDawnProcess<R>(script: string, args: readonly string[], timeoutMs: number): Promise<R> {
  const env = { ...process.env };
  if (!env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES)) {
    env.VK_ICD_FILENAMES = SWIFTSHADER_ENV.VK_ICD_FILENAMES;
    env.LD_LIBRARY_PATH = [SWIFTSHADER_ENV.LD_LIBRARY_PATH, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${script}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const why = signal === 'SIGKILL' ? `was killed after ${timeoutMs} ms` : `exited with ${signal ?? code}`;
        reject(new Error(`${script} ${why}: ${err.trim().slice(-2000) || '(no stderr)'}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as R);
      } catch (e) {
        reject(new Error(`${script} printed no JSON report (${(e as Error).message}): ${out.slice(-500)} ${err.slice(-1000)}`));
      }
    });
  });
}
