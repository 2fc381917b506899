// Update User semantics WorkOS documents (workos-api.md "Answers that differ"): an email change
// unverifies, a verified email is never set back to unverified, `metadata: {}` clears, and the
// scripted fault that answers 200 while ignoring a field.
import { GenericServerException } from '@workos-inc/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

let t: TestEmulator;

const thrown = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => expect.fail('expected the call to fail'),
    (error: unknown) => error,
  );

const verifiedUser = (email = 'ada@example.com') =>
  t.workos.userManagement.createUser({ email, emailVerified: true, metadata: { plan: 'pro', seat: '3' } });

beforeAll(async () => {
  t = await startTestEmulator();
});

afterEach(() => {
  t.emulator.control.reset();
});

afterAll(async () => {
  await t.close();
});

describe('email change', () => {
  it('sets email_verified to false, in the answer, in storage and in the user.updated event', async () => {
    const user = await verifiedUser();
    const updated = await t.workos.userManagement.updateUser({ userId: user.id, email: 'ada@new.example' });
    expect(updated).toMatchObject({ email: 'ada@new.example', emailVerified: false });
    expect((await t.workos.userManagement.getUser(user.id)).emailVerified).toBe(false);
    const events = await t.workos.events.listEvents({ events: ['user.updated'] });
    expect(events.data.at(-1)?.data).toMatchObject({ email: 'ada@new.example', emailVerified: false });
  });

  it('keeps the user verified when email_verified: true comes with the new email', async () => {
    const user = await verifiedUser();
    const updated = await t.workos.userManagement.updateUser({
      userId: user.id,
      email: 'ada@new.example',
      emailVerified: true,
    });
    expect(updated).toMatchObject({ email: 'ada@new.example', emailVerified: true });
  });

  it('an update without an email change leaves the flag alone', async () => {
    const user = await verifiedUser();
    expect(
      (await t.workos.userManagement.updateUser({ userId: user.id, firstName: 'Ada', email: user.email }))
        .emailVerified,
    ).toBe(true);
  });
});

describe('email_verified', () => {
  it('refuses to set a verified email back to unverified: 400 email_already_verified, nothing changed', async () => {
    const user = await verifiedUser();
    const error = await thrown(
      t.workos.userManagement.updateUser({ userId: user.id, emailVerified: false, firstName: 'Eve' }),
    );
    expect(error).toBeInstanceOf(GenericServerException);
    expect(error).toMatchObject({ status: 400, code: 'email_already_verified' });
    expect(await t.workos.userManagement.getUser(user.id)).toMatchObject({
      emailVerified: true,
      firstName: null,
    });
  });

  it('lets an unverified user be verified, and an unverified one stay unverified', async () => {
    const user = await t.workos.userManagement.createUser({ email: 'new@example.com' });
    expect(
      (await t.workos.userManagement.updateUser({ userId: user.id, emailVerified: false })).emailVerified,
    ).toBe(false);
    expect(
      (await t.workos.userManagement.updateUser({ userId: user.id, emailVerified: true })).emailVerified,
    ).toBe(true);
  });
});

describe('metadata', () => {
  it('`{}` removes every key; a null value removes one; other keys merge', async () => {
    const user = await verifiedUser();
    const one = await t.workos.userManagement.updateUser({
      userId: user.id,
      metadata: { seat: null, team: 'core' } as unknown as Record<string, string>,
    });
    expect(one.metadata).toEqual({ plan: 'pro', team: 'core' });
    const cleared = await t.workos.userManagement.updateUser({ userId: user.id, metadata: {} });
    expect(cleared.metadata).toEqual({});
    expect((await t.workos.userManagement.getUser(user.id)).metadata).toEqual({});
  });
});

describe('scripted fault ignore_field', () => {
  it('answers 200 with the old value of the ignored field, applies the rest, then is spent', async () => {
    const user = await verifiedUser();
    t.emulator.control.script({ kind: 'ignore_field', method: 'PUT', field: 'email' });
    const answered = await t.workos.userManagement.updateUser({
      userId: user.id,
      email: 'ada@new.example',
      firstName: 'Ada',
    });
    expect(answered).toMatchObject({ email: 'ada@example.com', firstName: 'Ada', emailVerified: true });
    expect(t.emulator.control.counters().faults.ignore_field).toBe(1);
    const next = await t.workos.userManagement.updateUser({ userId: user.id, email: 'ada@new.example' });
    expect(next.email).toBe('ada@new.example');
  });

  it('is refused without a field, naming the option', async () => {
    expect(() => t.emulator.control.script({ kind: 'ignore_field', method: 'PUT' })).toThrow(/fault\.field/);
    const response = await fetch(`${t.emulator.url}/_emulator/faults`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.emulator.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'ignore_field', field: '' }),
    });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { message: string }).message).toMatch(/fault\.field/);
  });
});
