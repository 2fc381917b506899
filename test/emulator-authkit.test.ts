// AuthKit in the emulator, through the real SDK: the authorization URL it builds, the hosted
// sign-in (imported password hashes, the sign-in steps, the simulated Google), and the
// authorization_code grant (single use, 10 minutes, bound to its client, PKCE). Every JSON answer
// is checked against the OpenAPI spec by the test emulator.
import { createPublicKey, verify, X509Certificate } from 'node:crypto';
import { OauthException, WorkOS } from '@workos-inc/node';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  completeStep,
  expectCode,
  type HostedAnswer,
  type HostedPage,
  hostedGoogleSignIn,
  hostedPasswordSignIn,
  hostedSignUp,
  openAuthorizationUrl,
} from './helpers/authkit.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

let t: TestEmulator;
const PASSWORD = 'correct horse battery';
const REDIRECT = 'http://app.example/auth/callback';
const OTHER_CLIENT = 'client_other_app';

const thrown = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => expect.fail('expected the call to fail'),
    (error: unknown) => error,
  );

function asPage(answer: HostedAnswer): HostedPage {
  if (!('page' in answer)) throw new Error(`expected a page, got a redirect to ${answer.location}`);
  return answer;
}

/** A user imported with a bcrypt hash, as the backfill does (no plaintext ever reaches the emulator). */
async function importedUser(email: string, options: { verified?: boolean } = {}) {
  return t.workos.userManagement.createUser({
    email,
    passwordHash: bcrypt.hashSync(PASSWORD, 4),
    passwordHashType: 'bcrypt',
    emailVerified: options.verified ?? true,
    firstName: 'Ada',
  });
}

function authorizationUrl(options: { loginHint?: string; state?: string; clientId?: string } = {}) {
  return t.workos.userManagement.getAuthorizationUrl({
    provider: 'authkit',
    redirectUri: REDIRECT,
    clientId: options.clientId ?? t.emulator.clientId,
    ...(options.loginHint ? { loginHint: options.loginHint } : {}),
    ...(options.state ? { state: options.state } : {}),
  });
}

const exchange = (code: string, extra: { codeVerifier?: string; clientId?: string } = {}) =>
  t.workos.userManagement.authenticateWithCode({
    code,
    clientId: extra.clientId ?? t.emulator.clientId,
    ...(extra.codeVerifier ? { codeVerifier: extra.codeVerifier } : {}),
  });

function claims(accessToken: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString('utf8'));
}

beforeAll(async () => {
  t = await startTestEmulator({ clientIds: ['client_emulator', OTHER_CLIENT] });
});

afterEach(() => {
  vi.useRealTimers();
  t.emulator.control.reset();
  t.emulator.control.configure({ signInSteps: {}, requireEmailVerification: true, redirectUris: null });
});

afterAll(async () => {
  await t.close();
});

describe('GET /user_management/authorize', () => {
  it('serves the hosted sign-in page for the URL the SDK builds, with the login hint prefilled', async () => {
    const page = asPage(await openAuthorizationUrl(authorizationUrl({ loginHint: 'ada@example.com' })));
    expect(page).toMatchObject({ status: 200, page: 'sign-in', error: null });
    expect(page.html).toContain('value="ada@example.com"');
    expect(page.html).toContain('Continue with Google');
    expect(page.html).not.toMatch(/<script/i);
  });

  it('answers an error page, never a redirect, for an unknown client, a missing or unlisted redirect_uri', async () => {
    const base = new URL(authorizationUrl());
    const variant = (change: (query: URLSearchParams) => void) => {
      const url = new URL(base);
      change(url.searchParams);
      return url.toString();
    };
    const cases: [string, string, string][] = [
      ['unknown client', variant((q) => q.set('client_id', 'client_nobody')), 'invalid_client'],
      ['no redirect_uri', variant((q) => q.delete('redirect_uri')), 'invalid_request'],
      ['not a URL', variant((q) => q.set('redirect_uri', 'javascript:alert(1)')), 'invalid_redirect_uri'],
      ['response_type', variant((q) => q.set('response_type', 'token')), 'unsupported_response_type'],
      [
        'plain PKCE',
        variant((q) => {
          q.set('code_challenge', 'abc');
          q.set('code_challenge_method', 'plain');
        }),
        'invalid_request',
      ],
    ];
    for (const [name, url, code] of cases) {
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status, name).toBe(400);
      expect(response.headers.get('location'), name).toBeNull();
      expect(asPage(await openAuthorizationUrl(url)).error, name).toBe(code);
    }

    t.emulator.control.configure({ redirectUris: ['http://app.example/other'] });
    const unlisted = asPage(await openAuthorizationUrl(authorizationUrl()));
    expect(unlisted).toMatchObject({ status: 400, page: 'error', error: 'invalid_redirect_uri' });
    t.emulator.control.configure({ redirectUris: [REDIRECT] });
    expect(asPage(await openAuthorizationUrl(authorizationUrl())).page).toBe('sign-in');
  });
});

