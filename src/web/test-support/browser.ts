import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`, scripts/install-deps.sh). */
export const CHROMIUM = '/usr/bin/chromium';

export function browserSkipReason(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium)`;
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

export interface ConsoleTab {
  readonly page: Page;
  /** Every request the page made, in order. */
  readonly requests: RecordedRequest[];
  /** Console errors and uncaught exceptions (CSP violations are reported there too). */
  readonly errors: string[];
  close(): Promise<void>;
}

export interface ConsoleBrowser {
  readonly context: BrowserContext;
  /** A new tab on `url`, recording its requests and errors. */
  open(url: string): Promise<ConsoleTab>;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile directory, removed on close. */
export async function launchConsoleBrowser(): Promise<ConsoleBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'pgbranch-console-profile-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1360, height: 860 },
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    async open(url) {
      const page = await context.newPage();
      const requests: RecordedRequest[] = [];
      const errors: string[] = [];
      page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), authorization: r.headers().authorization }));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(url);
      return { page, requests, errors, close: () => page.close() };
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
