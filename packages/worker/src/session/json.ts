/** JSON messages on a Channel: UTF-8 bytes, decoded with an error that names what was expected. */
export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function decodeJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`${what} is not UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}
