/**
 * Issue 12, problem 5: edit a title, confirm a delete with the focus kept in the list, the title as
 * the checkbox's label, readable error text in dark mode, a favicon. And the whole flow by keyboard.
 */
import { expect, it } from 'vitest';

import {
  addTodo,
  alert,
  api,
  axeViolations,
  browserSuite,
  isFocused,
  rejectNextAdd,
  row,
  screenshot,
  tabTo,
  textContrast,
  tier,
  uniqueTitle,
  useBrowser,
} from './support';

browserSuite('#5 missing pieces', () => {
  const browser = useBrowser();

  it('edits a title in place; Escape cancels an edit', async () => {
    const page = await browser.open();
    const before = uniqueTitle('Call the plumber');
    const after = uniqueTitle('Call the electrician');
    await addTodo(page, before);

    await row(page, before).getByRole('button', { name: `Edit ${before}`, exact: true }).click();
    const box = page.getByRole('textbox', { name: 'Edit title' });
    expect(await box.inputValue()).toBe(before);
    expect(await isFocused(box)).toBe(true);
    await screenshot(page, 'edit');
    await box.fill(after);
    await box.press('Enter');
    await row(page, after).waitFor();
    expect(await api.titled(after)).toHaveLength(1);
    expect(await api.titled(before)).toHaveLength(0);
    await expect.poll(() => isFocused(page.getByRole('button', { name: `Edit ${after}`, exact: true }))).toBe(true);

    await page.getByRole('button', { name: `Edit ${after}`, exact: true }).press('Enter');
    await page.getByRole('textbox', { name: 'Edit title' }).fill('not saved');
    await page.keyboard.press('Escape');
    await row(page, after).waitFor();
    expect(await api.titled(after)).toHaveLength(1);
    expect(await isFocused(page.getByRole('button', { name: `Edit ${after}`, exact: true }))).toBe(true);
  });

  it('Delete asks first; after the delete the focus moves to the next row', async () => {
    const page = await browser.open();
    const [first, second, third] = [uniqueTitle('First'), uniqueTitle('Second'), uniqueTitle('Third')];
    for (const title of [first, second, third]) await addTodo(page, title);

    await row(page, second).getByRole('button', { name: `Delete ${second}`, exact: true }).click();
    const confirm = row(page, second).getByRole('button', { name: `Yes, delete ${second}`, exact: true });
    await confirm.waitFor();
    expect(await isFocused(confirm)).toBe(true);
    expect(await api.titled(second)).toHaveLength(1);
    await screenshot(page, 'delete-confirm');

    await row(page, second).getByRole('button', { name: `Keep ${second}`, exact: true }).click();
    const deleteSecond = row(page, second).getByRole('button', { name: `Delete ${second}`, exact: true });
    expect(await isFocused(deleteSecond)).toBe(true);

    await deleteSecond.press('Enter');
    await confirm.press('Enter');
    await row(page, second).waitFor({ state: 'detached' });
    expect(await api.titled(second)).toHaveLength(0);
    await expect
      .poll(() => isFocused(row(page, third).getByRole('button', { name: `Delete ${third}`, exact: true })))
      .toBe(true);
  });

  it("the title is the checkbox's label: clicking it completes the todo", async () => {
    const page = await browser.open();
    const title = uniqueTitle('Water the plants');
    await addTodo(page, title);
    await row(page, title).getByText(title, { exact: true }).click();
    await expect.poll(async () => (await api.titled(title))[0]?.completed).toBe(true);
    expect(await page.getByRole('checkbox', { name: title, exact: true }).isChecked()).toBe(true);
  });

  it('error text has a contrast of at least 4.5:1 in dark mode', async () => {
    const page = await browser.open({ colorScheme: 'dark' });
    await rejectNextAdd(page);
    await page.getByRole('textbox', { name: 'New todo' }).fill(uniqueTitle('Rejected'));
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await alert(page).waitFor();
    await screenshot(page, 'validation-error-dark');
    expect(await textContrast(alert(page))).toBeGreaterThanOrEqual(4.5);
    expect(await axeViolations(page, { runOnly: ['color-contrast'] }, 'main [role="alert"]')).toEqual([]);
  });

  it('has a favicon: /favicon.ico is an image, and the page links an icon that loads', async () => {
    const favicon = await fetch(`${tier.baseUrl}/favicon.ico`);
    expect(favicon.status).toBe(200);
    expect(favicon.headers.get('content-type')).toMatch(/^image\//);

    const page = await browser.open();
    const href = await page.locator('link[rel~="icon"]').first().getAttribute('href');
    expect(href).not.toBeNull();
    const icon = await page.request.get(href!);
    expect(icon.status()).toBe(200);
  });

  it('the whole flow works by keyboard alone', async () => {
    const page = await browser.open();
    const title = uniqueTitle('Typed');
    const renamed = uniqueTitle('Renamed');
    const input = page.getByRole('textbox', { name: 'New todo' });
    await tabTo(page, input);
    await page.keyboard.type(title);
    await page.keyboard.press('Enter');
    await row(page, title).waitFor();
    expect(await input.inputValue()).toBe('');
    expect(await isFocused(input)).toBe(true);

    const todo = row(page, title);
    await tabTo(page, todo.getByRole('checkbox'));
    await page.keyboard.press('Space');
    await expect.poll(async () => (await api.titled(title))[0]?.completed).toBe(true);

    await tabTo(page, todo.getByRole('button', { name: `Edit ${title}`, exact: true }));
    await page.keyboard.press('Enter');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(renamed);
    await page.keyboard.press('Enter');
    await row(page, renamed).waitFor();

    await tabTo(page, row(page, renamed).getByRole('button', { name: `Delete ${renamed}`, exact: true }));
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await row(page, renamed).waitFor({ state: 'detached' });
    expect(await api.titled(renamed)).toHaveLength(0);
    // The focus stays in the list (the row that took its place), or on the new-todo box when the
    // list became empty; never lost to <body>.
    const focusInListOrBox = () =>
      page.evaluate(
        () =>
          !!document.activeElement?.closest('ul') || document.activeElement?.getAttribute('aria-label') === 'New todo',
      );
    await expect.poll(focusInListOrBox).toBe(true);
  });
});
