'use client';

// The browser only calls this Next.js server (/api/backend/*), never the backend directly.
import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';

const API = '/api/backend/api';

interface Todo {
  id: number;
  title: string;
  completed: boolean;
}

interface ChatStatus {
  available: boolean;
  detail: string;
}

interface ChatLine {
  from: 'you' | 'assistant';
  text: string;
}

async function detailOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { detail?: unknown };
    if (typeof body.detail === 'string') return body.detail;
  } catch {
    // not JSON
  }
  return `HTTP ${response.status}`;
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${API}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) },
    cache: 'no-store',
  });
  if (!response.ok) throw new Error(await detailOf(response));
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export default function TodoApp() {
  const [todos, setTodos] = useState<Todo[]>([]);
  const [loading, setLoading] = useState(true);
  const [title, setTitle] = useState('');
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
    call<ChatStatus>('/chat')
      .then(setChat)
      .catch((err: Error) =>
        setChat({ available: false, detail: `Chat status unknown: ${err.message}` }),
      );
  }, [run]);

  const add = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = title.trim();
    if (!trimmed || addInFlight.current) return;
    addInFlight.current = true;
    setAdding(true);
    void run(async () => {
      const todo = await call<Todo>('/todos', { method: 'POST', body: JSON.stringify({ title: trimmed }) });
      setTodos((list) => [...list, todo]);
      setTitle('');
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
    fetch(`${API}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: text }),
    })
      .then(async (response) => {
        if (response.status === 503) {
          setChat({ available: false, detail: await detailOf(response) });
          return;
        }
        if (!response.ok) throw new Error(await detailOf(response));
        const body = (await response.json()) as { reply: string };
        setLines((l) => [...l, { from: 'assistant', text: body.reply }]);
      })
      .catch((err: Error) => setError(err.message))
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
          maxLength={500}
          readOnly={adding}
          onChange={(e) => setTitle(e.target.value)}
        />
        <button type="submit" disabled={adding || !title.trim()}>
          {adding ? 'Adding…' : 'Add'}
        </button>
      </form>

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
          {chat.detail}
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
