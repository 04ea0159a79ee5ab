/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core) for end-to-end tests: fake media devices, the
 * microphone fed from a WAV file, and a page on the server's own origin that runs a test script bundled by esbuild.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(options: { microphoneWav: string }): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${options.microphoneWav}`,
      '--autoplay-policy=no-user-gesture-required',
      // Real host addresses in ICE candidates (not mDNS names a relay cannot resolve).
      '--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults',
    ],
  });
}

const bundles = new Map<string, string>();

/** A test script bundled for the browser (once per run). */
export async function bundle(entry: string): Promise<string> {
  const cached = bundles.get(entry);
  if (cached) return cached;
  const result = await build({ entryPoints: [entry], bundle: true, write: false, format: 'iife', platform: 'browser', target: 'chrome120', logLevel: 'silent' });
  const code = result.outputFiles[0]?.text ?? '';
  bundles.set(entry, code);
  return code;
}

/** Opens `origin`/`pathname` as a page that only runs `script` (the server is not asked for it). */
export async function openScriptPage(browser: Browser, origin: string, pathname: string, script: string): Promise<Page> {
  const context = await browser.newContext({ permissions: ['microphone'] });
  const page = await context.newPage();
  const url = `${origin}${pathname}`;
  await page.route(url, (route) => route.fulfill({ contentType: 'text/html', body: `<!doctype html><html><head><meta charset="utf-8"><title>test</title></head><body><script>${script.replace(/<\/script/gi, '<\\/script')}</script></body></html>` }));
  await page.goto(url);
  return page;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
