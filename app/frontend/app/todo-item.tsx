'use client';

import { type FormEvent, type KeyboardEvent, useLayoutEffect, useRef, useState } from 'react';

import { trimTitle } from '../lib/titles';
import { TitleLimit, useTitleField } from './title-field';

export interface Todo {
  id: number;
  title: string;
  completed: boolean;
}

/** The id of a row's Delete button, where the focus goes when the row above it is deleted. */
export const deleteButtonId = (id: number) => `todo-${id}-delete`;

type Mode = 'view' | 'edit' | 'confirm';
type Focusable = 'edit' | 'delete' | 'confirm';

interface Props {
  todo: Todo;
  onToggle: () => void;
  /** Resolve to whether the change was saved. */
  onRename: (title: string) => Promise<boolean>;
  onDelete: () => Promise<boolean>;
}

/**
 * One todo: the title is the checkbox's label; Edit renames it in place (Enter saves, Escape
 * cancels); Delete asks first ("Yes, delete" / "Keep", Escape keeps). After each step the focus
 * stays on the control that makes sense next, never falling back to the page.
 */
export default function TodoItem({ todo, onToggle, onRename, onDelete }: Props) {
  const [mode, setMode] = useState<Mode>('view');
  const [busy, setBusy] = useState(false);
  const field = useTitleField(); // the edit box, filled when Edit is pressed
  const buttons = {
    edit: useRef<HTMLButtonElement>(null),
    delete: useRef<HTMLButtonElement>(null),
    confirm: useRef<HTMLButtonElement>(null),
  };
  const focusNext = useRef<Focusable | null>(null);

  useLayoutEffect(() => {
    if (focusNext.current) buttons[focusNext.current].current?.focus();
    focusNext.current = null;
  }, [mode]); // the refs are stable

  const switchTo = (next: Mode, focus: Focusable | null) => {
    focusNext.current = focus;
    setMode(next);
  };

  const escapeTo = (next: Mode, focus: Focusable) => (event: KeyboardEvent) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    switchTo(next, focus);
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const title = trimTitle(field.value);
    if (!title || busy) return;
    if (title !== todo.title) {
      setBusy(true);
      const saved = await onRename(title);
      setBusy(false);
      if (!saved) return;
    }
    switchTo('view', 'edit');
  };

  const confirmDelete = async () => {
    setBusy(true);
    if (await onDelete()) return; // the row is gone; the list moves the focus
    setBusy(false);
    switchTo('view', 'delete');
  };

  if (mode === 'edit') {
    const limitId = `todo-${todo.id}-limit`;
    return (
      <li className="editing">
        <form onSubmit={save}>
          <input
            type="text"
            aria-label="Edit title"
            aria-describedby={limitId}
            value={field.value}
            readOnly={busy}
            autoFocus
            onChange={field.onChange}
            onKeyDown={escapeTo('view', 'edit')}
          />
          <button type="submit" disabled={busy || !trimTitle(field.value)}>
            Save
          </button>
          <button type="button" onClick={() => switchTo('view', 'edit')}>
            Cancel
          </button>
        </form>
        <TitleLimit id={limitId} value={field.value} cut={field.cut} />
      </li>
    );
  }

  return (
    <li className={todo.completed ? 'done' : undefined}>
      <label>
        <input type="checkbox" checked={todo.completed} onChange={onToggle} />
        <span>{todo.title}</span>
      </label>
      {mode === 'confirm' ? (
        <span className="confirm" onKeyDown={escapeTo('view', 'delete')}>
          <span>Delete?</span>
          <button
            ref={buttons.confirm}
            type="button"
            aria-label={`Yes, delete ${todo.title}`}
            disabled={busy}
            onClick={() => void confirmDelete()}
          >
            Yes, delete
          </button>
          {/* Last, where Delete was: the second click of a double-click keeps the todo. */}
          <button type="button" aria-label={`Keep ${todo.title}`} onClick={() => switchTo('view', 'delete')}>
            Keep
          </button>
        </span>
      ) : (
        <>
          <button
            ref={buttons.edit}
            type="button"
            aria-label={`Edit ${todo.title}`}
            onClick={() => {
              field.set(todo.title);
              switchTo('edit', null);
            }}
          >
            Edit
          </button>
          <button
            ref={buttons.delete}
            id={deleteButtonId(todo.id)}
            type="button"
            aria-label={`Delete ${todo.title}`}
            onClick={() => switchTo('confirm', 'confirm')}
          >
            Delete
          </button>
        </>
      )}
    </li>
  );
}
