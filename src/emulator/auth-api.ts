import { randomBytes } from 'node:crypto';
import type { ApiContext, ApiRequest } from './context.js';
import {
  ApiError,
  type ApiResult,
  invalidParameters,
  isJsonObject,
  notFound,
  oauthError,
  secretMatches,
  tooManyRequests,
} from './http.js';
import { newId } from './ids.js';
import type { SignInStep } from './options.js';
import { passwordWeaknesses } from './password-policy.js';
import { hashNativePassword, verifyPassword } from './passwords.js';
import { digestToken, normaliseEmail, type StoredUser } from './store.js';

const RESET_TTL_MS = 15 * 60 * 1000;
const ACCESS_TOKEN_TTL_S = 5 * 60;

function base64url(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

/** Sessions remembered for revocation; the oldest are forgotten beyond this many. */
const MAX_SESSIONS = 100_000;

/** How a session was started, as WorkOS names it in `authentication_method`. */
export type AuthenticationMethod = 'Password' | `${string}OAuth`;

/** What a session is bound to; `sessionId` continues one (a refresh) instead of starting one. */
export interface SessionGrant {
  method: AuthenticationMethod;
  organizationId: string | null;
  clientId: string;
  sessionId?: string;
  /** What the client said of the browser (`ip_address`, `user_agent` in the request), for the event. */
  ipAddress?: unknown;
  userAgent?: unknown;
}

function forgetOldest<K, V>(map: Map<K, V>): void {
  if (map.size <= MAX_SESSIONS) return;
  const oldest = map.keys().next().value;
  if (oldest !== undefined) map.delete(oldest);
}

/**
 * The authenticate body every grant shares. A new session records `last_sign_in_at` (without a
 * user.updated event: a sign-in is not a profile change); a refresh keeps the session's id. The
 * refresh token is kept by digest, single use.
 */
export function sessionAnswer(
  ctx: ApiContext,
  user: StoredUser,
  grant: SessionGrant,
): Record<string, unknown> {
  let wire = user.wire;
  if (grant.sessionId === undefined) {
    wire = { ...user.wire, last_sign_in_at: new Date().toISOString() };
    ctx.store.replace(user, wire, false);
    ctx.store.recordAuthentication({
      type: grant.method === 'Password' ? 'password' : 'oauth',
      status: 'succeeded',
      ip_address: typeof grant.ipAddress === 'string' ? grant.ipAddress : null,
      user_agent: typeof grant.userAgent === 'string' ? grant.userAgent : null,
      user_id: user.wire.id,
      email: user.wire.email,
    });
  }
  const sessionId = grant.sessionId ?? newId('session');
  const { method, organizationId, clientId } = grant;
  ctx.sessions.set(sessionId, { userId: user.wire.id, revoked: false, method, organizationId, clientId });
  forgetOldest(ctx.sessions);
  const refreshToken = base64url(randomBytes(24));
  ctx.authkit.refreshTokens.set(digestToken(refreshToken), sessionId);
  forgetOldest(ctx.authkit.refreshTokens);
  const issuedAt = Math.floor(Date.now() / 1000);
  return {
    user: wire,
    ...(organizationId ? { organization_id: organizationId } : {}),
    // RS256 with the emulator's key, whose public half `GET /sso/jwks/{clientId}` serves.
    access_token: ctx.signingKey().signJwt({
      iss: 'workos-migrate-emulator',
      sub: user.wire.id,
      sid: sessionId,
      ...(organizationId ? { org_id: organizationId } : {}),
      iat: issuedAt,
      exp: issuedAt + ACCESS_TOKEN_TTL_S,
    }),
    refresh_token: refreshToken,
    authentication_method: method,
  };
}

// WorkOS answers a wrong password (and an unknown email, and a user without one) alike.
const INVALID_CREDENTIALS = () =>
  new ApiError(400, { code: 'invalid_credentials', message: 'Invalid credentials.' });

function pendingToken(): string {
  return base64url(randomBytes(24));
}

/** The step configured for this sign-in: by user id, then email, then email domain. */
export function stepFor(ctx: ApiContext, email: string, user: StoredUser | undefined): SignInStep | null {
  const steps = ctx.settings.signInSteps;
  const normalised = normaliseEmail(email);
  const domain = normalised.slice(normalised.lastIndexOf('@') + 1);
  return (user ? steps[user.wire.id] : undefined) ?? steps[normalised] ?? steps[domain] ?? null;
}

/**
 * Steps that concern the method or the environment, answered before the password is checked:
 * WorkOS would not let this method through whatever the password.
 */
export function methodRefusal(step: SignInStep, email: string): ApiError | null {
  switch (step) {
    case 'daily_quota_exceeded':
      // Not a burst limit: no Retry-After, the quota resets the next day.
      return new ApiError(429, {
        code: 'daily_quota_exceeded',
        message: 'The daily authentication quota for this environment has been exceeded.',
      });
    case 'sso_required':
      // An OAuth-shaped 400 in the spec, with the connections the user must use.
      return new ApiError(400, {
        error: 'sso_required',
        error_description: 'User must authenticate using one of the matching connections.',
        email,
        connection_ids: [newId('conn')],
        pending_authentication_token: pendingToken(),
      });
    case 'authentication_method_not_allowed':
      return new ApiError(403, {
        code: 'authentication_method_not_allowed',
        message: 'Password authentication is not allowed for this user.',
      });
    default:
      return null;
  }
}

/**
 * A step due after a correct first factor: the sign-in is not finished. `email_verification` is
 * the environment's rule; the others are configured in `signInSteps`.
 */
export type PendingStep =
  | 'email_verification'
  | 'mfa_enrollment'
  | 'mfa_challenge'
  | 'organization_selection_required'
  | 'radar_challenge';

const PENDING_STEPS: readonly SignInStep[] = [
  'mfa_enrollment',
  'mfa_challenge',
  'organization_selection_required',
  'radar_challenge',
];

/** The steps still due, in WorkOS's order: the email is verified first, then the configured step. */
export function pendingSteps(ctx: ApiContext, user: StoredUser, step: SignInStep | null): PendingStep[] {
  const steps: PendingStep[] = [];
  if (ctx.settings.requireEmailVerification && !user.wire.email_verified) steps.push('email_verification');
  if (step && PENDING_STEPS.includes(step)) steps.push(step as PendingStep);
  return steps;
}

/** The 403 the password grant answers for a pending step. */
function stepError(step: PendingStep, user: StoredUser): ApiError {
  if (step === 'email_verification') {
    return new ApiError(403, {
      code: 'email_verification_required',
      message: 'Email ownership must be verified before authentication.',
      email: user.wire.email,
      pending_authentication_token: pendingToken(),
      email_verification_id: newId('email_verification'),
    });
  }
  return nextStep(step, user) as ApiError;
}

/** Steps that follow a correct password: the first factor passed, the sign-in is not finished. */
function nextStep(step: SignInStep, user: StoredUser): ApiError | null {
  const common = { pending_authentication_token: pendingToken(), user: structuredClone(user.wire) };
  switch (step) {
    case 'mfa_enrollment':
      return new ApiError(403, {
        code: 'mfa_enrollment',
        message: 'The user must enroll in MFA to finish authenticating.',
        ...common,
      });
    case 'mfa_challenge':
      return new ApiError(403, {
        code: 'mfa_challenge',
        message: 'The user must complete an MFA challenge to finish authenticating.',
        ...common,
        authentication_factors: [{ id: newId('auth_factor'), type: 'totp' }],
      });
    case 'organization_selection_required': {
      const organizations = (user.organizationIds.length > 0 ? user.organizationIds : [newId('org')]).map(
        (id) => ({ id, name: id }),
      );
      return new ApiError(403, {
        code: 'organization_selection_required',
        message: 'The user must choose an organization to finish authenticating.',
        ...common,
        organizations,
      });
    }
    case 'radar_challenge':
      return new ApiError(403, {
        code: 'radar_challenge',
        message: 'Radar requires the user to complete a challenge to finish authenticating.',
        pending_authentication_token: common.pending_authentication_token,
        radar_challenge_id: newId('radar_challenge'),
      });
    default:
      return null;
  }
}

export async function authenticate(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const body = req.body;
  if (!isJsonObject(body)) throw invalidParameters('The request body must be a JSON object.');
  if (body.grant_type !== 'password') {
    // `invalid_request` is the spec's OAuth code for a grant this endpoint cannot take.
    throw oauthError(
      400,
      'invalid_request',
      'The emulator supports grant_type password, authorization_code and refresh_token only.',
    );
  }
  if (typeof body.client_id !== 'string' || !ctx.settings.clientIds.includes(body.client_id)) {
    throw oauthError(400, 'invalid_client', 'Invalid client ID.');
  }
  if (typeof body.client_secret !== 'string' || !secretMatches(body.client_secret, ctx.settings.apiKeys)) {
    // The spec lists `invalid_client` as a 400 on this endpoint, for the secret as for the id.
    throw oauthError(400, 'invalid_client', 'Invalid client secret.');
  }
  const { email, password } = body;
  if (typeof email !== 'string' || typeof password !== 'string') {
    throw invalidParameters('email and password are required.', [
      { code: 'required', field: typeof email !== 'string' ? 'email' : 'password' },
    ]);
  }
  const { user, steps } = await checkPasswordSignIn(ctx, email, password);
  const first = steps[0];
  if (first) throw stepError(first, user);
  return {
    status: 200,
    body: sessionAnswer(ctx, user, {
      method: 'Password',
      organizationId: null,
      clientId: body.client_id,
      ipAddress: body.ip_address,
      userAgent: body.user_agent,
    }),
  };
}

/**
 * The password grant's checks, shared by AuthKit's hosted sign-in so both judge a password alike:
 * the per-email limit, a step that refuses the method, the password against the stored (imported)
 * hash. Throws what WorkOS answers for each refusal; answers the user and the steps still due.
 */
export async function checkPasswordSignIn(
  ctx: ApiContext,
  email: string,
  password: string,
): Promise<{ user: StoredUser; steps: PendingStep[] }> {
  const wait = ctx.authenticateWait(normaliseEmail(email));
  if (wait > 0) throw tooManyRequests(wait);
  const user = ctx.store.getByEmail(email);
  const step = stepFor(ctx, email, user);
  const refusal = step ? methodRefusal(step, user?.wire.email ?? email) : null;
  if (refusal) throw refusal;
  // Verify even when the user is missing or has no password, so timing says nothing.
  const stored = user?.password ?? null;
  const ok = stored !== null && (await verifyPassword(stored, password, ctx.settings.misreadHashTypes));
  if (!user || !ok || ctx.store.get(user.wire.id) !== user) throw INVALID_CREDENTIALS();
  return { user, steps: pendingSteps(ctx, user, step) };
}

/** `POST /user_management/sessions/revoke` (spec: `session_id` required, 200 with no body). */
export async function revokeSession(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const body = req.body;
  if (!isJsonObject(body) || typeof body.session_id !== 'string') {
    throw invalidParameters('session_id is required.', [{ code: 'required', field: 'session_id' }]);
  }
  const session = ctx.sessions.get(body.session_id);
  if (!session) throw new ApiError(400, { message: `Session not found: '${body.session_id}'.` });
  session.revoked = true;
  return { status: 200, body: undefined };
}

export async function createPasswordReset(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const body = req.body;
  if (!isJsonObject(body) || typeof body.email !== 'string') {
    throw invalidParameters('email is required.', [{ code: 'required', field: 'email' }]);
  }
  const user = ctx.store.getByEmail(body.email);
  if (!user) throw notFound(`User not found: '${body.email}'.`);
  const wait = ctx.passwordResetWait(normaliseEmail(user.wire.email));
  if (wait > 0) throw tooManyRequests(wait);
  const token = base64url(randomBytes(32));
  const createdAt = new Date();
  const reset = {
    id: newId('password_reset'),
    userId: user.wire.id,
    email: user.wire.email,
    tokenDigest: digestToken(token),
    expiresAt: createdAt.getTime() + RESET_TTL_MS,
    createdAt: createdAt.toISOString(),
    used: false,
  };
  ctx.store.addReset(reset);
  // The token is answered here once; the store keeps only its digest.
  return {
    status: 201,
    body: {
      object: 'password_reset',
      id: reset.id,
      user_id: reset.userId,
      email: reset.email,
      password_reset_token: token,
      password_reset_url: `http://localhost/reset-password?token=${token}`,
      expires_at: new Date(reset.expiresAt).toISOString(),
      created_at: reset.createdAt,
    },
  };
}

export async function confirmPasswordReset(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const body = req.body;
  if (!isJsonObject(body) || typeof body.token !== 'string' || typeof body.new_password !== 'string') {
    throw invalidParameters('token and new_password are required.', [
      {
        code: 'required',
        field: typeof body === 'object' && body && 'token' in body ? 'new_password' : 'token',
      },
    ]);
  }
  const reset = ctx.store.findResetByToken(body.token);
  if (!reset || reset.used || reset.expiresAt < Date.now()) {
    throw notFound('Password reset token not found or expired.', 'password_reset_token_not_found');
  }
  const user = ctx.store.get(reset.userId);
  if (!user) throw notFound('Password reset token not found or expired.', 'password_reset_token_not_found');
  const weaknesses = passwordWeaknesses(ctx.settings.passwordPolicy, body.new_password);
  if (weaknesses.length > 0) {
    throw new ApiError(400, {
      code: 'password_reset_error',
      message: 'Password does not meet strength requirements.',
      errors: weaknesses,
    });
  }
  const password = await hashNativePassword(body.new_password);
  if (ctx.store.get(reset.userId) !== user || reset.used) {
    throw notFound('Password reset token not found or expired.', 'password_reset_token_not_found');
  }
  ctx.store.markResetUsed(reset);
  ctx.store.setPassword(user, password);
  // Resetting a password proves the email, as in WorkOS.
  const next = { ...user.wire, email_verified: true, updated_at: new Date().toISOString() };
  ctx.store.replace(user, next);
  return { status: 200, body: { user: next } };
}
