/** What the global setup hands to the test files (vitest's provide/inject), and how Chromium runs. */

export interface TierContext {
  /** Why the tier is skipped (only outside CI), or null. */
  skip: string | null;
  /** The frontend's base URL, without a trailing slash. */
  baseUrl: string;
  /** tests/apps.py's control URL (stop/start the backend), or null against an external URL. */
  control: string | null;
  /** playwright-core's endpoint of the shared Chromium. */
  wsEndpoint: string;
  /** Where screenshots go (git-ignored; CI keeps them as artefacts). */
  screenshots: string;
  /** Carried by every title the tests create, so the run can delete them afterwards. */
  tag: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    tier: TierContext;
  }
}

/**
 * Headless Debian Chromium as root in a closed network: no sandbox (root), no GPU, and none of
 * the background traffic (component updates, sync, QUIC) that would only hit refused connections.
 * playwright-core gives every launch a fresh, empty profile directory.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
