'use client';

// The browser only calls this Next.js server (/api/backend/*), never the backend directly.
import { type FormEvent, useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';

import { RequestError, UNREACHABLE, requestError } from '../lib/messages';
import { trimTitle } from '../lib/titles';
import { TitleLimit, useTitleField } from './title-field';
import TodoItem, { type Todo, deleteButtonId } from './todo-item';

const API = '/api/backend/api';
const NEW_TODO_ID = 'new-todo';

/** Whether chat can be used, and what to tell the user when it cannot (never why, in server terms). */
interface ChatStatus {
  available: boolean;
  note: string;
}

const CHAT_OFF: ChatStatus = { available: false, note: 'Chat is not available in this deployment.' };
const CHAT_UNKNOWN: ChatStatus = { available: false, note: 'Chat is not available right now.' };
/** Retries of the list while the server cannot be reached: 1 s, 2 s, 4 s, … at most 15 s apart. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 15_000;

interface ChatLine {
  from: 'you' | 'assistant';
  text: string;
}

/** A JSON request to the backend through the proxy; fails with a RequestError worded for the user. */
async function call<T>(path: string, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) },
      cache: 'no-store',
    });
  } catch {
    throw new RequestError(UNREACHABLE, null);
  }
  if (!response.ok) throw await requestError(response);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export default function TodoApp() {
  // null until the list has been loaded once: an unreachable server is not an empty list.
  const [todos, setTodos] = useState<Todo[] | null>(null);
  // Why the list cannot be loaded (retrying with backoff), or null. The ref is for callbacks.
  const [offline, setOffline] = useState<string | null>(null);
  const offlineRef = useRef(false);
  const retry = useRef({ attempt: 0, timer: 0 });
  const title = useTitleField();
  // One add at a time: the ref closes the gap before React re-renders the disabled button (a
  // double-click, or Enter pressed twice, would otherwise send two POSTs).
  const [adding, setAdding] = useState(false);
  const addInFlight = useRef(false);
  const [error, setError] = useState<string | null>(null);
  const [chat, setChat] = useState<ChatStatus | null>(null);
  const [message, setMessage] = useState('');
  const [lines, setLines] = useState<ChatLine[]>([]);
  const [sending, setSending] = useState(false);
  // The element to focus once React has rendered (after a delete: the next row, or the new-todo box).
  const focusAfterRender = useRef<string | null>(null);

  // A layout effect: the focus moves in the same frame as the row disappears.
  useLayoutEffect(() => {
    if (focusAfterRender.current === null) return;
    (document.getElementById(focusAfterRender.current) ?? document.getElementById(NEW_TODO_ID))?.focus();
    focusAfterRender.current = null;
  });

  const loadChat = useCallback(() => {
    call<{ available: boolean }>('/chat')
      .then((status) => setChat(status.available ? { available: true, note: '' } : CHAT_OFF))
      .catch(() => setChat(CHAT_UNKNOWN));
  }, []);

  /** (Re)load the list; on failure say why and try again later, each time waiting twice as long. */
  const load = useCallback(
    async function load(): Promise<void> {
      window.clearTimeout(retry.current.timer);
      const recovering = offlineRef.current;
      try {
        setTodos(await call<Todo[]>('/todos'));
      } catch (err) {
        offlineRef.current = true;
        setOffline((err as RequestError).message);
        const delay = Math.min(RETRY_FIRST_MS * 2 ** retry.current.attempt, RETRY_MAX_MS);
        retry.current.attempt += 1;
        retry.current.timer = window.setTimeout(() => void load(), delay);
        return;
      }
      retry.current.attempt = 0;
      offlineRef.current = false;
      setOffline(null);
      if (recovering) loadChat();
    },
    [loadChat],
  );

  useEffect(() => {
    const timers = retry.current;
    const retryNow = () => offlineRef.current && void load();
    void load();
    loadChat();
    window.addEventListener('online', retryNow);
    return () => {
      window.removeEventListener('online', retryNow);
      window.clearTimeout(timers.timer);
    };
  }, [load, loadChat]);

  /**
   * Run a change and resolve to whether it was saved. On failure, `undo` restores what was shown
   * and the reason is shown; when the server is out of reach the list is retried until it
   * answers. A change that succeeds while the list is out of date reloads it.
   */
  const run = useCallback(
    async (action: () => Promise<void>, undo?: () => void): Promise<boolean> => {
      setError(null);
      try {
        await action();
      } catch (err) {
        undo?.();
        const failure = err as RequestError;
        setError(failure.unreachable ? 'Your change was not saved.' : failure.message);
        if (failure.unreachable && !offlineRef.current) {
          // Said at once, with the reason; load() then retries until the server answers.
          offlineRef.current = true;
          setOffline(failure.message);
          void load();
        }
        return false;
      }
      if (offlineRef.current) void load();
      return true;
    },
    [load],
  );

  const add = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = trimTitle(title.value);
    if (!trimmed || addInFlight.current) return;
    addInFlight.current = true;
    setAdding(true);
    void run(async () => {
      const todo = await call<Todo>('/todos', { method: 'POST', body: JSON.stringify({ title: trimmed }) });
      setTodos((list) => [...(list ?? []), todo]);
      title.set('');
    }).finally(() => {
      addInFlight.current = false;
      setAdding(false);
    });
  };

  const replace = (todo: Todo) => setTodos((list) => list && list.map((t) => (t.id === todo.id ? todo : t)));

  /** Shown at once (the box is checked as it is clicked), undone if the server says no. */
  const toggle = (todo: Todo) => {
    replace({ ...todo, completed: !todo.completed });
    return run(
      async () =>
        replace(
          await call<Todo>(`/todos/${todo.id}`, {
            method: 'PATCH',
            body: JSON.stringify({ completed: !todo.completed }),
          }),
        ),
      () => replace(todo),
    );
  };

  const rename = (todo: Todo, newTitle: string) =>
    run(async () =>
      replace(
        await call<Todo>(`/todos/${todo.id}`, { method: 'PATCH', body: JSON.stringify({ title: newTitle }) }),
      ),
    );

  /** Delete (the row has asked first); the focus moves to the next row's Delete, else the one above. */
  const remove = (todo: Todo) => {
    const list = todos ?? [];
    const index = list.findIndex((t) => t.id === todo.id);
    const neighbour = list[index + 1] ?? list[index - 1];
    return run(async () => {
      await call<void>(`/todos/${todo.id}`, { method: 'DELETE' });
      focusAfterRender.current = neighbour ? deleteButtonId(neighbour.id) : NEW_TODO_ID;
      setTodos((current) => current && current.filter((t) => t.id !== todo.id));
    });
  };

  const send = (event: FormEvent) => {
    event.preventDefault();
    const text = message.trim();
    if (!text || !chat?.available) return;
    setSending(true);
    setLines((l) => [...l, { from: 'you', text }]);
    setMessage('');
    call<{ reply: string }>('/chat', { method: 'POST', body: JSON.stringify({ message: text }) })
      .then((body) => setLines((l) => [...l, { from: 'assistant', text: body.reply }]))
      .catch((err: RequestError) => {
        if (err.status === 503) setChat(CHAT_OFF);
        else setError(err.unreachable ? err.message : 'The assistant could not answer. Please try again.');
      })
      .finally(() => setSending(false));
  };

  const chatDisabled = !chat?.available || sending;

  return (
    <>
      {(offline || error) && (
        <div role="alert" className="error">
          {offline && (
            <p>
              {offline} Trying again…{' '}
              <button type="button" onClick={() => void load()}>
                Retry now
              </button>
            </p>
          )}
          {error && <p>{error}</p>}
        </div>
      )}

      <form onSubmit={add}>
        <input
          id={NEW_TODO_ID}
          type="text"
          aria-label="New todo"
          placeholder="What needs doing?"
          value={title.value}
          readOnly={adding}
          aria-describedby="new-todo-limit"
          onChange={title.onChange}
        />
        <button type="submit" disabled={adding || !trimTitle(title.value)}>
          {adding ? 'Adding…' : 'Add'}
        </button>
      </form>
      <TitleLimit id="new-todo-limit" value={title.value} cut={title.cut} />

      {todos === null ? (
        !offline && <p className="muted">Loading…</p>
      ) : todos.length === 0 ? (
        <p className="muted">Nothing to do yet.</p>
      ) : (
        <ul className="todos" aria-label="Todos">
          {todos.map((todo) => (
            <TodoItem
              key={todo.id}
              todo={todo}
              onToggle={() => void toggle(todo)}
              onRename={(newTitle) => rename(todo, newTitle)}
              onDelete={() => remove(todo)}
            />
          ))}
        </ul>
      )}

      <h2>Chat</h2>
      {chat && !chat.available && (
        <p className="note" role="status">
          {chat.note}
        </p>
      )}
      <ul className="chat-log">
        {lines.map((line, index) => (
          <li key={index}>
            <strong>{line.from === 'you' ? 'You' : 'Assistant'}:</strong> {line.text}
          </li>
        ))}
      </ul>
      <form onSubmit={send}>
        <textarea
          aria-label="Chat message"
          placeholder={chat?.available ? 'Ask about your todos…' : 'Chat is unavailable'}
          rows={2}
          value={message}
          disabled={chatDisabled}
          onChange={(e) => setMessage(e.target.value)}
        />
        <button type="submit" disabled={chatDisabled || !message.trim()}>
          {sending ? 'Sending…' : 'Send'}
        </button>
      </form>
    </>
  );
}
