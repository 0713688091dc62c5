/** Issue 12, problem 6: the frontend forwards the backend's /api/... only, not its whole URL space. */
import { expect, it } from 'vitest';

import { browserSuite, tier } from './support';

browserSuite('#6 proxy scope', () => {
  it.each(['/docs', '/openapi.json', '/redoc', '/ready', '/health'])(
    '/api/backend%s is not forwarded',
    async (path) => {
      const response = await fetch(`${tier.baseUrl}/api/backend${path}`);
      expect(response.status).toBe(404);
    },
  );

  it('/api/backend/api/... still reaches the backend', async () => {
    const response = await fetch(`${tier.baseUrl}/api/backend/api/todos`);
    expect(response.status).toBe(200);
    expect(Array.isArray(await response.json())).toBe(true);
  });
});
