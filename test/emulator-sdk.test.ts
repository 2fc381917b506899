import {
  BadRequestException,
  ConflictException,
  GenericServerException,
  NotFoundException,
  OauthException,
  RateLimitExceededException,
  UnauthorizedException,
  UnprocessableEntityException,
  WorkOS,
} from '@workos-inc/node';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyWorkosError } from '../src/workos/client.js';
import { startTestEmulator } from './helpers/emulator.js';

type TestEmulator = Awaited<ReturnType<typeof startTestEmulator>>;

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const USER_ID = /^user_[0-9A-HJKMNP-TV-Z]{26}$/;

let t: TestEmulator;
let workos: WorkOS;

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

async function raw(path: string, init: RequestInit = {}, key = t.emulator.apiKey) {
  const response = await fetch(`${t.emulator.url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...init.headers },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  // Email verification (on by default, as in WorkOS) is covered in emulator-sign-in.test.ts.
  t = await startTestEmulator({ requireEmailVerification: false });
  workos = t.workos;
});

afterEach(() => {
  t.emulator.control.reset();
  t.emulator.control.configure({
    rateLimits: false,
    emailTaken: 'user_creation_error',
    faults: {},
    requireEmailVerification: false,
  });
});

afterAll(async () => {
  await t.close();
});

describe('users', () => {
  it('creates a user with the wire shape of WorkOS', async () => {
    const created = await raw('/user_management/users', {
      method: 'POST',
      body: JSON.stringify({ email: 'Ada@Example.com', first_name: 'Ada', external_id: 'app_1' }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const user = created.body;
    expect(user).toEqual({
      object: 'user',
      id: expect.stringMatching(USER_ID),
      email: 'Ada@Example.com',
      email_verified: false,
      first_name: 'Ada',
      last_name: null,
      profile_picture_url: null,
      last_sign_in_at: null,
      locale: null,
      external_id: 'app_1',
      metadata: {},
      created_at: expect.stringMatching(ISO_MS),
      updated_at: expect.stringMatching(ISO_MS),
    });
  });

  it('gets by id and by external id, and answers NotFound for unknown ones', async () => {
    const user = await workos.userManagement.createUser({
      email: 'grace@example.com',
      externalId: 'ext/with space?&',
      emailVerified: true,
    });
    expect((await workos.userManagement.getUser(user.id)).email).toBe('grace@example.com');
    const byExternal = await workos.userManagement.getUserByExternalId('ext/with space?&');
    expect(byExternal.id).toBe(user.id);
    expect(await thrown(workos.userManagement.getUser('user_01ABCDEFGHJKMNPQRSTVWXYZ00'))).toBeInstanceOf(
      NotFoundException,
    );
    expect(await thrown(workos.userManagement.getUserByExternalId('nobody'))).toBeInstanceOf(
      NotFoundException,
    );
  });

  it('updates partially, deletes metadata keys set to null, and moves updated_at', async () => {
    const user = await workos.userManagement.createUser({
      email: 'lin@example.com',
      firstName: 'Lin',
      lastName: 'Old',
      metadata: { plan: 'pro', region: 'eu' },
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const updated = await workos.userManagement.updateUser({
      userId: user.id,
      lastName: 'New',
      metadata: { plan: null as unknown as string, tier: 'gold' },
    });
    expect(updated.firstName).toBe('Lin');
    expect(updated.lastName).toBe('New');
    expect(updated.metadata).toEqual({ region: 'eu', tier: 'gold' });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(user.updatedAt));
    expect(updated.createdAt).toBe(user.createdAt);
  });

  it('refuses a taken email or external id on update', async () => {
    const a = await workos.userManagement.createUser({ email: 'a@example.com', externalId: 'a' });
    await workos.userManagement.createUser({ email: 'b@example.com', externalId: 'b' });
    const emailTaken = await thrown(
      workos.userManagement.updateUser({ userId: a.id, email: 'B@EXAMPLE.COM' }),
    );
    expect(emailTaken).toBeInstanceOf(GenericServerException);
    expect(emailTaken).toMatchObject({ status: 400, rawData: { code: 'email_not_available' } });
    const externalTaken = await thrown(workos.userManagement.updateUser({ userId: a.id, externalId: 'b' }));
    expect(externalTaken).toMatchObject({ status: 400, rawData: { code: 'external_id_already_used' } });
    // Nothing changed.
    expect((await workos.userManagement.getUser(a.id)).email).toBe('a@example.com');
  });

  it('deletes, then answers NotFound', async () => {
    const user = await workos.userManagement.createUser({ email: 'gone@example.com' });
    await workos.userManagement.deleteUser(user.id);
    expect(await thrown(workos.userManagement.getUser(user.id))).toBeInstanceOf(NotFoundException);
    expect(await thrown(workos.userManagement.deleteUser(user.id))).toBeInstanceOf(NotFoundException);
    // The email is free again.
    await workos.userManagement.createUser({ email: 'gone@example.com' });
  });

  it('lists with email filter (case-insensitive), limits and cursors in every order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await workos.userManagement.createUser({ email: `u${i}@example.com` })).id);
    }
    const byEmail = await workos.userManagement.listUsers({ email: 'U3@EXAMPLE.COM' });
    expect(byEmail.data.map((user) => user.id)).toEqual([ids[3]]);

    // desc (the SDK's default): newest first, `after` continues to older users.
    const first = await workos.userManagement.listUsers({ limit: 3 });
    expect(first.data.map((user) => user.id)).toEqual([ids[6], ids[5], ids[4]]);
    expect(first.listMetadata.before).toBeNull();
    expect(first.listMetadata.after).toBe(ids[4]);
    const second = await workos.userManagement.listUsers({
      limit: 3,
      after: first.listMetadata.after as string,
    });
    expect(second.data.map((user) => user.id)).toEqual([ids[3], ids[2], ids[1]]);
    const last = await workos.userManagement.listUsers({
      limit: 3,
      after: second.listMetadata.after as string,
    });
    expect(last.data.map((user) => user.id)).toEqual([ids[0]]);
    expect(last.listMetadata.after).toBeNull();
    const back = await workos.userManagement.listUsers({ limit: 2, before: ids[3] as string });
    expect(back.data.map((user) => user.id)).toEqual([ids[5], ids[4]]);

    // asc: oldest first.
    const asc = await workos.userManagement.listUsers({ limit: 4, order: 'asc' });
    expect(asc.data.map((user) => user.id)).toEqual(ids.slice(0, 4));
    const ascNext = await workos.userManagement.listUsers({
      limit: 4,
      order: 'asc',
      after: ids[3] as string,
    });
    expect(ascNext.data.map((user) => user.id)).toEqual(ids.slice(4));
    expect(ascNext.listMetadata.after).toBeNull();

    // normal: newest first, but `before` fetches older and `after` newer.
    const normal = await workos.userManagement.listUsers({
      limit: 2,
      order: 'normal' as 'desc',
      before: ids[4] as string,
    });
    expect(normal.data.map((user) => user.id)).toEqual([ids[3], ids[2]]);
    const newer = await workos.userManagement.listUsers({
      limit: 2,
      order: 'normal' as 'desc',
      after: ids[4] as string,
    });
    expect(newer.data.map((user) => user.id)).toEqual([ids[6], ids[5]]);

    // A cursor whose user was deleted still positions the page.
    await workos.userManagement.deleteUser(ids[3] as string);
    const afterDeleted = await workos.userManagement.listUsers({
      limit: 2,
      order: 'asc',
      after: ids[3] as string,
    });
    expect(afterDeleted.data.map((user) => user.id)).toEqual([ids[4], ids[5]]);

    for (const limit of [0, 101]) {
      expect(await thrown(workos.userManagement.listUsers({ limit }))).toBeInstanceOf(
        UnprocessableEntityException,
      );
    }
  });

  it('pages through every user with the SDK auto-pagination', async () => {
    await t.emulator.control.seedUsers(
      Array.from({ length: 130 }, (_, i) => ({ email: `page${i}@example.com` })),
    );
    // Without a limit the SDK pages by 100 itself, following list_metadata.after.
    const all = await (await workos.userManagement.listUsers()).autoPagination();
    expect(all).toHaveLength(130);
    expect(new Set(all.map((user) => user.email)).size).toBe(130);
  });

  it('filters by organization_id and refuses an unknown organization', async () => {
    await t.emulator.control.seedUsers([
      { email: 'member@example.com', organization_ids: ['org_01ACME'] },
      { email: 'other@example.com' },
    ]);
    const members = await workos.userManagement.listUsers({ organizationId: 'org_01ACME' });
    expect(members.data.map((user) => user.email)).toEqual(['member@example.com']);
    expect(await thrown(workos.userManagement.listUsers({ organizationId: 'org_unknown' }))).toBeInstanceOf(
      UnprocessableEntityException,
    );
  });
});

describe('validation', () => {
  it('answers each email-taken variant on create with the matching SDK exception', async () => {
    await workos.userManagement.createUser({ email: 'taken@example.com' });

    const creationError = await thrown(workos.userManagement.createUser({ email: 'TAKEN@example.com' }));
    expect(creationError).toBeInstanceOf(BadRequestException);
    expect(creationError).toMatchObject({
      code: 'user_creation_error',
      errors: [{ code: 'email_not_available' }],
    });

    t.emulator.control.configure({ emailTaken: 'email_not_available' });
    const notAvailable = await thrown(workos.userManagement.createUser({ email: 'taken@example.com' }));
    expect(notAvailable).toBeInstanceOf(GenericServerException);
    expect(notAvailable).toMatchObject({ status: 400, rawData: { code: 'email_not_available' } });

    t.emulator.control.configure({ emailTaken: 'conflict' });
    const conflict = await thrown(workos.userManagement.createUser({ email: ' taken@example.com'.trim() }));
    expect(conflict).toBeInstanceOf(ConflictException);
    expect(conflict).toMatchObject({ status: 409 });
    expect(t.emulator.control.userCount()).toBe(1);
  });

  it('refuses a taken external id on create', async () => {
    await workos.userManagement.createUser({ email: 'one@example.com', externalId: 'same' });
    const error = await thrown(
      workos.userManagement.createUser({ email: 'two@example.com', externalId: 'same' }),
    );
    // WorkOS's create answers the user_creation_error envelope, the reason in errors[] (workos-api.md).
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error).toMatchObject({
      code: 'user_creation_error',
      errors: [{ code: 'external_id_already_used' }],
    });
    expect(classifyWorkosError(error).kind).toBe('external_id_taken');
    expect(t.emulator.control.userCount()).toBe(1);
  });

  it('classifies every email-taken and external-id-taken answer by its errors[] as well as its code', async () => {
    await workos.userManagement.createUser({ email: 'taken@example.com', externalId: 'taken' });
    const create = (body: { email: string; externalId?: string }) =>
      thrown(workos.userManagement.createUser(body)).then(classifyWorkosError);
    expect((await create({ email: 'TAKEN@example.com' })).kind).toBe('email_taken');
    expect((await create({ email: 'other@example.com', externalId: 'taken' })).kind).toBe(
      'external_id_taken',
    );
    t.emulator.control.configure({ emailTaken: 'email_not_available' });
    expect((await create({ email: 'taken@example.com' })).kind).toBe('email_taken');
    t.emulator.control.configure({ emailTaken: 'conflict' });
    expect((await create({ email: 'taken@example.com' })).kind).toBe('email_taken');
    const other = await workos.userManagement.createUser({ email: 'b@example.com' });
    const onUpdate = await thrown(
      workos.userManagement.updateUser({ userId: other.id, externalId: 'taken' }),
    );
    expect(classifyWorkosError(onUpdate).kind).toBe('external_id_taken');
  });

  it('refuses password with a hash, a hash without its type, and malformed or unknown hashes', async () => {
    const hash = bcrypt.hashSync('correct horse', 4);
    const cases: [Record<string, unknown>, string][] = [
      [
        { password: 'long enough pw', password_hash: hash, password_hash_type: 'bcrypt' },
        'password_and_password_hash_provided',
      ],
      [{ password_hash: hash }, 'password_and_password_hash_type_provided'],
      [{ password_hash_type: 'bcrypt' }, 'password_and_password_hash_type_provided'],
      [{ password_hash: '$2b$04$tooshort', password_hash_type: 'bcrypt' }, 'invalid_password_hash'],
      [{ password_hash: hash, password_hash_type: 'md5' }, 'invalid_password_hash'],
      [{ password_hash: 'not a hash', password_hash_type: 'argon2' }, 'invalid_password_hash'],
    ];
    for (const [fields, code] of cases) {
      const response = await raw('/user_management/users', {
        method: 'POST',
        body: JSON.stringify({ email: 'v@example.com', ...fields }),
      });
      expect(response.status, code).toBe(400);
      expect(response.body.code).toBe(code);
      // Error messages never quote the hash.
      expect(JSON.stringify(response.body)).not.toContain(hash.slice(7));
    }
    expect(t.emulator.control.userCount()).toBe(0);
  });

  it('enforces the documented metadata limits', async () => {
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']));
    for (const metadata of [
      eleven,
      { ['k'.repeat(41)]: 'v' },
      { k: 'v'.repeat(601) },
      { k: 'ünïcode' },
      { k: 3 },
    ]) {
      const error = await thrown(
        workos.userManagement.createUser({
          email: 'm@example.com',
          metadata: metadata as Record<string, string>,
        }),
      );
      expect(error).toMatchObject({ status: 400, rawData: { code: 'invalid_metadata' } });
    }
    const user = await workos.userManagement.createUser({
      email: 'm@example.com',
      metadata: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v']).slice(0, 10)),
    });
    // Merging past ten keys on update is refused too.
    const error = await thrown(
      workos.userManagement.updateUser({ userId: user.id, metadata: { extra: 'x' } }),
    );
    expect(error).toMatchObject({ status: 400, rawData: { code: 'invalid_metadata' } });
  });

  it('answers schema errors with 422 invalid_request_parameters', async () => {
    const missingEmail = await raw('/user_management/users', { method: 'POST', body: JSON.stringify({}) });
    expect(missingEmail.status).toBe(422);
    expect(missingEmail.body.code).toBe('invalid_request_parameters');
    const error = await thrown(
      workos.userManagement.createUser({ email: 'x@example.com', firstName: 42 as unknown as string }),
    );
    expect(error).toBeInstanceOf(UnprocessableEntityException);
    const longExternal = await thrown(
      workos.userManagement.createUser({ email: 'y@example.com', externalId: 'x'.repeat(65) }),
    );
    expect(longExternal).toBeInstanceOf(UnprocessableEntityException);
    const badEmail = await raw('/user_management/users', {
      method: 'POST',
      body: JSON.stringify({ email: 'not-an-email' }),
    });
    // Create lists no `invalid_email` in the spec: a schema error there, a 400 code on update.
    expect(badEmail).toMatchObject({
      status: 422,
      body: { code: 'invalid_request_parameters', errors: [{ code: 'invalid_email', field: 'email' }] },
    });
    const user = await workos.userManagement.createUser({ email: 'z@example.com' });
    const badUpdate = await raw(`/user_management/users/${user.id}`, {
      method: 'PUT',
      body: JSON.stringify({ email: 'not-an-email' }),
    });
    expect(badUpdate).toMatchObject({ status: 400, body: { code: 'invalid_email' } });
  });

  it('refuses weak plaintext passwords with password_strength_error', async () => {
    const error = await thrown(
      workos.userManagement.createUser({ email: 'weak@example.com', password: 'short' }),
    );
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error).toMatchObject({
      code: 'password_strength_error',
      errors: [{ code: 'password_too_short' }],
    });
    const common = await thrown(
      workos.userManagement.createUser({ email: 'weak@example.com', password: 'password123' }),
    );
    expect(common).toMatchObject({
      code: 'password_strength_error',
      errors: [{ code: 'password_too_common' }],
    });
    const user = await workos.userManagement.createUser({ email: 'weak@example.com' });
    const onUpdate = await thrown(workos.userManagement.updateUser({ userId: user.id, password: 'abc' }));
    expect(onUpdate).toBeInstanceOf(BadRequestException);
  });

  it('answers 401 for a wrong API key', async () => {
    const stranger = new WorkOS('sk_test_wrong', { ...t.emulator.sdkOptions, maxRetries: 0 });
    expect(await thrown(stranger.userManagement.listUsers())).toBeInstanceOf(UnauthorizedException);
    const missing = await fetch(`${t.emulator.url}/user_management/users`);
    expect(missing.status).toBe(401);
  });
});

describe('authenticate', () => {
  it('logs in with a plaintext password and records last_sign_in_at', async () => {
    const user = await workos.userManagement.createUser({
      email: 'pw@example.com',
      password: 'a long passphrase',
    });
    expect(user.lastSignInAt).toBeNull();
    const result = await workos.userManagement.authenticateWithPassword({
      email: 'PW@example.com',
      password: 'a long passphrase',
      clientId: t.emulator.clientId,
    });
    expect(result.user.id).toBe(user.id);
    expect(result.user.lastSignInAt).toMatch(ISO_MS);
    expect(result.authenticationMethod).toBe('Password');
    expect(result.accessToken.split('.')).toHaveLength(3);
    expect(result.refreshToken.length).toBeGreaterThan(10);
    expect((await workos.userManagement.getUser(user.id)).lastSignInAt).toBe(result.user.lastSignInAt);
  });

  it('answers 400 invalid_credentials for a wrong password, an unknown email and a user without a password', async () => {
    await workos.userManagement.createUser({ email: 'pw@example.com', password: 'a long passphrase' });
    await workos.userManagement.createUser({ email: 'nopw@example.com' });
    for (const [email, password] of [
      ['pw@example.com', 'wrong passphrase'],
      ['nobody@example.com', 'a long passphrase'],
      ['nopw@example.com', ''],
      ['nopw@example.com', 'anything at all'],
    ] as const) {
      const error = await thrown(
        workos.userManagement.authenticateWithPassword({ email, password, clientId: t.emulator.clientId }),
      );
      // WorkOS's answer (workos-api.md): not OAuth `invalid_grant`, so the SDK raises GenericServerException.
      expect(error).toBeInstanceOf(GenericServerException);
      expect(error).not.toBeInstanceOf(OauthException);
      expect(error).toMatchObject({ status: 400, code: 'invalid_credentials' });
    }
  });

  it('limits attempts per email (10 per 60 s by default), and the limit can be changed', async () => {
    t.emulator.control.configure({ rateLimits: {} });
    await workos.userManagement.createUser({ email: 'busy@example.com', password: 'a long passphrase' });
    const attempt = (email: string) =>
      workos.userManagement.authenticateWithPassword({
        email,
        password: 'wrong passphrase',
        clientId: t.emulator.clientId,
      });
    for (let i = 0; i < 10; i++)
      expect(await thrown(attempt('busy@example.com'))).toMatchObject({ code: 'invalid_credentials' });
    const limited = await thrown(attempt('busy@example.com'));
    expect(limited).toBeInstanceOf(RateLimitExceededException);
    expect((limited as RateLimitExceededException).retryAfter).toBeGreaterThanOrEqual(1);
    // Another email has its own budget.
    expect(await thrown(attempt('other@example.com'))).toMatchObject({ code: 'invalid_credentials' });
    t.emulator.control.configure({ rateLimits: { authenticatePerEmail: false } });
    expect(await thrown(attempt('busy@example.com'))).toMatchObject({ code: 'invalid_credentials' });
  });

  it('rejects an unknown client id', async () => {
    const error = await thrown(
      workos.userManagement.authenticateWithPassword({
        email: 'a@example.com',
        password: 'x',
        clientId: 'client_nope',
      }),
    );
    expect(error).toBeInstanceOf(OauthException);
    expect(error).toMatchObject({ error: 'invalid_client' });
  });
});

describe('password reset', () => {
  it('creates a reset, confirms it once, and the new password logs in', async () => {
    const user = await workos.userManagement.createUser({
      email: 'reset@example.com',
      password: 'the old passphrase',
    });
    const reset = await workos.userManagement.createPasswordReset({ email: 'reset@example.com' });
    expect(reset.userId).toBe(user.id);
    expect(reset.passwordResetToken.length).toBeGreaterThan(20);
    expect(reset.passwordResetUrl).toContain(reset.passwordResetToken);
    expect(reset.expiresAt).toMatch(ISO_MS);
    // The control plane never shows the token.
    const seen = await raw(`/_emulator/users/${user.id}`);
    expect(JSON.stringify(seen.body)).not.toContain(reset.passwordResetToken);

    const confirmed = await workos.userManagement.resetPassword({
      token: reset.passwordResetToken,
      newPassword: 'the new passphrase',
    });
    expect(confirmed.user.emailVerified).toBe(true);
    await workos.userManagement.authenticateWithPassword({
      email: 'reset@example.com',
      password: 'the new passphrase',
      clientId: t.emulator.clientId,
    });
    expect(
      await thrown(
        workos.userManagement.authenticateWithPassword({
          email: 'reset@example.com',
          password: 'the old passphrase',
          clientId: t.emulator.clientId,
        }),
      ),
    ).toMatchObject({ status: 400, code: 'invalid_credentials' });
    expect(
      await thrown(
        workos.userManagement.resetPassword({ token: reset.passwordResetToken, newPassword: 'another one!' }),
      ),
    ).toBeInstanceOf(NotFoundException);
  });

  it('limits resets to 3 per 60 s per email', async () => {
    t.emulator.control.configure({ rateLimits: {} });
    await workos.userManagement.createUser({ email: 'reset@example.com' });
    for (let i = 0; i < 3; i++)
      await workos.userManagement.createPasswordReset({ email: 'reset@example.com' });
    const error = await thrown(workos.userManagement.createPasswordReset({ email: 'reset@example.com' }));
    expect(error).toBeInstanceOf(RateLimitExceededException);
  });

  it('answers NotFound for an unknown email', async () => {
    expect(
      await thrown(workos.userManagement.createPasswordReset({ email: 'nobody@example.com' })),
    ).toBeInstanceOf(NotFoundException);
  });
});

describe('events', () => {
  it('records user.created, user.updated and user.deleted and pages with after', async () => {
    const user = await workos.userManagement.createUser({ email: 'ev@example.com' });
    await workos.userManagement.updateUser({ userId: user.id, firstName: 'Eve' });
    await workos.userManagement.deleteUser(user.id);
    const all = await workos.events.listEvents({
      events: ['user.created', 'user.updated', 'user.deleted'],
      order: 'asc',
    });
    expect(all.data.map((event) => event.event)).toEqual(['user.created', 'user.updated', 'user.deleted']);
    expect(all.data[1]).toMatchObject({ data: { id: user.id, firstName: 'Eve' } });
    const firstOnly = await workos.events.listEvents({ events: ['user.created'], order: 'asc', limit: 1 });
    const rest = await workos.events.listEvents({
      events: ['user.created', 'user.updated', 'user.deleted'],
      order: 'asc',
      after: firstOnly.listMetadata.after as string,
    });
    expect(rest.data.map((event) => event.event)).toEqual(['user.updated', 'user.deleted']);
    const deletedOnly = await workos.events.listEvents({ events: ['user.deleted'] });
    expect(deletedOnly.data).toHaveLength(1);
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After when the write budget is spent', async () => {
    t.emulator.control.configure({ rateLimits: { writes: { limit: 3, windowMs: 10_000 } } });
    for (let i = 0; i < 3; i++) await workos.userManagement.createUser({ email: `rl${i}@example.com` });
    const error = await thrown(workos.userManagement.createUser({ email: 'rl3@example.com' }));
    expect(error).toBeInstanceOf(RateLimitExceededException);
    expect((error as RateLimitExceededException).retryAfter).toBeGreaterThanOrEqual(1);
    expect(t.emulator.control.userCount()).toBe(3);
    // Reads have their own budget.
    await workos.userManagement.listUsers();
    expect(t.emulator.control.counters().rateLimited).toBe(1);
  });
});

describe('faults', () => {
  it('applied but unanswered: the user is stored although the client saw the connection drop', async () => {
    t.emulator.control.script({ kind: 'applied_unanswered', method: 'POST', path: '/user_management/users' });
    const error = await thrown(
      workos.userManagement.createUser({ email: 'ghost@example.com', externalId: 'g1' }),
    );
    expect(error).not.toBeInstanceOf(GenericServerException);
    expect(t.emulator.control.getUser('g1')?.user.email).toBe('ghost@example.com');
    // A retry finds the user by external id instead of creating a second one.
    expect((await workos.userManagement.getUserByExternalId('g1')).email).toBe('ghost@example.com');
  });

  it('stalled: the write lands after the client has timed out', async () => {
    const impatient = new WorkOS(t.emulator.apiKey, {
      ...t.emulator.sdkOptions,
      maxRetries: 0,
      timeout: 200,
    });
    const user = await workos.userManagement.createUser({ email: 'slow@example.com', firstName: 'Before' });
    t.emulator.control.script({ kind: 'stall', method: 'PUT', delayMs: 600 });
    const started = Date.now();
    await thrown(impatient.userManagement.updateUser({ userId: user.id, firstName: 'Late' }));
    expect(Date.now() - started).toBeLessThan(550);
    expect(t.emulator.control.getUser(user.id)?.user.first_name).toBe('Before');
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(t.emulator.control.getUser(user.id)?.user.first_name).toBe('Late');
  });

  it('scripted errors and drops are not applied; they are counted', async () => {
    t.emulator.control.script({ kind: 'error', status: 503, method: 'POST' });
    const error = await thrown(workos.userManagement.createUser({ email: 'e@example.com' }));
    expect(error).toBeInstanceOf(GenericServerException);
    expect(error).toMatchObject({ status: 503 });
    t.emulator.control.script({ kind: 'drop', method: 'POST' });
    await thrown(workos.userManagement.createUser({ email: 'e@example.com' }));
    expect(t.emulator.control.userCount()).toBe(0);
    await workos.userManagement.createUser({ email: 'e@example.com' });
    expect(t.emulator.control.counters().faults).toMatchObject({ error: 1, drop: 1 });
  });

  it('random 5xx and drops at the configured rates, and latency in range', async () => {
    t.emulator.control.configure({ faults: { errorRate: 1 } });
    const failure = await thrown(workos.userManagement.listUsers());
    expect([500, 502, 503]).toContain((failure as GenericServerException).status);
    t.emulator.control.configure({ faults: { dropRate: 1 } });
    expect(await thrown(workos.userManagement.listUsers())).not.toBeInstanceOf(GenericServerException);
    t.emulator.control.configure({ faults: { latencyMs: { min: 80, max: 120 } } });
    const started = Date.now();
    await workos.userManagement.listUsers();
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
  });
});
