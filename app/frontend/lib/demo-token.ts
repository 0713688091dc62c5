/**
 * Demo authentication: the frontend server signs a short-lived HS256 JWT for one demo user with
 * BETTER_AUTH_SECRET (read at request time), and the proxy sends it to the backend as a Bearer
 * token.
 *
 * The real Todo app authenticates users with Better Auth, which issues these tokens; this
 * reference app only needs one user to exercise the deployment. node:crypto is enough for HS256,
 * so there is no JWT dependency.
 */
import { createHmac } from 'node:crypto';

export const DEMO_USER_ID = 'demo-user';
export const DEMO_TOKEN_TTL_SECONDS = 300;
export const DEMO_ISSUER = 'todo-frontend-demo';

export interface DemoTokenOptions {
  sub?: string;
  ttlSeconds?: number;
  nowMs?: number;
}

function base64url(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

export function signDemoToken(secret: string, options: DemoTokenOptions = {}): string {
  if (!secret) throw new Error('BETTER_AUTH_SECRET is empty: cannot sign a demo token');
  const iat = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({
      sub: options.sub ?? DEMO_USER_ID,
      iss: DEMO_ISSUER,
      iat,
      exp: iat + (options.ttlSeconds ?? DEMO_TOKEN_TTL_SECONDS),
    }),
  );
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}
