/**
 * Todo titles as the backend sees them (app/backend/todo_api/main.py): trimmed of the same blanks,
 * at most TITLE_MAX characters (code points, as Python counts them, not UTF-16 units).
 */
export const TITLE_MAX = 500;

/**
 * JavaScript's String.trim() set (\s, which has U+FEFF) plus what Python's str.strip() adds to it
 * (U+001C..U+001F, U+0085): the backend's TITLE_BLANKS. Without the extra ones a title of only
 * U+0085 looks valid here and is rejected there.
 */
const BLANKS = '[\\s\\u001c-\\u001f\\u0085]+';
const EDGE_BLANKS = new RegExp(`^${BLANKS}|${BLANKS}$`, 'gu');

export function trimTitle(title: string): string {
  return title.replace(EDGE_BLANKS, '');
}

export function titleLength(title: string): number {
  return Array.from(title).length;
}

/** `title` cut to TITLE_MAX characters, and whether anything was cut. */
export function clipTitle(title: string): { title: string; cut: boolean } {
  const characters = Array.from(title);
  if (characters.length <= TITLE_MAX) return { title, cut: false };
  return { title: characters.slice(0, TITLE_MAX).join(''), cut: true };
}
