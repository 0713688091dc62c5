// Liveness/readiness of the frontend itself: cheap, never calls the backend.
export const dynamic = 'force-dynamic';

export function GET(): Response {
  return Response.json({ status: 'healthy' }, { headers: { 'cache-control': 'no-store' } });
}
