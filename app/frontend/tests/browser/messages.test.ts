/**
 * Issue 12, problem 4: what the page says is meant for its user. Validation errors are read from
 * FastAPI's error list (never "HTTP 422"), titles are trimmed as the backend trims them, the chat
 * box does not talk about server configuration, and a paste cut to the 500-character limit says so.
 * (The outage message without the backend's address is checked in outage.test.ts.)
 */
import { expect, it } from 'vitest';

import { alert, browserSuite, rejectNextAdd, screenshot, uniqueTitle, useBrowser } from './support';

const NEL = '\u0085'; // whitespace to Python's str.strip(), not to JavaScript's String.trim()

browserSuite('#4 messages', () => {
  const browser = useBrowser();

  it('a title of only U+0085 is blank: Add stays disabled', async () => {
    const page = await browser.open();
    await page.getByRole('textbox', { name: 'New todo' }).fill(NEL);
    expect(await page.getByRole('textbox', { name: 'New todo' }).inputValue()).toBe(NEL);
    expect(await page.getByRole('button', { name: 'Add', exact: true }).isDisabled()).toBe(true);
  });

  it("the backend's validation error is shown in words, not as 'HTTP 422'", async () => {
    const page = await browser.open();
    await rejectNextAdd(page);
    await page.getByRole('textbox', { name: 'New todo' }).fill(uniqueTitle('Rejected'));
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const message = alert(page);
    await message.waitFor();
    await screenshot(page, 'validation-error');
    const text = await message.textContent();
    expect(text).not.toMatch(/HTTP|422/);
    expect(text).toMatch(/title must not be blank/i);
  });

  it('the chat box does not tell end users about COHERE_API_KEY', async () => {
    const page = await browser.open();
    // Chat's status is known once the box is enabled or a note about chat is shown.
    const note = page.getByRole('status').filter({ hasText: /chat/i });
    const textarea = page.getByRole('textbox', { name: 'Chat message' });
    await note.or(page.locator('textarea:enabled')).first().waitFor();
    expect(await page.locator('body').innerText()).not.toMatch(/COHERE|API_KEY|backend/i);
    if (await textarea.isDisabled()) {
      expect(await note.textContent()).toMatch(/chat is not available/i);
    }
  });

  it('a paste over 500 characters is cut to 500, and the page says so', async () => {
    const page = await browser.open({ permissions: ['clipboard-read', 'clipboard-write'] });
    const input = page.getByRole('textbox', { name: 'New todo' });
    await page.evaluate((text) => navigator.clipboard.writeText(text), 'x'.repeat(600));
    await input.focus();
    await page.keyboard.press('Control+V');
    await expect.poll(() => input.inputValue()).toHaveLength(500);
    const notice = page.getByRole('status').filter({ hasText: /500/ });
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/cut/i);
    await screenshot(page, 'paste-cut');
  });
});
