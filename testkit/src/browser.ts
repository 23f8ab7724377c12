import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`), never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * A headless Debian Chromium driven by playwright-core, with the flags this machine needs
 * (../shared/DESIGN.md: without the background-networking ones Chromium's own connections are
 * refused many at a time) and a fresh profile. Close it when done.
 */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'sy-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let closing: Promise<void> | undefined;
  return {
    context,
    close() {
      closing ??= context.close().then(() => rmSync(profile, { recursive: true, force: true }));
      return closing;
    },
  };
}
