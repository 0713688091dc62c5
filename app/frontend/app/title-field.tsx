'use client';

import { type ChangeEvent, useState } from 'react';

import { TITLE_MAX, clipTitle, titleLength } from '../lib/titles';

/** From this length on, the line under a title box counts the characters. */
const COUNT_FROM = TITLE_MAX - 100;

/** A title being typed, cut to TITLE_MAX characters, remembering whether it was (never silently). */
export function useTitleField() {
  const [value, setValue] = useState('');
  const [cut, setCut] = useState(false);
  const set = (next: string) => {
    const clipped = clipTitle(next);
    setValue(clipped.title);
    setCut(clipped.cut);
  };
  return {
    value,
    cut,
    set,
    onChange: (event: ChangeEvent<HTMLInputElement>) => set(event.target.value),
  };
}

/**
 * The line under a title box: says so when the text was cut, and counts the characters near the
 * limit. The box names `id` in its aria-describedby; only the notice is a live region.
 */
export function TitleLimit({ id, value, cut }: { id: string; value: string; cut: boolean }) {
  const length = titleLength(value);
  return (
    <p className="limit">
      <span role="status">{cut && `Titles can have at most ${TITLE_MAX} characters: the text was cut to fit.`}</span>{' '}
      <span id={id} className="muted">
        {length >= COUNT_FROM && `${length} of ${TITLE_MAX} characters`}
      </span>
    </p>
  );
}