describe('hosted password sign-in', () => {
  it('checks an imported hash, redirects with a code and the exact state, and the SDK exchanges it', async () => {
    const created = await importedUser('ada@example.com');
    const state = 'a b&c=d/é?+%';
    const answer = expectCode(
      await hostedPasswordSignIn(authorizationUrl({ state }), {
        email: 'ada@example.com',
        password: PASSWORD,
      }),
    );
    expect(answer.location.startsWith(`${REDIRECT}?`)).toBe(true);
    expect(answer.state).toBe(state);

    const before = Date.now();
    const session = await t.workos.userManagement.authenticateWithCode({
      code: answer.code,
      clientId: t.emulator.clientId,
      session: { sealSession: true, cookiePassword: 'a cookie password of at least 32 chars' },
    });
    expect(session.user.id).toBe(created.id);
    expect(session.authenticationMethod).toBe('Password');
    expect(claims(session.accessToken)).toMatchObject({
      sub: created.id,
      sid: expect.stringMatching(/^session_/),
    });
    expect(session.refreshToken).toEqual(expect.any(String));
    expect(session.sealedSession).toEqual(expect.any(String));
    expect(Date.parse(session.user.lastSignInAt as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(t.emulator.control.getUser(created.id)?.user.last_sign_in_at).toBe(session.user.lastSignInAt);
  });

  it('re-renders the page with an error for a wrong password, and the same page then signs in', async () => {
    await importedUser('ada@example.com');
    const wrong = asPage(
      await hostedPasswordSignIn(authorizationUrl(), { email: 'ada@example.com', password: 'not it' }),
    );
    expect(wrong).toMatchObject({ status: 400, page: 'sign-in', error: 'invalid_credentials' });
    expect(wrong.html).toContain('value="ada@example.com"');
    expect(wrong.html).not.toContain('not it');
    expectCode(await wrong.submit({ email: 'ada@example.com', password: PASSWORD }));
  });

  it('shows a social user (no password) the same wrong-credentials page', async () => {
    await t.workos.userManagement.createUser({ email: 'social@example.com', emailVerified: true });
    const page = asPage(
      await hostedPasswordSignIn(authorizationUrl(), {
        email: 'social@example.com',
        password: 'anything at all',
      }),
    );
    expect(page.error).toBe('invalid_credentials');
  });
});

describe('sign-in steps on the hosted page', () => {
  it('an MFA challenge takes a one-time code; a wrong code stays on the step', async () => {
    const user = await importedUser('mfa@example.com');
    t.emulator.control.configure({ signInSteps: { [user.id]: 'mfa_challenge' } });
    const step = asPage(
      await hostedPasswordSignIn(authorizationUrl(), { email: 'mfa@example.com', password: PASSWORD }),
    );
    expect(step).toMatchObject({ page: 'step', step: 'mfa_challenge' });
    const wrong = asPage(await completeStep(step, { code: '000000' }));
    expect(wrong).toMatchObject({ status: 400, step: 'mfa_challenge', error: 'invalid_one_time_code' });
    const { code } = expectCode(await completeStep(wrong));
    expect((await exchange(code)).user.id).toBe(user.id);
  });

  it('a wrong password is judged before any step, as by the password grant', async () => {
    await importedUser('mfa@example.com');
    t.emulator.control.configure({ signInSteps: { 'mfa@example.com': 'mfa_enrollment' } });
    const page = asPage(
      await hostedPasswordSignIn(authorizationUrl(), { email: 'mfa@example.com', password: 'wrong one' }),
    );
    expect(page).toMatchObject({ page: 'sign-in', error: 'invalid_credentials' });
  });

  it('SSO required for a domain is a page saying so, whatever the password', async () => {
    await importedUser('sso@corp.example');
    t.emulator.control.configure({ signInSteps: { 'corp.example': 'sso_required' } });
    const page = asPage(
      await hostedPasswordSignIn(authorizationUrl(), { email: 'sso@corp.example', password: 'wrong' }),
    );
    expect(page).toMatchObject({ status: 403, page: 'error', error: 'sso_required' });
  });

  it('organization selection puts the chosen organization in the answer and the token', async () => {
    const user = await importedUser('org@example.com');
    t.emulator.control.configure({ signInSteps: { [user.id]: 'organization_selection_required' } });
    const step = asPage(
      await hostedPasswordSignIn(authorizationUrl(), { email: 'org@example.com', password: PASSWORD }),
    );
    expect(step.step).toBe('organization_selection_required');
    const organizationId = /name="organization_id" value="([^"]+)"/.exec(step.html)?.[1] as string;
    expect(asPage(await completeStep(step, { organizationId: 'org_forged' })).error).toBe(
      'invalid_organization',
    );
    const { code } = expectCode(await completeStep(step, { organizationId }));
    const session = await exchange(code);
    expect(session.organizationId).toBe(organizationId);
    expect(claims(session.accessToken).org_id).toBe(organizationId);
  });

  it('an unverified email is verified with a code before the code is issued', async () => {
    const user = await importedUser('new@example.com', { verified: false });
    const step = asPage(
      await hostedPasswordSignIn(authorizationUrl(), { email: 'new@example.com', password: PASSWORD }),
    );
    expect(step.step).toBe('email_verification');
    const { code } = expectCode(await completeStep(step));
    expect((await exchange(code)).user).toMatchObject({ id: user.id, emailVerified: true });
  });
});

