import { describe, expect, it } from 'vitest';

import { RequestError, UNREACHABLE, readableDetail, requestError } from '../lib/messages';
import { TITLE_MAX, clipTitle, titleLength, trimTitle } from '../lib/titles';

describe('trimTitle', () => {
  // The backend's TITLE_BLANKS (app/backend/todo_api/main.py): String.trim()'s set plus
  // U+001C..U+001F and U+0085, which Python's str.strip() also removes.
  const BLANKS = [
    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
    ...Array.from({ length: 11 }, (_, i) => 0x2000 + i),
    0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
  ];

  it('removes exactly the blanks the backend strips, from both ends only', () => {
    const removed: number[] = [];
    for (let code = 0; code <= 0xffff; code += 1) {
      const c = String.fromCharCode(code);
      if (trimTitle(`${c}x${c}x${c}`) === `x${c}x`) removed.push(code);
    }
    expect(removed).toEqual(BLANKS);
  });

  it('leaves nothing of a title of only U+0085', () => {
    expect(trimTitle('\u0085')).toBe('');
    expect(trimTitle('\ufeff milk \u001f')).toBe('milk');
  });
});

describe('clipTitle', () => {
  it('keeps a title within the limit as it is', () => {
    expect(clipTitle('x'.repeat(TITLE_MAX))).toEqual({ title: 'x'.repeat(TITLE_MAX), cut: false });
  });

  it('cuts a longer title to the limit, counting characters as Python does', () => {
    const emoji = '😀'.repeat(TITLE_MAX + 1); // 2 UTF-16 units each
    const clipped = clipTitle(emoji);
    expect(clipped.cut).toBe(true);
    expect(titleLength(clipped.title)).toBe(TITLE_MAX);
    expect(clipped.title).toBe('😀'.repeat(TITLE_MAX));
  });
});

describe('readableDetail', () => {
  it("reads FastAPI's validation errors as sentences", () => {
    const detail = [
      { type: 'value_error', loc: ['body', 'title'], msg: 'Value error, title must not be blank' },
      { type: 'string_too_long', loc: ['body', 'title'], msg: 'String should have at most 500 characters' },
    ];
    expect(readableDetail(detail)).toBe('Title must not be blank. Title: string should have at most 500 characters');
  });

  it('keeps a string detail, and gives null for nothing readable', () => {
    expect(readableDetail('Todo not found')).toBe('Todo not found');
    expect(readableDetail(undefined)).toBeNull();
    expect(readableDetail([{ loc: ['body'] }])).toBeNull();
  });
});

describe('requestError', () => {
  it("words the proxy's 502 and 504 as an unreachable server", async () => {
    for (const status of [502, 504]) {
      const error = await requestError(Response.json({ detail: 'The backend is unreachable' }, { status }));
      expect(error.message).toBe(UNREACHABLE);
      expect(error.unreachable).toBe(true);
    }
    expect(new RequestError(UNREACHABLE, null).unreachable).toBe(true);
  });

  it('never shows a bare status', async () => {
    const error = await requestError(new Response('Internal Server Error', { status: 500 }));
    expect(error.message).toBe('Something went wrong on the server (error 500).');
    expect(error.unreachable).toBe(false);
    const validation = await requestError(
      Response.json({ detail: [{ loc: ['body', 'title'], msg: 'Field required' }] }, { status: 422 }),
    );
    expect(validation.message).toBe('Title: field required');
  });
});
