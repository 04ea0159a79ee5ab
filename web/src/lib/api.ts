/** The REST API on this same origin: JSON in and out, the session's bearer token, errors as ApiError. */
import { useAuth } from '../stores/auth.ts';

/** One bad field of a refused request, named as the server names it: `body.servers.0.host`. */
export interface FieldProblem {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The server's `details`: a list of field problems for a 400, other shapes for other codes. */
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** The field problems of a validation refusal, so a form can show each next to its field. */
  get fields(): FieldProblem[] {
    if (!Array.isArray(this.details)) return [];
    return this.details.filter((d): d is FieldProblem => typeof d?.field === 'string' && typeof d?.message === 'string');
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const token = useAuth.getState().session?.token;
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server cannot be reached');
  }
  const text = await response.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    // An expired or revoked token ends the session; the router sends the user to the login page.
    if (response.status === 401 && token && path !== '/api/auth/login' && path !== '/api/pbx/auth/login') useAuth.getState().expire();
    throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? response.statusText, error?.details);
  }
  return data as T;
}

export const get = <T,>(path: string) => api<T>('GET', path);
export const post = <T,>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T,>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const del = <T,>(path: string) => api<T>('DELETE', path);

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
