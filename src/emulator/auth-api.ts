import { createHmac, randomBytes } from 'node:crypto';
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
import { passwordWeaknesses } from './password-policy.js';
import { hashNativePassword, verifyPassword } from './passwords.js';
import { digestToken, normaliseEmail } from './store.js';

const RESET_TTL_MS = 15 * 60 * 1000;
const ACCESS_TOKEN_TTL_S = 5 * 60;

// Signs the emulator's access tokens. They are JWT-shaped (the SDK decodes them when sealing
// sessions) but only this process can check them, which is all a rehearsal needs.
const signingKey = randomBytes(32);

function base64url(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

function accessToken(userId: string): string {
  const issuedAt = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({
      iss: 'workos-migrate-emulator',
      sub: userId,
      sid: newId('event').replace('event_', 'session_'),
      iat: issuedAt,
      exp: issuedAt + ACCESS_TOKEN_TTL_S,
    }),
  );
  const signature = base64url(createHmac('sha256', signingKey).update(`${header}.${payload}`).digest());
  return `${header}.${payload}.${signature}`;
}

const INVALID_CREDENTIALS = () => oauthError(400, 'invalid_grant', 'Invalid credentials.');

export async function authenticate(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const body = req.body;
  if (!isJsonObject(body)) throw invalidParameters('The request body must be a JSON object.');
  if (body.grant_type !== 'password') {
    throw oauthError(400, 'unsupported_grant_type', 'The emulator supports grant_type=password only.');
  }
  if (typeof body.client_id !== 'string' || !ctx.settings.clientIds.includes(body.client_id)) {
    throw oauthError(400, 'invalid_client', 'Invalid client ID.');
  }
  if (typeof body.client_secret !== 'string' || !secretMatches(body.client_secret, ctx.settings.apiKeys)) {
    throw oauthError(401, 'invalid_client', 'Invalid client secret.');
  }
  const { email, password } = body;
  if (typeof email !== 'string' || typeof password !== 'string') {
    throw invalidParameters('email and password are required.', [
      { code: 'required', field: typeof email !== 'string' ? 'email' : 'password' },
    ]);
  }
  const wait = ctx.authenticateWait(normaliseEmail(email));
  if (wait > 0) throw tooManyRequests(wait);
  const user = ctx.store.getByEmail(email);
  // Verify even when the user is missing or has no password, so timing says nothing.
  const stored = user?.password ?? null;
  const ok = stored !== null && (await verifyPassword(stored, password));
  if (!user || !ok || ctx.store.get(user.wire.id) !== user) throw INVALID_CREDENTIALS();
  if (ctx.settings.requireEmailVerification && !user.wire.email_verified) {
    throw new ApiError(403, {
      code: 'email_verification_required',
      message: 'Email ownership must be verified before authentication.',
      email: user.wire.email,
      pending_authentication_token: base64url(randomBytes(24)),
      email_verification_id: newId('email_verification'),
    });
  }
  const signedIn = { ...user.wire, last_sign_in_at: new Date().toISOString() };
  // A sign-in is not a profile change: WorkOS records it without a user.updated event.
  ctx.store.replace(user, signedIn, false);
  return {
    status: 200,
    body: {
      user: signedIn,
      access_token: accessToken(user.wire.id),
      refresh_token: base64url(randomBytes(24)),
      authentication_method: 'Password',
    },
  };
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
