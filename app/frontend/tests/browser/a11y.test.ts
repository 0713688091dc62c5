/** axe-core finds no violation in the page's main states, in light and in dark mode. */
import { expect, it } from 'vitest';

import { addTodo, alert, axeViolations, browserSuite, rejectNextAdd, row, uniqueTitle, useBrowser } from './support';

browserSuite('accessibility (axe-core)', () => {
  const browser = useBrowser();

  it.each(['light', 'dark'] as const)('a list with a done todo and an error message (%s)', async (colorScheme) => {
    const page = await browser.open({ colorScheme });
    const done = uniqueTitle('Done already');
    await addTodo(page, done);
    await row(page, done).getByRole('checkbox').check();
    await addTodo(page, uniqueTitle('Still to do'));
    await rejectNextAdd(page);
    await page.getByRole('textbox', { name: 'New todo' }).fill(uniqueTitle('Rejected'));
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await alert(page).waitFor();
    expect(await axeViolations(page)).toEqual([]);
  });

  it.each(['light', 'dark'] as const)('a todo being edited and one asking to be deleted (%s)', async (colorScheme) => {
    const page = await browser.open({ colorScheme });
    const [edited, deleted] = [uniqueTitle('Being edited'), uniqueTitle('Being deleted')];
    await addTodo(page, edited);
    await addTodo(page, deleted);
    await row(page, edited).getByRole('button', { name: `Edit ${edited}`, exact: true }).click();
    await row(page, deleted).getByRole('button', { name: `Delete ${deleted}`, exact: true }).click();
    await row(page, deleted).getByRole('button', { name: `Yes, delete ${deleted}`, exact: true }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
  });

  it.each(['light', 'dark'] as const)('the server cannot be reached (%s)', async (colorScheme) => {
    const page = await browser.open({ colorScheme });
    await page.route('**/api/backend/**', (route) => route.abort('connectionrefused'));
    await page.reload();
    await alert(page).waitFor();
    expect(await axeViolations(page)).toEqual([]);
  });
});
