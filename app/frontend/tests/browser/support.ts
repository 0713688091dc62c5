/** Helpers of the browser test files: the shared Chromium, the app's page, its API, axe-core. */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';

import type { AxeResults, RunOptions } from 'axe-core';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Locator,
  type Page,
} from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, inject } from 'vitest';

import './tier';

export const tier = inject('tier');

/** `describe`, or `describe.skip` when the global setup could not run the tier (never in CI). */
export const browserSuite = tier.skip ? describe.skip : describe;

/** Playwright's waits (locators, navigation) give up after this long. */
const ACTION_TIMEOUT_MS = 15_000;

export interface Todo {
  id: number;
  title: string;
  completed: boolean;
}

/** A unique title carrying the run's tag (the global teardown deletes tagged todos). */
export function uniqueTitle(label: string): string {
  return `${label} ${tier.tag}-${randomBytes(2).toString('hex')}`;
}

/** The Todo API through the frontend's proxy, as the page sees it. */
export const api = {
  url: `${tier.baseUrl}/api/backend/api/todos`,

  async list(): Promise<Todo[]> {
    const response = await fetch(this.url, { cache: 'no-store' });
    if (!response.ok) throw new Error(`GET ${this.url}: HTTP ${response.status}`);
    return (await response.json()) as Todo[];
  },

  async create(title: string): Promise<Todo> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title }),
    });
    if (response.status !== 201) throw new Error(`POST ${this.url}: HTTP ${response.status}`);
    return (await response.json()) as Todo;
  },

  async titled(title: string): Promise<Todo[]> {
    return (await this.list()).filter((todo) => todo.title === title);
  },
};

/**
 * Registers the hooks of a test file: connect to the shared Chromium before its tests, close the
 * contexts each test opened after it, disconnect at the end. Call inside the file's suite.
 */
export function useBrowser(): { open(options?: BrowserContextOptions): Promise<Page> } {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    browser = await chromium.connect(tier.wsEndpoint);
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    /** A new context (own cookies, colour scheme, viewport) on the app's page, hydrated and loaded. */
    async open(options: BrowserContextOptions = {}): Promise<Page> {
      if (!browser) throw new Error('useBrowser(): not connected');
      const context = await browser.newContext({ baseURL: tier.baseUrl, ...options });
      contexts.push(context);
      context.setDefaultTimeout(ACTION_TIMEOUT_MS);
      const page = await context.newPage();
      await page.goto('/');
      await loaded(page);
      return page;
    },
  };
}

/** The first load is over (the page is hydrated and asked the backend for the list). */
export async function loaded(page: Page): Promise<void> {
  await page.getByText('Loading…').waitFor({ state: 'hidden' });
}

/** The app's alert (Next.js adds an empty role="alert" route announcer outside <main>). */
export function alert(page: Page): Locator {
  return page.getByRole('main').getByRole('alert');
}

/** The row of the todo with this title. */
export function row(page: Page, title: string): Locator {
  return page.getByRole('listitem').filter({ hasText: title });
}

/** Type a title in the new-todo box and add it with the Add button. */
export async function addTodo(page: Page, title: string): Promise<void> {
  await page.getByRole('textbox', { name: 'New todo' }).fill(title);
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await row(page, title).waitFor();
}

/**
 * Make the next todo the page adds reach the backend with a title of only U+0085, which the
 * backend rejects with a 422 whatever the page checks: a real validation error on screen.
 */
// route.continue(), not fallback(): the changed body must reach the backend.
export async function rejectNextAdd(page: Page): Promise<void> {
  await page.route(
    '**/api/backend/api/todos',
    (route) =>
      route.request().method() === 'POST'
        ? route.continue({ postData: JSON.stringify({ title: '\u0085' }) })
        : route.fallback(),
    { times: 1 },
  );
}

/** Whether `target` has the keyboard focus. */
export function isFocused(target: Locator): Promise<boolean> {
  return target.evaluate((element) => element === document.activeElement);
}

/** Press Tab until `target` has the focus (at most `limit` times), as a keyboard user would. */
export async function tabTo(page: Page, target: Locator, limit = 200): Promise<void> {
  for (let presses = 0; presses < limit; presses += 1) {
    if (await isFocused(target)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab did not reach ${target} in ${limit} presses`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(tier.screenshots, `${name}.png`), fullPage: true });
}

/** The width the page scrolls to beyond its viewport (0 when nothing sticks out sideways). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/**
 * WCAG contrast ratio of `target`'s text against what is painted behind it: the nearest ancestor
 * with a background colour, else the page's canvas (which axe-core would take to be white even
 * in dark mode). Opaque colours assumed, as in this app.
 */
export async function textContrast(target: Locator): Promise<number> {
  const [text, background] = await target.evaluate((element) => {
    const canvas = (): string => {
      const probe = document.createElement('div');
      probe.style.backgroundColor = 'Canvas';
      document.body.append(probe);
      const color = getComputedStyle(probe).backgroundColor;
      probe.remove();
      return color;
    };
    let behind = 'rgba(0, 0, 0, 0)';
    for (let node: Element | null = element; node && behind === 'rgba(0, 0, 0, 0)'; node = node.parentElement) {
      behind = getComputedStyle(node).backgroundColor;
    }
    return [getComputedStyle(element).color, behind === 'rgba(0, 0, 0, 0)' ? canvas() : behind];
  });
  const luminance = (css: string): number => {
    const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((value) => {
      const channel = Number(value) / 255;
      return channel <= 0.04045 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [lighter, darker] = [luminance(text), luminance(background)].sort((a, b) => b - a);
  return (lighter + 0.05) / (darker + 0.05);
}

declare global {
  interface Window {
    axe: typeof import('axe-core');
  }
}

const AXE_SCRIPT = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe-core's violations on the page (or the part `selector` picks) as `rule: target` lines (empty when there are none). */
export async function axeViolations(page: Page, options: RunOptions = {}, selector?: string): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE_SCRIPT });
  const results: AxeResults = await page.evaluate(
    ([runOptions, include]) =>
      window.axe.run(include ? { include: [include] } : document, { ...runOptions, resultTypes: ['violations'] }),
    [options, selector ?? null] as const,
  );
  return results.violations.flatMap((violation) =>
    violation.nodes.map((node) => `${violation.id}: ${node.target.join(' ')} (${node.failureSummary ?? ''})`),
  );
}
