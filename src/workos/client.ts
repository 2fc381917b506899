import {
  BadRequestException,
  ConflictException,
  GenericServerException,
  NotFoundException,
  RateLimitExceededException,
  UnauthorizedException,
  UnprocessableEntityException,
  WorkOS,
} from '@workos-inc/node';

/** What kind of failure a WorkOS call ended in, which decides retry, dead letter or stop. */
export type WorkosFailureKind =
  | 'rate_limited'
  | 'email_taken'
  | 'external_id_taken'
  | 'not_found'
  | 'invalid_password_hash'
  | 'invalid_metadata'
  | 'weak_password'
  | 'invalid_input'
  | 'auth'
  | 'server_error'
  /** A wrong password, an unknown email or a user without a password (400 `invalid_credentials`, or OAuth `invalid_grant`). */
  | 'invalid_credentials'
  /**
   * The first factor passed or was not asked for, and WorkOS wants another step before a session:
   * email verification, MFA, organization selection, Radar, SSO, or a method the user may not use.
   * `code` names it; `pendingAuthenticationToken` continues it where WorkOS gave one.
   */
  | 'sign_in_step'
  /** 429 `daily_quota_exceeded`: not a burst limit, so waiting seconds does not help. */
  | 'quota_exceeded'
  /** No answer (timeout, dropped connection): a write may or may not have been applied. */
  | 'no_answer';

