/**
 * Server-side proxy from `/api/backend/*` to the backend.
 *
 * The browser only ever talks to this Next.js server; `http://todo-backend:7860` resolves only
 * inside the cluster. The backend URL is read from the environment on every request (never at
 * build time), so the same image works in any cluster:
 *
 *   BACKEND_URL  >  NEXT_PUBLIC_API_URL (the name the spec uses)  >  http://todo-backend:7860
 *
 * Only the backend's API is forwarded: `/api/backend/api/...` goes to `<backend>/api/...`; anything
 * else under `/api/backend` (the backend's /docs, /openapi.json, /health, /ready) is a 404 here.
 *
 * When the incoming request has no Authorization header, a short-lived demo token is signed with
 * BETTER_AUTH_SECRET (see demo-token.ts).
 *
 * An idempotent request (RFC 9110 9.2.2) whose connection fails before any answer is sent once
 * more, on a new connection. A pooled connection stays tied to the backend pod it first
 * reached through the Service; when that pod shuts down in a rolling update, it closes its idle
 * connections, and a request sent on one at that moment fails. On the live cluster that was a
 * 502 in about 1 of 2,700 requests during backend rollouts, even with the chart's drain.
 * A timeout is not retried, and neither is a POST or a PATCH: they might have been carried out.
 */
import { DEMO_USER_ID, signDemoToken } from './demo-token';
import { type Env, readEnv, runtimeEnv } from './env';

export const PROXY_PREFIX = '/api/backend';
/** The part of the backend's URL space the browser may reach through the proxy. */
export const FORWARDED_BACKEND_PREFIX = '/api/';
export const DEFAULT_BACKEND_URL = 'http://todo-backend:7860';
export const BACKEND_URL_VARIABLES = ['BACKEND_URL', 'NEXT_PUBLIC_API_URL'] as const;
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Methods sent again when their connection fails before an answer (see the top of this file). */
export const RETRIED_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Request headers passed on to the backend; everything else (cookies, hop-by-hop) stays here. */
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'accept-language',
  'authorization',
  'content-type',
  'x-request-id',
];

/** Response headers not copied back: hop-by-hop, or describing a body fetch() already decoded. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'content-encoding',
  'content-length',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface ProxyOptions {
  env?: Env;
  fetchImpl?: typeof fetch;
}

function problem(status: number, detail: string): Response {
  return Response.json({ detail }, { status, headers: { 'cache-control': 'no-store' } });
}

/** The backend base URL for this request, without a trailing slash. Throws on a malformed URL. */
export function resolveBackendUrl(env: Env = runtimeEnv()): string {
  for (const name of BACKEND_URL_VARIABLES) {
    const value = readEnv(name, env);
    if (value === undefined) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`${name} is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`${name} must be an http:// or https:// URL`);
    }
    return value.replace(/\/+$/, '');
  }
  return DEFAULT_BACKEND_URL;
}

/** The part of the path after `/api/backend`, or null when it is not safe to forward. */
export function backendPath(pathname: string): string | null {
  if (!pathname.startsWith(`${PROXY_PREFIX}/`)) return null;
  const rest = pathname.slice(PROXY_PREFIX.length);
  for (const segment of rest.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return null;
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\')) {
      return null;
    }
  }
  return rest;
}

export async function proxyToBackend(request: Request, options: ProxyOptions = {}): Promise<Response> {
  const env = options.env ?? runtimeEnv();
  const fetchImpl = options.fetchImpl ?? fetch;
  const incoming = new URL(request.url);

  const path = backendPath(incoming.pathname);
  if (path === null) return problem(400, 'Invalid backend path');
  if (!path.startsWith(FORWARDED_BACKEND_PREFIX)) return problem(404, 'Not found');

  let base: string;
  try {
    base = resolveBackendUrl(env);
  } catch (error) {
    return problem(500, `Proxy misconfigured: ${(error as Error).message}`);
  }
  const target = `${base}${path}${incoming.search}`;

  const headers = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  if (!headers.has('authorization')) {
    const secret = readEnv('BETTER_AUTH_SECRET', env);
    if (secret !== undefined) {
      const sub = readEnv('DEMO_USER_ID', env) ?? DEMO_USER_ID;
      headers.set('authorization', `Bearer ${signDemoToken(secret, { sub })}`);
    }
  }
  headers.set('x-forwarded-host', incoming.host);
  headers.set('x-forwarded-proto', incoming.protocol.replace(':', ''));

  const method = request.method.toUpperCase();
  const body = method === 'GET' || method === 'HEAD' ? undefined : await request.arrayBuffer();
  const timeoutMs = Number(readEnv('BACKEND_TIMEOUT_MS', env) ?? DEFAULT_TIMEOUT_MS);

  const signal = AbortSignal.timeout(Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : DEFAULT_TIMEOUT_MS);
  const send = (fresh: boolean) => {
    const sent = new Headers(headers);
    if (fresh) sent.set('connection', 'close'); // a new connection, not another pooled one
    return fetchImpl(target, { method, headers: sent, body, redirect: 'manual', cache: 'no-store', signal });
  };

  let upstream: Response;
  try {
    try {
      upstream = await send(false);
    } catch (error) {
      if (!RETRIED_METHODS.has(method) || (error as Error)?.name === 'TimeoutError') throw error;
      console.warn(`proxy: ${method} to the backend failed (${(error as Error)?.message}); sent once more`);
      upstream = await send(true);
    }
  } catch (error) {
    // The backend's address is for the operator (the server log), not for the browser.
    const origin = new URL(base).origin;
    if ((error as Error)?.name === 'TimeoutError') {
      console.error(`proxy: the backend at ${origin} did not answer within ${timeoutMs} ms`);
      return problem(504, 'The backend did not answer in time');
    }
    console.error(`proxy: the backend at ${origin} is unreachable: ${(error as Error)?.message}`);
    return problem(502, 'The backend is unreachable');
  }

  const responseHeaders = new Headers();
  upstream.headers.forEach((value, name) => {
    if (!DROPPED_RESPONSE_HEADERS.has(name.toLowerCase())) responseHeaders.set(name, value);
  });
  responseHeaders.set('cache-control', 'no-store');
  const noBody = method === 'HEAD' || upstream.status === 204 || upstream.status === 304;
  return new Response(noBody ? null : upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: responseHeaders,
  });
}
