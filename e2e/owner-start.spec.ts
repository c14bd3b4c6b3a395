/**
 * The owner page reads model files picked while it is still starting. Its file input's change listener is set
 * once the page has its identity (IndexedDB) and its coordinator; a pick before that fired a change event nobody
 * heard, and the page waited forever with its files shown as picked (bench browsers, GPT-2-base on a loaded
 * machine: the owner stayed "waiting" and the parties "connecting"). Here the identity's IndexedDB open is held
 * back 5 s so the pick always comes first.
 */
import { expect, test } from '@playwright/test';
import { Lab, MODEL_FILES, ownerState } from './lab.ts';

const HOLD_MS = 5_000;

test('files picked before the owner page has started are read once it has', async ({ browser }) => {
  const lab = await Lab.start(browser);
  try {
    const links = await lab.newSession();
    await lab.owner.context.addInitScript((ms) => {
      const open = indexedDB.open.bind(indexedDB);
      indexedDB.open = (...args: Parameters<IDBFactory['open']>) => {
        const req = open(...args);
        const held = new EventTarget();
        // Success and error reach the page's handlers only after `ms`; an upgrade at once (its transaction
        // is active only while its event is dispatched).
        for (const type of ['success', 'error', 'upgradeneeded', 'blocked']) {
          req.addEventListener(type, () => {
            if (type === 'success' || type === 'error') setTimeout(() => held.dispatchEvent(new Event(type)), ms);
            else held.dispatchEvent(new Event(type));
          });
        }
        return new Proxy(req, {
          get(target, key) {
            if (key === 'addEventListener') return held.addEventListener.bind(held);
            const v: unknown = Reflect.get(target, key);
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
          set(_target, key, value) {
            if (typeof key === 'string' && key.startsWith('on')) {
              held.addEventListener(key.slice(2), value as EventListener);
              return true;
            }
            return Reflect.set(req, key, value);
          },
        });
      };
    }, HOLD_MS);
    const page = lab.owner.page;
    await page.goto(links.ownerLink);
    await page.locator('#files').setInputFiles(MODEL_FILES);
    // The pick happened while the page was held back: no safety code shown yet.
    expect((await ownerState(page)).safetyCode).toBeNull();
    await page.waitForFunction(() => !['waiting', 'checking'].includes(window.pumaOwner?.state.phase ?? 'waiting'), null, { timeout: 30_000, polling: 200 });
    const s = await ownerState(page);
    expect(s.error).toBeNull();
    expect(s.phase).toBe('connecting');
    expect(s.modelId).toBe('stories260K');
  } finally {
    await lab.close();
  }
});
