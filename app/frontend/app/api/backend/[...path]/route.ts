// Proxies /api/backend/* to the backend; the URL is read from the environment per request.
import { proxyToBackend } from '../../../../lib/proxy';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function GET(request: Request): Promise<Response> {
  return proxyToBackend(request);
}

export async function HEAD(request: Request): Promise<Response> {
  return proxyToBackend(request);
}

export async function POST(request: Request): Promise<Response> {
  return proxyToBackend(request);
}

export async function PUT(request: Request): Promise<Response> {
  return proxyToBackend(request);
}

export async function PATCH(request: Request): Promise<Response> {
  return proxyToBackend(request);
}

export async function DELETE(request: Request): Promise<Response> {
  return proxyToBackend(request);
}
