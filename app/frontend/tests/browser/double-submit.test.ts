/** Issue 12, problem 1: a double-click on Add, or Enter pressed twice, must create one todo. */
import type { Page, Request, Route } from 'playwright-core';
import { expect, it } from 'vitest';

import { api, browserSuite, row, uniqueTitle, useBrowser } from './support';

declare global {
  interface Window {
    todoPosts: number;
  }
}

/**
 * Counts, in the page, every fetch() that POSTs a todo (the count is exact as soon as the click
 * or key press that caused it returns), and holds those requests until `release()`, so the second
 * click or Enter surely lands while the first request is still in flight, as on a slow network.
 * `settled()` waits until every POST the page sent has been answered.
 */
async function holdPosts(page: Page) {
  await page.evaluate(() => {
    window.todoPosts = 0;
    const original = window.fetch;
    window.fetch = (input, init) => {
      if (init?.method === 'POST' && String(input).endsWith('/api/backend/api/todos')) window.todoPosts += 1;
      return original(input, init);
    };
  });
  let answered = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const isPost = (request: Request) =>
    request.method() === 'POST' && request.url().endsWith('/api/backend/api/todos');
  page.on('requestfinished', (request) => void (isPost(request) && (answered += 1)));
  page.on('requestfailed', (request) => void (isPost(request) && (answered += 1)));
  await page.route('**/api/backend/api/todos', async (route: Route) => {
    if (isPost(route.request())) await released;
    await route.fallback();
  });
  return {
    release,
    sent: () => page.evaluate(() => window.todoPosts),
    settled: async (sent: number) => expect.poll(() => answered).toBe(sent),
  };
}

/** Submit twice with `twice` while the first POST is held; the server and the list get one todo. */
async function submitsOnce(page: Page, title: string, twice: () => Promise<void>): Promise<void> {
  const held = await holdPosts(page);
  await page.getByRole('textbox', { name: 'New todo' }).fill(title);
  await twice();
  const sent = await held.sent();
  held.release();
  await held.settled(sent);
  expect(sent).toBe(1);
  expect(await api.titled(title)).toHaveLength(1);
  await row(page, title).waitFor();
  expect(await row(page, title).count()).toBe(1);
}

browserSuite('#1 double submit', () => {
  const browser = useBrowser();

  it('a double-click on Add sends one POST and creates one todo', async () => {
    const page = await browser.open();
    await submitsOnce(page, uniqueTitle('Double-clicked'), () =>
      page.getByRole('button', { name: 'Add', exact: true }).dblclick(),
    );
  });

  it('Enter pressed twice sends one POST and creates one todo', async () => {
    const page = await browser.open();
    const input = page.getByRole('textbox', { name: 'New todo' });
    await submitsOnce(page, uniqueTitle('Entered twice'), async () => {
      await input.press('Enter');
      await input.press('Enter');
    });
  });
});
