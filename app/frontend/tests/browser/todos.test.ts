/** The everyday flow, in light and dark: add and reload; titles are text, not markup. */
import { expect, it } from 'vitest';

import { addTodo, api, browserSuite, loaded, row, screenshot, uniqueTitle, useBrowser } from './support';

browserSuite('everyday flow', () => {
  const browser = useBrowser();

  it.each(['light', 'dark'] as const)('adds a todo that is still there after a reload (%s)', async (colorScheme) => {
    const page = await browser.open({ colorScheme });
    const title = uniqueTitle('Buy milk');
    await addTodo(page, title);
    expect(await api.titled(title)).toHaveLength(1);
    await page.reload();
    await loaded(page);
    expect(await row(page, title).count()).toBe(1);
    await screenshot(page, `list-${colorScheme}`);
  });

  it('shows a title with markup as text', async () => {
    const page = await browser.open();
    const title = uniqueTitle('<img src=x onerror="document.title=\'pwned\'"> <b>bold</b>');
    await addTodo(page, title);
    expect(await row(page, title).locator('img, b').count()).toBe(0);
    expect(await page.title()).toBe('Todo');
  });
});
