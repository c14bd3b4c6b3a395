/** Backend calibrations kept in the browser's IndexedDB (idb-keyval), one entry per device key. */
import { get, set } from 'idb-keyval';
import { isCalibration, type Calibration, type CalibrationCache } from './calibrate-cache.ts';

const PREFIX = 'puma-backend-calibration:';

export class IdbCalibrationCache implements CalibrationCache {
  async get(key: string): Promise<Calibration | undefined> {
    const v: unknown = await get(PREFIX + key);
    return isCalibration(v) && v.key === key ? v : undefined;
  }
  async set(key: string, c: Calibration): Promise<void> {
    await set(PREFIX + key, c);
  }
}
