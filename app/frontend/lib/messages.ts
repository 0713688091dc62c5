/**
 * What the page tells its user when a request fails: words for people, never a status code alone,
 * the backend's address, or server configuration.
 */

export const UNREACHABLE = "Can't reach the server.";

/** The proxy's answers when the backend is out of reach (lib/proxy.ts). */
const PROXY_STATUSES = [502, 504];

/** A failed request: the message to show, and the HTTP status (null when there was no answer). */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'RequestError';
  }

  /** No answer at all, or the proxy's: the server could not be reached. */
  get unreachable(): boolean {
    return this.status === null || PROXY_STATUSES.includes(this.status);
  }
}

interface FastApiError {
  loc?: unknown;
  msg?: unknown;
}

function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * FastAPI's `detail`: a string, or (422) a list of pydantic errors such as
 * `{loc: ["body", "title"], msg: "Value error, title must not be blank"}`, read as
 * "Title must not be blank". Null when there is nothing readable.
 */
export function readableDetail(detail: unknown): string | null {
  if (typeof detail === 'string' && detail.trim()) return detail;
  if (!Array.isArray(detail)) return null;
  const lines = (detail as FastApiError[]).flatMap((error) => {
    if (typeof error?.msg !== 'string') return [];
    const message = error.msg.replace(/^Value error, /, '');
    const loc = Array.isArray(error.loc) ? error.loc : [];
    const field = loc.length > 1 && typeof loc[loc.length - 1] === 'string' ? String(loc[loc.length - 1]) : null;
    if (field === null || message.toLowerCase().startsWith(field.toLowerCase())) return [sentence(message)];
    return [`${sentence(field)}: ${message.charAt(0).toLowerCase()}${message.slice(1)}`];
  });
  return lines.length ? lines.join('. ') : null;
}

/** The error for a response that is not ok. */
export async function requestError(response: Response): Promise<RequestError> {
  if (PROXY_STATUSES.includes(response.status)) return new RequestError(UNREACHABLE, response.status);
  let detail: unknown = null;
  try {
    detail = ((await response.json()) as { detail?: unknown }).detail;
  } catch {
    // not JSON
  }
  const readable = readableDetail(detail);
  return new RequestError(
    readable ?? `Something went wrong on the server (error ${response.status}).`,
    response.status,
  );
}
