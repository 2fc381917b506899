import { timingSafeEqual } from 'node:crypto';

/** What an API handler answers; the server adds `X-Request-ID` and serialises the body. */
export interface ApiResult {
  status: number;
  /** Omitted for an empty body. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Why this answer departs from WorkOS on purpose (a non-default mode); null for WorkOS's own answer. */
  deviation?: string | null;
}

/** A WorkOS-shaped error answer, thrown by handlers and turned into a response by the server. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
    /** See `ApiResult.deviation`. */
    readonly deviation: string | null = null,
  ) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${status}`);
  }
}

/** 400 `{ code, message }`: the shape the spec gives most validation failures. */
export function badRequest(code: string, message: string): ApiError {
  return new ApiError(400, { code, message });
}

/** 422 `invalid_request_parameters`: a body or query that does not match the schema. */
export function invalidParameters(message: string, errors?: { code: string; field: string }[]): ApiError {
  return new ApiError(422, { code: 'invalid_request_parameters', message, ...(errors ? { errors } : {}) });
}

export function notFound(message: string, code = 'entity_not_found'): ApiError {
  return new ApiError(404, { message, code });
}

export function tooManyRequests(retryAfterMs: number): ApiError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new ApiError(
    429,
    { message: 'Too many requests.', code: 'rate_limit_exceeded' },
    { 'Retry-After': String(seconds) },
  );
}

/** The OAuth-style error the authenticate endpoint answers with. */
export function oauthError(status: number, error: string, description: string): ApiError {
  return new ApiError(status, { error, error_description: description });
}

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `candidate` equals one of `secrets`, compared in constant time. */
export function secretMatches(candidate: string, secrets: readonly string[]): boolean {
  const given = Buffer.from(candidate);
  let match = false;
  for (const secret of secrets) {
    const expected = Buffer.from(secret);
    if (expected.length === given.length && timingSafeEqual(expected, given)) match = true;
  }
  return match;
}

/** Whether an `Authorization` header carries one of the accepted API keys. */
export function bearerMatches(header: string | undefined, keys: readonly string[]): boolean {
  return header?.startsWith('Bearer ') === true && secretMatches(header.slice('Bearer '.length), keys);
}
