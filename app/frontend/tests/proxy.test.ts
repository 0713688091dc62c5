import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it, vi } from 'vitest';

import * as backendRoute from '../app/api/backend/[...path]/route';
import * as healthRoute from '../app/api/health/route';
import { signDemoToken } from '../lib/demo-token';
import { backendPath, DEFAULT_BACKEND_URL, proxyToBackend, resolveBackendUrl } from '../lib/proxy';

const SECRET = 'frontend-test-secret';

interface Seen {
  url: string;
  init: RequestInit;
}

/** A fetch double that records what the proxy sends and answers with `response`. */
function recordingFetch(response: () => Response = () => Response.json([])) {
  const seen: Seen[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.push({ url: String(input), init: init ?? {} });
    return response();
  }) as typeof fetch;
  return { seen, fetchImpl };
}

function decodeJwt(token: string, secret: string) {
  const [header, payload, signature] = token.split('.');
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return {
    valid: signature === expected,
    header: JSON.parse(Buffer.from(header, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(payload, 'base64url').toString()),
  };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('resolveBackendUrl', () => {
  it('defaults to the in-cluster service', () => {
    expect(resolveBackendUrl({})).toBe(DEFAULT_BACKEND_URL);
    expect(DEFAULT_BACKEND_URL).toBe('http://todo-backend:7860');
  });

  it('prefers BACKEND_URL, then NEXT_PUBLIC_API_URL, ignoring blanks and trailing slashes', () => {
    expect(resolveBackendUrl({ NEXT_PUBLIC_API_URL: 'http://public:1/' })).toBe('http://public:1');
    expect(
      resolveBackendUrl({ BACKEND_URL: 'http://b:2', NEXT_PUBLIC_API_URL: 'http://public:1' }),
    ).toBe('http://b:2');
    expect(resolveBackendUrl({ BACKEND_URL: '  ', NEXT_PUBLIC_API_URL: 'http://p:1' })).toBe('http://p:1');
  });

  it('rejects a value that is not an http(s) URL, naming the variable', () => {
    expect(() => resolveBackendUrl({ BACKEND_URL: 'todo-backend:7860' })).toThrow(/BACKEND_URL/);
    expect(() => resolveBackendUrl({ NEXT_PUBLIC_API_URL: 'not a url' })).toThrow(/NEXT_PUBLIC_API_URL/);
  });
});

describe('backendPath', () => {
  it('keeps the path after /api/backend', () => {
    expect(backendPath('/api/backend/api/todos/3')).toBe('/api/todos/3');
  });

  it('refuses dot segments and encoded slashes', () => {
    expect(backendPath('/api/backend/%2e%2e/secret')).toBeNull();
    expect(backendPath('/api/backend/api/..%2Fx')).toBeNull();
    expect(backendPath('/api/elsewhere')).toBeNull();
  });
});

describe('proxyToBackend', () => {
  it('forwards method, path, query and body to the backend URL read at request time', async () => {
    const { seen, fetchImpl } = recordingFetch(() => Response.json({ id: 1 }, { status: 201 }));
    const env: Record<string, string> = { BACKEND_URL: 'http://first:7860' };
    const request = () =>
      new Request('http://front.example/api/backend/api/todos?x=1', {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: 'session=do-not-forward' },
        body: JSON.stringify({ title: 'milk' }),
      });

    const first = await proxyToBackend(request(), { env, fetchImpl });
    env.BACKEND_URL = 'http://second:7860';
    await proxyToBackend(request(), { env, fetchImpl });

    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ id: 1 });
    expect(seen.map((s) => s.url)).toEqual([
      'http://first:7860/api/todos?x=1',
      'http://second:7860/api/todos?x=1',
    ]);
    const init = seen[0].init;
    expect(init.method).toBe('POST');
    expect(new TextDecoder().decode(init.body as ArrayBuffer)).toBe('{"title":"milk"}');
    const headers = new Headers(init.headers);
    expect(headers.get('content-type')).toBe('application/json');
    expect(headers.get('cookie')).toBeNull();
  });

  it('signs a short-lived HS256 demo token with BETTER_AUTH_SECRET', async () => {
    const { seen, fetchImpl } = recordingFetch();
    await proxyToBackend(new Request('http://f/api/backend/api/todos'), {
      env: { BETTER_AUTH_SECRET: SECRET },
      fetchImpl,
    });
    const auth = new Headers(seen[0].init.headers).get('authorization') ?? '';
    expect(auth.startsWith('Bearer ')).toBe(true);
    const token = decodeJwt(auth.slice('Bearer '.length), SECRET);
    expect(token.valid).toBe(true);
    expect(token.header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(token.claims.sub).toBe('demo-user');
    const now = Date.now() / 1000;
    expect(token.claims.exp).toBeGreaterThan(now);
    expect(token.claims.exp).toBeLessThanOrEqual(now + 300);
  });

  it('keeps an Authorization header the caller sent', async () => {
    const { seen, fetchImpl } = recordingFetch();
    await proxyToBackend(
      new Request('http://f/api/backend/api/todos', { headers: { authorization: 'Bearer real' } }),
      { env: { BETTER_AUTH_SECRET: SECRET }, fetchImpl },
    );
    expect(new Headers(seen[0].init.headers).get('authorization')).toBe('Bearer real');
  });

  it("answers 502 without the backend's address, which goes to the server log", async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const fetchImpl = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const response = await proxyToBackend(new Request('http://f/api/backend/api/todos'), {
      env: { BACKEND_URL: 'http://user:pw@todo-backend:7860' },
      fetchImpl,
    });
    expect(response.status).toBe(502);
    const body = await response.json();
    expect(body.detail).toBe('The backend is unreachable');
    expect(logged).toHaveBeenCalledWith('proxy: the backend at http://todo-backend:7860 is unreachable: fetch failed');
    expect(JSON.stringify(logged.mock.calls)).not.toContain('pw');
  });

  it('sends an idempotent request once more, on a new connection, when its connection failed', async () => {
    // a pooled connection to a backend pod that shut down under it in a rolling update
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const attempts = (method: string, failures: number, error: Error = new TypeError('fetch failed')) => {
      const seen: Headers[] = [];
      const fetchImpl = (async (_input: RequestInfo | URL, init?: RequestInit) => {
        seen.push(new Headers(init?.headers));
        if (seen.length <= failures) throw error;
        return Response.json([]);
      }) as typeof fetch;
      const request = new Request('http://f/api/backend/api/todos/1', {
        method,
        body: method === 'GET' || method === 'HEAD' ? undefined : '{}',
      });
      return proxyToBackend(request, { env: {}, fetchImpl }).then((r) => ({ status: r.status, seen }));
    };
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) {
      const { status, seen } = await attempts(method, 1);
      expect([method, status, seen.length]).toEqual([method, 200, 2]);
      expect(seen.map((h) => h.get('connection'))).toEqual([null, 'close']);
    }
    expect(warned).toHaveBeenLastCalledWith('proxy: DELETE to the backend failed (fetch failed); sent once more');
    for (const method of ['POST', 'PATCH']) {
      // it may have been carried out: never sent twice
      expect(await attempts(method, 1).then((r) => [r.status, r.seen.length])).toEqual([502, 1]);
    }
    expect(await attempts('GET', 2).then((r) => [r.status, r.seen.length])).toEqual([502, 2]);
    const timedOut = Object.assign(new Error('timed out'), { name: 'TimeoutError' });
    expect(await attempts('GET', 1, timedOut).then((r) => [r.status, r.seen.length])).toEqual([504, 1]);
  });

  it('answers 500 naming the variable when the backend URL is malformed', async () => {
    const { seen, fetchImpl } = recordingFetch();
    const response = await proxyToBackend(new Request('http://f/api/backend/api/todos'), {
      env: { BACKEND_URL: 'todo-backend' },
      fetchImpl,
    });
    expect(response.status).toBe(500);
    expect((await response.json()).detail).toMatch(/BACKEND_URL/);
    expect(seen).toHaveLength(0);
  });

  it("forwards the backend's /api/ only: its docs, schema and probes are a 404", async () => {
    const { seen, fetchImpl } = recordingFetch();
    for (const path of ['/docs', '/redoc', '/openapi.json', '/health', '/ready', '/api', '/']) {
      const response = await proxyToBackend(new Request(`http://f/api/backend${path}`), {
        env: { BETTER_AUTH_SECRET: SECRET },
        fetchImpl,
      });
      expect(response.status, path).toBe(404);
    }
    expect(seen).toHaveLength(0);
    await proxyToBackend(new Request('http://f/api/backend/api/todos/1'), { env: {}, fetchImpl });
    expect(seen.map((s) => s.url)).toEqual([`${DEFAULT_BACKEND_URL}/api/todos/1`]);
  });

  it('passes 204 through without a body and drops encoding headers', async () => {
    const { fetchImpl } = recordingFetch(
      () => new Response(null, { status: 204, headers: { 'content-encoding': 'gzip', 'x-id': '7' } }),
    );
    const response = await proxyToBackend(
      new Request('http://f/api/backend/api/todos/1', { method: 'DELETE' }),
      { env: {}, fetchImpl },
    );
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(response.headers.get('x-id')).toBe('7');
  });

  it('round-trips through a real HTTP server on 127.0.0.1', async () => {
    let received: { method?: string; url?: string; auth?: string; body?: string } = {};
    const server: Server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        received = { method: req.method, url: req.url, auth: req.headers.authorization, body };
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 9, title: 'from server', completed: false }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const response = await proxyToBackend(
        new Request('http://f/api/backend/api/todos', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"title":"from server"}',
        }),
        { env: { BACKEND_URL: `http://127.0.0.1:${port}`, BETTER_AUTH_SECRET: SECRET } },
      );
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ id: 9, title: 'from server', completed: false });
      expect(received.method).toBe('POST');
      expect(received.url).toBe('/api/todos');
      expect(received.body).toBe('{"title":"from server"}');
      expect(decodeJwt((received.auth ?? '').replace('Bearer ', ''), SECRET).valid).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('route handlers', () => {
  it('the backend route reads process.env on each request', async () => {
    const { seen, fetchImpl } = recordingFetch();
    vi.stubGlobal('fetch', fetchImpl);
    vi.stubEnv('BACKEND_URL', '');
    vi.stubEnv('NEXT_PUBLIC_API_URL', 'http://spec-name:7860');
    await backendRoute.GET(new Request('http://f/api/backend/api/todos'));
    vi.stubEnv('BACKEND_URL', 'http://override:7860');
    await backendRoute.GET(new Request('http://f/api/backend/api/todos'));
    expect(seen.map((s) => s.url)).toEqual([
      'http://spec-name:7860/api/todos',
      'http://override:7860/api/todos',
    ]);
    expect(backendRoute.dynamic).toBe('force-dynamic');
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const) {
      expect(typeof backendRoute[method]).toBe('function');
    }
  });

  it('the health route answers 200 {"status":"healthy"} and is dynamic', async () => {
    const response = healthRoute.GET();
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'healthy' });
    expect(healthRoute.dynamic).toBe('force-dynamic');
  });
});

describe('signDemoToken', () => {
  it('refuses an empty secret', () => {
    expect(() => signDemoToken('')).toThrow(/BETTER_AUTH_SECRET/);
  });

  it('uses the clock and TTL it is given', () => {
    const token = decodeJwt(signDemoToken(SECRET, { nowMs: 1_000_000, ttlSeconds: 60 }), SECRET);
    expect(token.claims).toMatchObject({ iat: 1000, exp: 1060, sub: 'demo-user' });
  });
});
