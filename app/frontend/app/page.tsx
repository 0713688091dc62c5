import TodoApp from './todo-app';

export default function Home() {
  return (
    <main>
      <h1>Todo</h1>
      <p className="muted">
        Signed in as the demo user. The real app authenticates with Better Auth.
      </p>
      <TodoApp />
    </main>
  );
}
