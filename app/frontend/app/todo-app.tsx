'use client';

// The browser only calls this Next.js server (/api/backend/*), never the backend directly.
import { type ChangeEvent, type FormEvent, useCallback, useEffect, useRef, useState } from 'react';

import { RequestError, UNREACHABLE, requestError } from '../lib/messages';
import { TITLE_MAX, clipTitle, titleLength, trimTitle } from '../lib/titles';

const API = '/api/backend/api';

interface Todo {
  id: number;
  title: string;
  completed: boolean;
}

/** Whether chat can be used, and what to tell the user when it cannot (never why, in server terms). */
interface ChatStatus {
  available: boolean;
  note: string;
}

const CHAT_OFF: ChatStatus = { available: false, note: 'Chat is not available in this deployment.' };
const CHAT_UNKNOWN: ChatStatus = { available: false, note: 'Chat is not available right now.' };
/** From this length on, the new-todo box shows how many characters are left. */
const TITLE_COUNTER_FROM = TITLE_MAX - 100;

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
  const [todos, setTodos] = useState<Todo[]>([]);
  const [loading, setLoading] = useState(true);
  const [title, setTitle] = useState('');
  const [titleNotice, setTitleNotice] = useState<string | null>(null);
  // One add at a time: the ref closes the gap before React re-renders the disabled button (a
  // double-click, or Enter pressed twice, would otherwise send two POSTs).
  const [adding, setAdding] = useState(false);
  const addInFlight = useRef(false);
  const [error, setError] = useState<string | null>(null);
  const [chat, setChat] = useState<ChatStatus | null>(null);
  const [message, setMessage] = useState('');
  const [lines, setLines] = useState<ChatLine[]>([]);
  const [sending, setSending] = useState(false);

  const run = useCallback(async (action: () => Promise<void>) => {
    setError(null);
    try {
      await action();
    } catch (err) {
      setError((err as Error).message);
    }
  }, []);

  useEffect(() => {
    void run(async () => {
      try {
        setTodos(await call<Todo[]>('/todos'));
      } finally {
        setLoading(false);
      }
    });
    call<{ available: boolean }>('/chat')
      .then((status) => setChat(status.available ? { available: true, note: '' } : CHAT_OFF))
      .catch(() => setChat(CHAT_UNKNOWN));
  }, [run]);

  const editTitle = (event: ChangeEvent<HTMLInputElement>) => {
    const { title: clipped, cut } = clipTitle(event.target.value);
    setTitle(clipped);
    setTitleNotice(cut ? `Titles can have at most ${TITLE_MAX} characters: the text was cut to fit.` : null);
  };

  const add = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = trimTitle(title);
    if (!trimmed || addInFlight.current) return;
    addInFlight.current = true;
    setAdding(true);
    void run(async () => {
      const todo = await call<Todo>('/todos', { method: 'POST', body: JSON.stringify({ title: trimmed }) });
      setTodos((list) => [...list, todo]);
      setTitle('');
      setTitleNotice(null);
    }).finally(() => {
      addInFlight.current = false;
      setAdding(false);
    });
  };

  const toggle = (todo: Todo) =>
    run(async () => {
      const updated = await call<Todo>(`/todos/${todo.id}`, {
        method: 'PATCH',
        body: JSON.stringify({ completed: !todo.completed }),
      });
      setTodos((list) => list.map((t) => (t.id === updated.id ? updated : t)));
    });

  const remove = (todo: Todo) =>
    run(async () => {
      await call<void>(`/todos/${todo.id}`, { method: 'DELETE' });
      setTodos((list) => list.filter((t) => t.id !== todo.id));
    });

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
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}

      <form onSubmit={add}>
        <input
          type="text"
          aria-label="New todo"
          placeholder="What needs doing?"
          value={title}
          readOnly={adding}
          aria-describedby="new-todo-limit"
          onChange={editTitle}
        />
        <button type="submit" disabled={adding || !trimTitle(title)}>
          {adding ? 'Adding…' : 'Add'}
        </button>
      </form>
      <p className="limit">
        <span role="status">{titleNotice}</span>{' '}
        <span id="new-todo-limit" className="muted">
          {titleLength(title) >= TITLE_COUNTER_FROM && `${titleLength(title)} of ${TITLE_MAX} characters`}
        </span>
      </p>

      {loading ? (
        <p className="muted">Loading…</p>
      ) : todos.length === 0 ? (
        <p className="muted">Nothing to do yet.</p>
      ) : (
        <ul className="todos">
          {todos.map((todo) => (
            <li key={todo.id} className={todo.completed ? 'done' : undefined}>
              <input
                type="checkbox"
                aria-label={`Complete ${todo.title}`}
                checked={todo.completed}
                onChange={() => void toggle(todo)}
              />
              <span>{todo.title}</span>
              <button type="button" onClick={() => void remove(todo)} aria-label={`Delete ${todo.title}`}>
                Delete
              </button>
            </li>
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