describe('authorization_code grant', () => {
  async function codeFor(email: string, url = authorizationUrl()) {
    return expectCode(await hostedPasswordSignIn(url, { email, password: PASSWORD })).code;
  }

  it('is single-use: a replayed code is 400 invalid_grant (OauthException)', async () => {
    await importedUser('ada@example.com');
    const code = await codeFor('ada@example.com');
    await exchange(code);
    const replay = await thrown(exchange(code));
    expect(replay).toBeInstanceOf(OauthException);
    expect(replay).toMatchObject({ status: 400, error: 'invalid_grant' });
  });

  it('expires after the 10 minutes WorkOS documents', async () => {
    await importedUser('ada@example.com');
    const code = await codeFor('ada@example.com');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60 * 1000 + 1000 });
    expect(await thrown(exchange(code))).toMatchObject({ status: 400, error: 'invalid_grant' });
    vi.useRealTimers();
    const fresh = await codeFor('ada@example.com');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 9 * 60 * 1000 });
    expect((await exchange(fresh)).user.email).toBe('ada@example.com');
  });

  it('is bound to the client it was issued to', async () => {
    await importedUser('ada@example.com');
    const code = await codeFor('ada@example.com');
    expect(await thrown(exchange(code, { clientId: OTHER_CLIENT }))).toMatchObject({
      error: 'invalid_grant',
    });
    // The failed attempt spent it.
    expect(await thrown(exchange(code))).toMatchObject({ error: 'invalid_grant' });
    const other = await codeFor('ada@example.com', authorizationUrl({ clientId: OTHER_CLIENT }));
    expect((await exchange(other, { clientId: OTHER_CLIENT })).user.email).toBe('ada@example.com');
  });

  it('with PKCE needs the matching verifier, and then works for a public client without an API key', async () => {
    await importedUser('ada@example.com');
    const pkce = () =>
      t.workos.userManagement.getAuthorizationUrlWithPKCE({ provider: 'authkit', redirectUri: REDIRECT });
    const first = await pkce();
    const firstCode = expectCode(
      await hostedPasswordSignIn(first.url, { email: 'ada@example.com', password: PASSWORD }),
    );
    expect(firstCode.state).toBe(first.state);
    const wrongVerifier = (await pkce()).codeVerifier;
    expect(await thrown(exchange(firstCode.code, { codeVerifier: wrongVerifier }))).toMatchObject({
      error: 'invalid_grant',
    });

    const second = await pkce();
    const code = expectCode(
      await hostedPasswordSignIn(second.url, { email: 'ada@example.com', password: PASSWORD }),
    ).code;
    // A public client holds no API key: the verifier alone proves it.
    const publicClient = new WorkOS({
      clientId: t.emulator.clientId,
      ...t.emulator.sdkOptions,
      maxRetries: 0,
    });
    const session = await publicClient.userManagement.authenticateWithCode({
      code,
      codeVerifier: second.codeVerifier,
      clientId: t.emulator.clientId,
    });
    expect(session.user.email).toBe('ada@example.com');
  });

  it('without PKCE needs the client secret', async () => {
    await importedUser('ada@example.com');
    const code = await codeFor('ada@example.com');
    const response = await fetch(`${t.emulator.url}/user_management/authenticate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'authorization_code', client_id: t.emulator.clientId, code }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });
});

describe('simulated Google', () => {
  it('links a verified Google email to the existing user, who signs in as themselves', async () => {
    const user = await importedUser('ada@example.com');
    const { code } = expectCode(await hostedGoogleSignIn(authorizationUrl(), { email: 'ADA@example.com' }));
    const session = await exchange(code);
    expect(session.user.id).toBe(user.id);
    expect(session.authenticationMethod).toBe('GoogleOAuth');
    expect(t.emulator.control.userCount()).toBe(1);
  });

  it('never hands an existing account to an unverified Google email: the inbox is proven first', async () => {
    const user = await importedUser('ada@example.com');
    const step = asPage(
      await hostedGoogleSignIn(authorizationUrl(), { email: 'ada@example.com', emailVerified: false }),
    );
    expect(step).toMatchObject({ page: 'step', step: 'email_verification' });
    expect(asPage(await completeStep(step, { code: '999999' })).error).toBe('invalid_one_time_code');
    const { code } = expectCode(await completeStep(step));
    expect((await exchange(code)).user.id).toBe(user.id);
  });

  it('creates a new WorkOS user without a password for an unknown email', async () => {
    const { code } = expectCode(
      await hostedGoogleSignIn(authorizationUrl(), {
        email: 'grace@gmail.example',
        name: 'Grace Brewster Hopper',
      }),
    );
    const session = await exchange(code);
    expect(session.user).toMatchObject({
      email: 'grace@gmail.example',
      firstName: 'Grace',
      lastName: 'Brewster Hopper',
      emailVerified: true,
    });
    expect(t.emulator.control.getUser(session.user.id)).toMatchObject({ hasPassword: false });
  });

  it('provider=GoogleOAuth goes straight to the simulated provider', async () => {
    const url = t.workos.userManagement.getAuthorizationUrl({
      provider: 'GoogleOAuth',
      redirectUri: REDIRECT,
      state: 'st',
    });
    const page = asPage(await openAuthorizationUrl(url));
    expect(page.page).toBe('oauth');
    const { code, state } = expectCode(await page.submit({ email: 'g@example.com', email_verified: 'true' }));
    expect(state).toBe('st');
    expect((await exchange(code)).authenticationMethod).toBe('GoogleOAuth');
  });

  it('the configured MFA step applies to a Google sign-in too', async () => {
    const user = await importedUser('ada@example.com');
    t.emulator.control.configure({ signInSteps: { [user.id]: 'mfa_challenge' } });
    const step = asPage(await hostedGoogleSignIn(authorizationUrl(), { email: 'ada@example.com' }));
    expect(step.step).toBe('mfa_challenge');
    expectCode(await completeStep(step));
  });
});

describe('hosted sign-up', () => {
  it('creates a WorkOS-only user with a password, verifies the email, and issues a code', async () => {
    const url = t.workos.userManagement.getAuthorizationUrl({
      provider: 'authkit',
      redirectUri: REDIRECT,
      screenHint: 'sign-up',
    });
    const weak = asPage(await hostedSignUp(url, { email: 'new@example.com', password: 'short' }));
    expect(weak).toMatchObject({ page: 'sign-up', error: 'password_strength_error' });
    const step = asPage(await weak.submit({ email: 'new@example.com', password: PASSWORD }));
    expect(step.step).toBe('email_verification');
    const session = await exchange(expectCode(await completeStep(step)).code);
    expect(session.user).toMatchObject({ email: 'new@example.com', emailVerified: true });
    const again = asPage(
      await hostedSignUp(authorizationUrl(), { email: 'new@example.com', password: PASSWORD }),
    );
    expect(again.error).toBe('user_creation_error');
  });
});

describe('access tokens (RS256) and the JWKS', () => {
  const COOKIE_PASSWORD = 'a cookie password of at least 32 chars';

  it('serves the public key at /sso/jwks/{clientId}, so loadSealedSession().authenticate() verifies a session', async () => {
    const user = await importedUser('ada@example.com');
    const { code } = expectCode(
      await hostedPasswordSignIn(authorizationUrl(), { email: 'ada@example.com', password: PASSWORD }),
    );
    const session = await t.workos.userManagement.authenticateWithCode({
      code,
      clientId: t.emulator.clientId,
      session: { sealSession: true, cookiePassword: COOKIE_PASSWORD },
    });
    const loaded = await t.workos.userManagement
      .loadSealedSession({ sessionData: session.sealedSession as string, cookiePassword: COOKIE_PASSWORD })
      .authenticate();
    expect(loaded).toMatchObject({
      authenticated: true,
      sessionId: claims(session.accessToken).sid,
      user: { id: user.id },
    });

    // The JWKS answer (spec-checked) carries a certificate for the same key.
    const response = await fetch(t.workos.userManagement.getJwksUrl(t.emulator.clientId));
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: { x5c: string[]; n: string; e: string }[] };
    const key = keys[0] as (typeof keys)[number];
    const certificate = new X509Certificate(Buffer.from(key.x5c[0] as string, 'base64'));
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.publicKey.export({ format: 'jwk' })).toMatchObject({ n: key.n, e: key.e });
    expect((await fetch(t.workos.userManagement.getJwksUrl('client_nobody'))).status).toBe(404);
  });

  it('a token signed by another emulator, or altered, does not verify', async () => {
    const other = await startTestEmulator();
    try {
      await other.workos.userManagement.createUser({
        email: 'ada@example.com',
        password: PASSWORD,
        emailVerified: true,
      });
      const foreign = await other.workos.userManagement.authenticateWithPassword({
        email: 'ada@example.com',
        password: PASSWORD,
        clientId: other.emulator.clientId,
        session: { sealSession: true, cookiePassword: COOKIE_PASSWORD },
      });
      // Another key id than this emulator's JWKS has: the SDK (jose) refuses it, as with WorkOS.
      await expect(
        t.workos.userManagement
          .loadSealedSession({
            sessionData: foreign.sealedSession as string,
            cookiePassword: COOKIE_PASSWORD,
          })
          .authenticate(),
      ).rejects.toThrow(/no applicable key/);
    } finally {
      await other.close();
    }
    await importedUser('ada@example.com');
    const own = await t.workos.userManagement.authenticateWithPassword({
      email: 'ada@example.com',
      password: PASSWORD,
      clientId: t.emulator.clientId,
    });
    const response = await fetch(t.workos.userManagement.getJwksUrl(t.emulator.clientId));
    const { keys } = (await response.json()) as { keys: { kty: string; n: string; e: string }[] };
    const key = createPublicKey({ key: keys[0] as { kty: string; n: string; e: string }, format: 'jwk' });
    const [header, payload, signature] = own.accessToken.split('.') as [string, string, string];
    const verifies = (body: string) =>
      verify('sha256', Buffer.from(`${header}.${body}`), key, Buffer.from(signature, 'base64url'));
    expect(verifies(payload)).toBe(true);
    const altered = Buffer.from(
      JSON.stringify({ ...claims(own.accessToken), sub: 'user_someone_else' }),
    ).toString('base64url');
    expect(verifies(altered)).toBe(false);
  });

  it('a refresh keeps the session id, spends the refresh token, and stops once the session is revoked', async () => {
    await importedUser('ada@example.com');
    const { code } = expectCode(
      await hostedPasswordSignIn(authorizationUrl(), { email: 'ada@example.com', password: PASSWORD }),
    );
    const first = await t.workos.userManagement.authenticateWithCode({
      code,
      clientId: t.emulator.clientId,
      session: { sealSession: true, cookiePassword: COOKIE_PASSWORD },
    });
    const sid = claims(first.accessToken).sid;
    const signedInAt = t.emulator.control.getUser('ada@example.com')?.user.last_sign_in_at;
    const refreshed = await t.workos.userManagement
      .loadSealedSession({ sessionData: first.sealedSession as string, cookiePassword: COOKIE_PASSWORD })
      .refresh();
    expect(refreshed).toMatchObject({ authenticated: true, sessionId: sid });
    // A refresh is not a sign-in.
    expect(t.emulator.control.getUser('ada@example.com')?.user.last_sign_in_at).toBe(signedInAt);
    const replay = await thrown(
      t.workos.userManagement.authenticateWithRefreshToken({ refreshToken: first.refreshToken }),
    );
    expect(replay).toMatchObject({ status: 400, error: 'invalid_grant' });

    const next = (refreshed as { session: { refreshToken: string } }).session.refreshToken;
    await t.workos.userManagement.revokeSession({ sessionId: sid as string });
    expect(
      await thrown(t.workos.userManagement.authenticateWithRefreshToken({ refreshToken: next })),
    ).toMatchObject({ status: 400, error: 'invalid_grant' });
  });
});

describe('authentication events', () => {
  it('records authentication.password_succeeded and authentication.oauth_succeeded, as WorkOS does', async () => {
    const user = await importedUser('ada@example.com');
    const password = expectCode(
      await hostedPasswordSignIn(authorizationUrl(), { email: 'ada@example.com', password: PASSWORD }),
    );
    await t.workos.userManagement.authenticateWithCode({
      code: password.code,
      clientId: t.emulator.clientId,
      ipAddress: '203.0.113.7',
      userAgent: 'Rehearsal/1.0',
    });
    await exchange(
      expectCode(await hostedGoogleSignIn(authorizationUrl(), { email: 'ada@example.com' })).code,
    );
    const events = await t.workos.events.listEvents({
      events: ['authentication.password_succeeded', 'authentication.oauth_succeeded'],
      order: 'asc',
    });
    expect(events.data.map((event) => [event.event, event.data])).toEqual([
      [
        'authentication.password_succeeded',
        expect.objectContaining({ userId: user.id, email: 'ada@example.com', ipAddress: '203.0.113.7' }),
      ],
      ['authentication.oauth_succeeded', expect.objectContaining({ userId: user.id, type: 'oauth' })],
    ]);
  });
});
