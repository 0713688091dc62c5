/** The everyday flow, in light and dark: add, complete, reload, delete; titles are text, not markup. */
import { expect, it } from 'vitest';

import { addTodo, api, browserSuite, loaded, row, screenshot, uniqueTitle, useBrowser } from './support';

browserSuite('everyday flow', () => {
  const browser = useBrowser();

  it.each(['light', 'dark'] as const)('adds, completes, reloads and deletes a todo (%s)', async (colorScheme) => {
    const page = await browser.open({ colorScheme });
    const done = uniqueTitle('Buy milk');
    const open = uniqueTitle('Book the dentist');
    await addTodo(page, done);
    await addTodo(page, open);
    await row(page, done).getByRole('checkbox').check();
    await expect.poll(async () => (await api.titled(done))[0]?.completed).toBe(true);

    await page.reload();
    await loaded(page);
    expect(await row(page, done).getByRole('checkbox').isChecked()).toBe(true);
    expect(await row(page, open).getByRole('checkbox').isChecked()).toBe(false);
    await screenshot(page, `list-${colorScheme}`);

    await row(page, open).getByRole('button', { name: `Delete ${open}`, exact: true }).click();
    await row(page, open).getByRole('button', { name: `Yes, delete ${open}`, exact: true }).click();
    await row(page, open).waitFor({ state: 'detached' });
    expect(await api.titled(open)).toHaveLength(0);
  });

  it('shows a title with markup as text', async () => {
    const page = await browser.open();
    const title = uniqueTitle('<img src=x onerror="document.title=\'pwned\'"> <b>bold</b>');
    await addTodo(page, title);
    expect(await row(page, title).locator('img, b').count()).toBe(0);
    expect(await page.title()).toBe('Todo');
  });
});
