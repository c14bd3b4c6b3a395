/** Small helpers that link.ts, link-auth-exchange.ts and link-setup.ts share: error wording and polling waits. */

/** How often a polling wait looks again. */
export const POLL_MS = 10;

/** Resolves true once `cond()` holds, or false at `deadline` (a Date.now() value). */
export async function waitUntil(cond: () => boolean, deadline: number): Promise<boolean> {
  while (!cond()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return true;
}

/** The text of a thrown value, for an error message. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
