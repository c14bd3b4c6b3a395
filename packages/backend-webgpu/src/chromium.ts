/**
 * Debian's Chromium as every browser test and tool here launches it (see ../shared/ENVIRONMENT.md): the
 * browser tests of this package, the transport lab (scripts/bench) and the e2e suite. It lives in this package,
 * the lowest that launches Chromium, so every importer's imports point down (`@puma/backend-webgpu/chromium`).
 * WebGPU on SwiftShader needs --enable-unsafe-webgpu; loopback WebRTC needs --allow-loopback-in-peer-connection
 * (and the microphone permission, granted per context); the --disable-* flags keep Chromium from dialing out on
 * a network that refuses every connection; --no-sandbox because the tests run as root.
 */
export const CHROMIUM = process.env.PUMA_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--allow-loopback-in-peer-connection',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
