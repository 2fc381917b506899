// Sign-in answers as WorkOS gives them (workos-api.md "Answers that differ"; docs "Authentication
// errors"), through the real SDK, and how the client classifies each one for login().
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { AuthenticationException, GenericServerException, OauthException } from '@workos-inc/node';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseEmulatorFlags } from '../src/cli/parse.js';
import { classifyWorkosError, createWorkosClient } from '../src/workos/client.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

let t: TestEmulator;
const PASSWORD = 'a long passphrase';

/** The error a call fails with; a call that succeeds fails the test. */
const thrown = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => expect.fail('expected the call to fail'),
    (error: unknown) => error,
  );

const signIn = (email: string, password = PASSWORD) =>
  t.workos.userManagement.authenticateWithPassword({ email, password, clientId: t.emulator.clientId });

const verified = (email: string) =>
  t.workos.userManagement.createUser({ email, password: PASSWORD, emailVerified: true });

async function control(method: string, path: string, body?: unknown) {
  const response = await fetch(`${t.emulator.url}/_emulator/${path}`, {
    method,
    headers: { Authorization: `Bearer ${t.emulator.apiKey}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  // Default options: email verification must be on without being asked for.
  t = await startTestEmulator();
});

afterEach(() => {
  t.emulator.control.reset();
  t.emulator.control.configure({ signInSteps: {}, requireEmailVerification: true, rateLimits: false });
});

afterAll(async () => {
  await t.close();
});

describe('wrong password', () => {
  it('is 400 invalid_credentials (GenericServerException), classified invalid_credentials', async () => {
    await t.workos.userManagement.createUser({
      email: 'ada@example.com',
      password: PASSWORD,
      emailVerified: true,
    });
    const error = await thrown(signIn('ada@example.com', 'not the passphrase'));
    expect(error).toBeInstanceOf(GenericServerException);
    expect(error).not.toBeInstanceOf(OauthException);
    expect(error).toMatchObject({ status: 400, code: 'invalid_credentials' });
    const failure = classifyWorkosError(error);
    expect(failure.kind).toBe('invalid_credentials');
    expect(failure.transient).toBe(false);
  });
});

describe('email verification', () => {
  it('is on by default: 403 email_verification_required with a pending token, email and verification id', async () => {
    await t.workos.userManagement.createUser({ email: 'new@example.com', password: PASSWORD });
    const raw = await fetch(`${t.emulator.url}/user_management/authenticate`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.emulator.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'password',
        client_id: t.emulator.clientId,
        client_secret: t.emulator.apiKey,
        email: 'new@example.com',
        password: PASSWORD,
      }),
    });
    expect(raw.status).toBe(403);
    const body = (await raw.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ code: 'email_verification_required', email: 'new@example.com' });
    expect(body.pending_authentication_token).toEqual(expect.any(String));
    expect(body.email_verification_id).toMatch(/^email_verification_/);

    const error = await thrown(signIn('new@example.com'));
    expect(error).toBeInstanceOf(AuthenticationException);
    const failure = classifyWorkosError(error);
    expect(failure).toMatchObject({ kind: 'sign_in_step', code: 'email_verification_required', status: 403 });
    const token = (error as AuthenticationException).pendingAuthenticationToken;
    expect(failure.pendingAuthenticationToken).toBe(token);
    // The token continues someone's sign-in: never in the message or a serialised error.
    expect(failure.message).not.toContain(token);
    expect(JSON.stringify(failure)).not.toContain(token);
    expect(Object.keys(failure)).not.toContain('pendingAuthenticationToken');
  });

  it('a wrong password is still invalid_credentials for an unverified user (no step before the password)', async () => {
    await t.workos.userManagement.createUser({ email: 'new@example.com', password: PASSWORD });
    expect(classifyWorkosError(await thrown(signIn('new@example.com', 'wrong one'))).kind).toBe(
      'invalid_credentials',
    );
  });

  it('can be turned off by option, at run time and from the CLI', async () => {
    await t.workos.userManagement.createUser({ email: 'new@example.com', password: PASSWORD });
    t.emulator.control.configure({ requireEmailVerification: false });
    expect((await signIn('new@example.com')).user.email).toBe('new@example.com');
    expect(parseEmulatorFlags({ requireEmailVerification: false }).requireEmailVerification).toBe(false);
    expect(parseEmulatorFlags({}).requireEmailVerification).toBeUndefined();
  });
});

describe('sign-in steps (per user, email or domain)', () => {
  it('answers each step in WorkOS shape, with a pending token where WorkOS gives one', async () => {
    const cases = [
      ['mfa_enrollment', 403, AuthenticationException, true],
      ['mfa_challenge', 403, AuthenticationException, true],
      ['organization_selection_required', 403, AuthenticationException, true],
      ['radar_challenge', 403, GenericServerException, true],
      ['authentication_method_not_allowed', 403, GenericServerException, false],
      ['sso_required', 400, AuthenticationException, true],
    ] as const;
    for (const [step, status, exception, hasToken] of cases) {
      const email = `${step}@example.com`;
      await verified(email);
      t.emulator.control.configure({ signInSteps: { [email]: step } });
      const error = await thrown(signIn(email));
      expect(error, step).toBeInstanceOf(exception);
      const failure = classifyWorkosError(error);
      expect(failure, step).toMatchObject({ kind: 'sign_in_step', code: step, status });
      expect(failure.transient, step).toBe(false);
      if (hasToken) expect(failure.pendingAuthenticationToken, step).toEqual(expect.any(String));
      else expect(failure.pendingAuthenticationToken, step).toBeNull();
    }
  });

  it('steps after the first factor need the right password first; method refusals do not', async () => {
    await verified('mfa@example.com');
    await verified('sso@corp.example');
    t.emulator.control.configure({
      signInSteps: { 'mfa@example.com': 'mfa_challenge', 'corp.example': 'sso_required' },
    });
    expect(classifyWorkosError(await thrown(signIn('mfa@example.com', 'wrong'))).kind).toBe(
      'invalid_credentials',
    );
    expect(classifyWorkosError(await thrown(signIn('sso@corp.example', 'wrong'))).code).toBe('sso_required');
  });

  it('matches by user id over email over domain, and a domain key covers every user of it', async () => {
    const ada = await verified('ada@corp.example');
    await verified('bob@corp.example');
    await verified('cy@other.example');
    t.emulator.control.configure({
      signInSteps: {
        'CORP.example': 'mfa_enrollment',
        'Bob@Corp.Example': 'radar_challenge',
        [ada.id]: 'mfa_challenge',
      },
    });
    expect(classifyWorkosError(await thrown(signIn('ada@corp.example'))).code).toBe('mfa_challenge');
    expect(classifyWorkosError(await thrown(signIn('bob@corp.example'))).code).toBe('radar_challenge');
    expect((await signIn('cy@other.example')).user.email).toBe('cy@other.example');
    await verified('dee@corp.example');
    expect(classifyWorkosError(await thrown(signIn('dee@corp.example'))).code).toBe('mfa_enrollment');
  });

  it('is configurable through the control API, which refuses an unknown step naming it', async () => {
    await verified('org@example.com');
    expect(
      (
        await control('PATCH', 'settings', {
          signInSteps: { 'example.com': 'organization_selection_required' },
        })
      ).status,
    ).toBe(200);
    expect(classifyWorkosError(await thrown(signIn('org@example.com'))).code).toBe(
      'organization_selection_required',
    );
    const bad = await control('PATCH', 'settings', { signInSteps: { 'example.com': 'captcha' } });
    expect(bad.status).toBe(422);
    expect(bad.body.message).toMatch(/signInSteps\["example.com"\].*captcha/);
  });

  it('parses --sign-in-step KEY=STEP and refuses a bad one naming the flag', () => {
    expect(
      parseEmulatorFlags({ signInStep: ['corp.example=sso_required', 'a@b.example=mfa_challenge'] })
        .signInSteps,
    ).toEqual({
      'corp.example': 'sso_required',
      'a@b.example': 'mfa_challenge',
    });
    expect(() => parseEmulatorFlags({ signInStep: ['corp.example'] })).toThrow(
      /--sign-in-step must be KEY=STEP/,
    );
    expect(() => parseEmulatorFlags({ signInStep: ['x=captcha'] })).toThrow(/captcha/);
  });
});

describe('daily quota', () => {
  it('is 429 daily_quota_exceeded without Retry-After, classified quota_exceeded (not transient, not rate_limited)', async () => {
    await verified('ada@example.com');
    t.emulator.control.configure({ signInSteps: { 'example.com': 'daily_quota_exceeded' } });
    const client = createWorkosClient({
      apiKey: t.emulator.apiKey,
      clientId: t.emulator.clientId,
      apiUrl: t.emulator.url,
      timeoutMs: 10_000,
    });
    const error = await thrown(
      client.userManagement.authenticateWithPassword({
        email: 'ada@example.com',
        password: PASSWORD,
        clientId: t.emulator.clientId,
      }),
    );
    const failure = classifyWorkosError(error);
    expect(failure).toMatchObject({ kind: 'quota_exceeded', code: 'daily_quota_exceeded', status: 429 });
    expect(failure.transient).toBe(false);
    // Ordinary calls through the same client are untouched.
    expect((await client.userManagement.listUsers()).data).toHaveLength(1);
  });
});

describe('misread hash types (misreadHashTypes / --misread-hash-type)', () => {
  const pbkdf2Hash = (password: string) => {
    const salt = randomBytes(16);
    const key = pbkdf2Sync(password, salt, 600_000, 32, 'sha256');
    const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
    return `$pbkdf2$i=600000,d=sha256$${b64(salt)}$${b64(key)}`;
  };
  const importUser = (email: string, passwordHash: string, passwordHashType: string) =>
    t.workos.userManagement.createUser({
      email,
      emailVerified: true,
      passwordHash,
      passwordHashType,
    } as unknown as Parameters<typeof t.workos.userManagement.createUser>[0]);

  afterEach(() => t.emulator.control.configure({ misreadHashTypes: [] }));

  it('refuses the correct password of a misread type only, and never one set as plaintext', async () => {
    const pb = await importUser('pb@example.com', pbkdf2Hash(PASSWORD), 'pbkdf2');
    await importUser('bc@example.com', await bcrypt.hash(PASSWORD, 4), 'bcrypt');
    const plain = await verified('plain@example.com');
    // Read as imported: both sign in.
    await expect(signIn('pb@example.com')).resolves.toMatchObject({ user: { email: 'pb@example.com' } });
    await expect(signIn('bc@example.com')).resolves.toMatchObject({ user: { email: 'bc@example.com' } });

    t.emulator.control.configure({ misreadHashTypes: ['pbkdf2', 'bcrypt'] });
    for (const email of ['pb@example.com', 'bc@example.com']) {
      const error = await thrown(signIn(email));
      expect(error).toMatchObject({ status: 400, code: 'invalid_credentials' });
    }
    await expect(signIn('plain@example.com')).resolves.toMatchObject({ user: { id: plain.id } });

    // Setting the password as plaintext (what healing does) is read correctly again.
    await t.workos.userManagement.updateUser({ userId: pb.id, password: PASSWORD });
    await expect(signIn('pb@example.com')).resolves.toMatchObject({ user: { email: 'pb@example.com' } });
  });

  it('is set by option, control API and CLI flag, and a bad type is refused naming the option', async () => {
    expect(parseEmulatorFlags({ misreadHashType: ['pbkdf2', 'scrypt,bcrypt'] }).misreadHashTypes).toEqual([
      'pbkdf2',
      'scrypt',
      'bcrypt',
    ]);
    expect(() => parseEmulatorFlags({ misreadHashType: ['md5'] })).toThrow(/--misread-hash-type.*md5/);
    const bad = await control('PATCH', 'settings', { misreadHashTypes: ['sha1'] });
    expect(bad.status).toBe(422);
    expect(bad.body.message).toMatch(/misreadHashTypes.*sha1/);
    expect((await control('PATCH', 'settings', { misreadHashTypes: ['pbkdf2'] })).status).toBe(200);
    await importUser('pb2@example.com', pbkdf2Hash(PASSWORD), 'pbkdf2');
    expect(await thrown(signIn('pb2@example.com'))).toMatchObject({ code: 'invalid_credentials' });
  });
});