export class WorkosCallError extends Error {
  constructor(
    readonly kind: WorkosFailureKind,
    message: string,
    readonly status: number | null,
    readonly code: string | null,
    readonly requestId: string | null,
    /** From `Retry-After`, for `rate_limited`. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'WorkosCallError';
    Object.defineProperty(this, 'pendingAuthenticationToken', {
      value: null,
      enumerable: false,
      configurable: true,
    });
  }

  /**
   * The pending authentication token of a `sign_in_step`, for the app to continue the flow.
   * Not enumerable: it lets whoever holds it finish the sign-in, so it never reaches a log line
   * or a serialised error.
   */
  declare readonly pendingAuthenticationToken: string | null;

  withPendingAuthenticationToken(token: string | null): this {
    Object.defineProperty(this, 'pendingAuthenticationToken', {
      value: token,
      enumerable: false,
      configurable: true,
    });
    return this;
  }

  get transient(): boolean {
    return this.kind === 'rate_limited' || this.kind === 'server_error' || this.kind === 'no_answer';
  }
}

interface SdkErrorShape {
  status?: number;
  code?: string;
  /** OAuth-shaped answers (`OauthException`) carry their code here. */
  error?: string;
  requestID?: string;
  rawData?: { code?: string; error?: string; pending_authentication_token?: unknown };
  errors?: { code?: string }[];
  pendingAuthenticationToken?: unknown;
  cause?: unknown;
}

/**
 * Sign-in answers that are a next step, not a failure (docs: "Authentication errors"; the SDK
 * raises `AuthenticationException` for most, `GenericServerException` for the rest).
 */
const SIGN_IN_STEP_CODES = new Set([
  'email_verification_required',
  'mfa_enrollment',
  'mfa_challenge',
  'mfa_verification',
  'organization_selection_required',
  'authentication_method_not_allowed',
  'radar_challenge',
  'radar_email_challenge',
  'radar_sms_challenge',
  'sso_required',
]);
const INVALID_CREDENTIALS_CODES = new Set(['invalid_credentials', 'invalid_grant']);

const EMAIL_TAKEN_CODES = new Set(['email_not_available', 'user_already_exists', 'email_already_exists']);

/**
 * Maps an SDK exception to a kind. A taken email has three plausible answers (workos-api.md):
 * 400 `user_creation_error` with `errors[].code = email_not_available`, 400 `email_not_available`,
 * and 409; all of them are `email_taken`. A taken external_id is `user_creation_error` with
 * `errors[].code = external_id_already_used` on create and a top-level code on update; both are
 * `external_id_taken`. The message never includes request data.
 */
export function classifyWorkosError(error: unknown): WorkosCallError {
  if (error instanceof WorkosCallError) return error;
  const shape = (error ?? {}) as SdkErrorShape;
  // Raised by our fetch wrapper (see quotaAwareFetch); the SDK wraps it as `Unexpected error`.
  if (shape.cause instanceof WorkosCallError) return shape.cause;
  const requestId = shape.requestID || null;
  const status = typeof shape.status === 'number' ? shape.status : null;
  const code = shape.code ?? shape.rawData?.code ?? shape.error ?? shape.rawData?.error ?? null;
  const make = (kind: WorkosFailureKind, retryAfterMs: number | null = null) =>
    new WorkosCallError(
      kind,
      `WorkOS answered ${status ?? 'nothing'}${code ? ` ${code}` : ''}${requestId ? ` (request ${requestId})` : ''}`,
      status,
      code,
      requestId,
      retryAfterMs,
    );
  if (code && SIGN_IN_STEP_CODES.has(code)) {
    const token = shape.pendingAuthenticationToken ?? shape.rawData?.pending_authentication_token;
    return make('sign_in_step').withPendingAuthenticationToken(typeof token === 'string' ? token : null);
  }
  if (code && INVALID_CREDENTIALS_CODES.has(code)) return make('invalid_credentials');
  if (code === 'daily_quota_exceeded') return make('quota_exceeded');
  if (error instanceof RateLimitExceededException) {
    const seconds = error.retryAfter;
    return make(
      'rate_limited',
      typeof seconds === 'number' && Number.isFinite(seconds) ? seconds * 1000 : null,
    );
  }
  if (error instanceof UnauthorizedException) return make('auth');
  if (error instanceof NotFoundException) return make('not_found');
  if (error instanceof ConflictException) return make('email_taken');
  if (error instanceof UnprocessableEntityException) return make('invalid_input');
  if (error instanceof BadRequestException) {
    // `user_creation_error` carries its reason in `errors[]`. A taken external_id is checked first:
    // it names the one user we created, where an email only suggests one.
    const reasons = (shape.errors ?? []).map((item) => item.code);
    if (reasons.includes('external_id_already_used')) return make('external_id_taken');
    if (reasons.some((reason) => reason !== undefined && EMAIL_TAKEN_CODES.has(reason)))
      return make('email_taken');
    if (code === 'password_strength_error') return make('weak_password');
    return make('invalid_input');
  }
  if (error instanceof GenericServerException || status !== null) {
    if (status === 401 || status === 403) return make('auth');
    if (status !== null && status >= 500) return make('server_error');
    if (code && EMAIL_TAKEN_CODES.has(code)) return make('email_taken');
    if (code === 'external_id_already_used') return make('external_id_taken');
    if (code === 'invalid_password_hash') return make('invalid_password_hash');
    if (code === 'invalid_metadata') return make('invalid_metadata');
    if (code === 'password_strength_error') return make('weak_password');
    if (status === 408) return make('no_answer');
    if (status === 429) return make('rate_limited');
    return make('invalid_input');
  }
  // fetch failures, aborts on timeout, and unparseable answers: nothing reliable came back.
  const name = (error as Error | undefined)?.name ?? 'Error';
  return new WorkosCallError('no_answer', `no answer from WorkOS (${name})`, null, null, null);
}

/**
 * The SDK turns every 429 into `RateLimitExceededException` and drops the body's code, so a spent
 * daily quota would read as a burst limit and be retried all day. This looks at 429 bodies only.
 */
async function quotaAwareFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await globalThis.fetch(input, init);
  if (response.status !== 429) return response;
  const body = (await response
    .clone()
    .json()
    .catch(() => null)) as { code?: unknown } | null;
  if (body?.code !== 'daily_quota_exceeded') return response;
  const requestId = response.headers.get('X-Request-ID') || null;
  throw new WorkosCallError(
    'quota_exceeded',
    `WorkOS answered 429 daily_quota_exceeded${requestId ? ` (request ${requestId})` : ''}`,
    429,
    'daily_quota_exceeded',
    requestId,
  );
}

export interface WorkosClientOptions {
  apiKey: string;
  clientId?: string;
  /** e.g. `http://127.0.0.1:8484`; default the real API. */
  apiUrl?: string;
  /** Per-attempt timeout; the worker sets at most a third of its lease. */
  timeoutMs: number;
}

/**
 * The SDK with its own retries off: the worker does retries and rate control itself, and the
 * SDK's retries would multiply them.
 */
export function createWorkosClient(options: WorkosClientOptions): WorkOS {
  const target = options.apiUrl ? new URL(options.apiUrl) : null;
  return new WorkOS(options.apiKey, {
    ...(options.clientId ? { clientId: options.clientId } : {}),
    ...(target
      ? {
          apiHostname: target.hostname.replace(/^\[|\]$/g, ''),
          https: target.protocol === 'https:',
          ...(target.port ? { port: Number(target.port) } : {}),
        }
      : {}),
    timeout: options.timeoutMs,
    maxRetries: 0,
    fetchFn: quotaAwareFetch,
  });
}
