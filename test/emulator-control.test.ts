import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from 'workos-migrate/emulator';
import { startTestEmulator } from './helpers/emulator.js';

type TestEmulator = Awaited<ReturnType<typeof startTestEmulator>>;
let t: TestEmulator;

async function control(method: string, path: string, body?: unknown, key: string | null = t.emulator.apiKey) {
  const response = await fetch(`${t.emulator.url}/_emulator/${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, text, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  t = await startTestEmulator();
});

afterAll(async () => {
  await t.close();
});

describe('control plane over HTTP', () => {
  it('requires the API key', async () => {
    expect((await control('GET', 'counters', undefined, null)).status).toBe(401);
    expect((await control('POST', 'reset', undefined, 'sk_wrong')).status).toBe(401);
  });

  it('seeds users, shows the hash type but never the hash, and resets', async () => {
    const hash = bcrypt.hashSync('seeded passphrase', 4);
    const seeded = await control('POST', 'users', {
      users: [
        {
          email: 'seed@example.com',
          password_hash: hash,
          password_hash_type: 'bcrypt',
          external_id: 's1',
          email_verified: true,
        },
        { email: 'signed-in@example.com', last_sign_in_at: '2026-01-02T03:04:05.678Z' },
      ],
    });
    expect(seeded.status).toBe(201);
    expect(seeded.text).not.toContain(hash);
    const shown = await control('GET', 'users/s1');
    expect(shown.body).toMatchObject({
      hasPassword: true,
      passwordType: 'bcrypt',
      user: { email: 'seed@example.com' },
    });
    expect(shown.text).not.toContain(hash.slice(7));
    expect((await control('GET', 'users/SIGNED-IN@example.com')).body.user.last_sign_in_at).toBe(
      '2026-01-02T03:04:05.678Z',
    );
    const listed = await control('GET', 'users');
    expect(listed.body.users).toHaveLength(2);
    expect(listed.text).not.toContain(hash.slice(7));

    // The seeded hash really logs in.
    await t.workos.userManagement.authenticateWithPassword({
      email: 'seed@example.com',
      password: 'seeded passphrase',
      clientId: t.emulator.clientId,
    });

    expect((await control('POST', 'reset')).status).toBe(200);
    expect((await control('GET', 'users/s1')).status).toBe(404);
  });

  it('refuses a bad seed with the API error and seeds nothing after it', async () => {
    const answer = await control('POST', 'users', {
      users: [
        { email: 'fine@example.com' },
        { email: 'bad@example.com', password_hash: 'x', password_hash_type: 'bcrypt' },
      ],
    });
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('invalid_password_hash');
    await control('POST', 'reset');
  });

  it('counts requests by route and status, and changes faults and settings at run time', async () => {
    await control('DELETE', 'counters');
    await t.workos.userManagement.createUser({ email: 'c@example.com' });
    await t.workos.userManagement.listUsers();
    const counters = (await control('GET', 'counters')).body;
    expect(counters.byRoute).toMatchObject({
      'POST /user_management/users': 1,
      'GET /user_management/users': 1,
    });
    expect(counters.byStatus).toMatchObject({ '201': 1, '200': 1 });

    expect(
      (await control('POST', 'faults', { kind: 'error', status: 502, path: '/user_management/users' }))
        .status,
    ).toBe(201);
    const failed = await fetch(`${t.emulator.url}/user_management/users`, {
      headers: { Authorization: `Bearer ${t.emulator.apiKey}` },
    });
    expect(failed.status).toBe(502);

    expect((await control('PATCH', 'settings', { emailTaken: 'conflict' })).status).toBe(200);
    const conflict = await fetch(`${t.emulator.url}/user_management/users`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.emulator.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'c@example.com' }),
    });
    expect(conflict.status).toBe(409);

    const bad = await control('PATCH', 'settings', { emailTaken: 'maybe', faults: { errorRate: 0.5 } });
    expect(bad.status).toBe(422);
    expect(bad.body.message).toContain('emailTaken');
    // A refused change changes nothing.
    expect(t.emulator.control.counters().faults.error ?? 0).toBe(1);
    await control('PATCH', 'settings', { emailTaken: 'user_creation_error' });
    await control('POST', 'reset');
  });
});

describe('options', () => {
  it('names the option that is wrong', async () => {
    await expect(startEmulator({ port: 70_000 })).rejects.toThrow(/port/);
    await expect(startEmulator({ faults: { errorRate: 2 } })).rejects.toThrow(/faults\.errorRate/);
    await expect(startEmulator({ rateLimits: { writes: { limit: 0, windowMs: 1000 } } })).rejects.toThrow(
      /rateLimits\.writes\.limit/,
    );
    await expect(startEmulator({ emailTaken: 'nope' as never })).rejects.toThrow(/emailTaken/);
    await expect(startEmulator({ apiKeys: [] })).rejects.toThrow(/apiKeys/);
  });
});

describe('data file', () => {
  it('keeps users and their passwords across restarts, in a file only the owner can read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emulator-data-'));
    const dataFile = join(dir, 'state.json');
    try {
      const first = await startEmulator({ dataFile, rateLimits: false });
      const created = await fetch(`${first.url}/user_management/users`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${first.apiKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          email: 'kept@example.com',
          password: 'kept passphrase',
          external_id: 'k1',
          email_verified: true,
        }),
      });
      expect(created.status).toBe(201);
      await first.close();
      expect(statSync(dataFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(dataFile, 'utf8')).not.toContain('kept passphrase');

      const second = await startTestEmulator({ dataFile, rateLimits: false });
      try {
        expect(second.emulator.control.getUser('k1')?.user.email).toBe('kept@example.com');
        const signedIn = await second.workos.userManagement.authenticateWithPassword({
          email: 'kept@example.com',
          password: 'kept passphrase',
          clientId: second.emulator.clientId,
        });
        expect(signedIn.user.externalId).toBe('k1');
        await expect(
          second.workos.userManagement.authenticateWithPassword({
            email: 'kept@example.com',
            password: 'not the passphrase',
            clientId: second.emulator.clientId,
          }),
        ).rejects.toMatchObject({ status: 400, code: 'invalid_credentials' });
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
