/**
 * Runtime environment access.
 *
 * Next.js inlines `process.env.NEXT_PUBLIC_*` (and anything it can see statically) at build time,
 * even in server code. Reading through a variable key keeps every lookup dynamic, so one image
 * works in any cluster.
 */
export type Env = Record<string, string | undefined>;

export function runtimeEnv(): Env {
  return process.env;
}

export function readEnv(name: string, env: Env = runtimeEnv()): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}
