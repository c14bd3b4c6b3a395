/**
 * Backend calibrations kept in one JSON file in Node (the CLI's cache dir): { [key]: Calibration }. Written
 * whole to a temporary file and renamed, so a crash never leaves half a file. An unreadable file or entry is
 * not an error: it only means measuring again (and the file is rewritten).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCalibration, type Calibration, type CalibrationCache } from './calibrate-cache.ts';

/** $PUMA_CALIBRATION_FILE, else backend-calibration.json in ~/.cache/puma-web (beside the model cache). */
export function defaultCalibrationFile(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.PUMA_CALIBRATION_FILE;
  return given ? path.resolve(given) : path.join(os.homedir(), '.cache', 'puma-web', 'backend-calibration.json');
}

/** The CPU for the device key: model and logical core count. */
export function nodeCpu(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}, ${os.platform()} ${os.arch()}`;
}

export class FileCalibrationCache implements CalibrationCache {
  constructor(readonly file: string) {}

  private async readAll(): Promise<Record<string, unknown>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error(`backend calibration cache ${this.file} cannot be read: ${(e as Error).message}`);
    }
    try {
      const v: unknown = JSON.parse(text);
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }

  async get(key: string): Promise<Calibration | undefined> {
    const v = (await this.readAll())[key];
    return isCalibration(v) && v.key === key ? v : undefined;
  }

  async set(key: string, c: Calibration): Promise<void> {
    const all = await this.readAll();
    all[key] = c;
    await mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`);
    await rename(tmp, this.file);
  }
}
