/** Issue 12, problem 3: a long unbroken title wraps; the page never grows sideways. */
import { expect, it } from 'vitest';

import { addTodo, browserSuite, horizontalOverflow, row, screenshot, uniqueTitle, useBrowser } from './support';

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'mobile', width: 375, height: 667 },
];

browserSuite('#3 long titles', () => {
  const browser = useBrowser();

  it.each(VIEWPORTS)('a 500-character word keeps the page and its Delete button in view ($name)', async (viewport) => {
    const page = await browser.open({ viewport, isMobile: viewport.width < 600 });
    const word = uniqueTitle('Long').replaceAll(' ', '-');
    const title = word + 'W'.repeat(500 - word.length);
    await addTodo(page, title);
    const todo = row(page, title);
    await todo.scrollIntoViewIfNeeded();
    await screenshot(page, `long-title-${viewport.name}`);

    expect(await horizontalOverflow(page)).toBe(0);
    const box = await todo.getByRole('button', { name: /^Delete/ }).boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(viewport.width);
  });
});
