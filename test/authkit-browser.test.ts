// The AuthKit cutover as a person meets it: the example app's identifier-first sign-in (email first,
// then its legacy password form or a redirect to AuthKit, and the callback that opens its session),
// against the emulator's hosted pages, on real PostgreSQL with the plugin's worker.
// First over plain HTTP (always runs), then in a real browser: Debian's Chromium (installed by
// .ci/run) driven by playwright-core, gated like test/dashboard-browser.test.ts, with screenshots of
// each step in test/artifacts/.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { type Browser, chromium, type Page } from 'playwright-core';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from 'workos-migrate/drizzle';
import { type AppDatabase, buildApp } from '../examples/app/src/app.js';
import { usersMapping } from '../examples/app/src/config.js';
import { hashPassword } from '../examples/app/src/passwords.js';
import { migrationOptions } from '../examples/app/src/runtime.js';
import { USERS_DDL } from '../examples/app/src/schema.js';
import {
  completeStep,
  expectCode,
  hostedGoogleSignIn,
  hostedPasswordSignIn,
  hostedSignUp,
} from './helpers/authkit.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
// .ci/run installs Chromium and sets WORKOS_MIGRATE_BROWSER=1: there a missing browser fails the test.
const browserEnabled = process.env.WORKOS_MIGRATE_BROWSER === '1' || existsSync(CHROMIUM);
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const ADMIN = 'authkit-admin-token-0123456789';

let database: TestDatabase;
let client: postgres.Sql;
let t: TestEmulator;
let app: Awaited<ReturnType<typeof buildApp>>;
let base: string;

const PEOPLE = {
  // Each test signs in a different person: a sign-in through WorkOS is recorded and ends the
  // legacy fallback for that user, so the legacy-form checks use people AuthKit has not seen.
  ada: { email: 'ada@example.com', password: 'ada-legacy-password' },
  bob: { email: 'bob@example.com', password: 'bob-legacy-password' },
  cy: { email: 'cy@example.com', password: 'cy-legacy-password' },
  dee: { email: 'dee@example.com', password: 'dee-legacy-password' },
  sam: { email: 'sam.social@example.com', password: null },
  tess: { email: 'tess.social@example.com', password: null },
} as const;
const localIds: Record<string, number> = {};

const rollout = async (percent: number) => {
  const response = await fetch(`${base}/workos-migrate/rollout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ percent }),
  });
  expect(response.status).toBe(200);
};

beforeAll(async () => {
  database = await createTestDatabase();
  client = postgres(database.url, { max: 10, onnotice: () => {} });
  const db = drizzle(client) as unknown as AppDatabase;
  await client.unsafe(USERS_DDL);
  await install(db, usersMapping);
  t = await startTestEmulator();
  for (const [key, person] of Object.entries(PEOPLE)) {
    const hash = person.password ? await hashPassword(person.password) : null;
    const [row] = await client`INSERT INTO users (email, first_name, password_hash, email_verified)
      VALUES (${person.email}, ${key}, ${hash}, true) RETURNING id`;
    localIds[key] = Number(row?.id);
  }
  app = await buildApp({
    db,
    adminToken: ADMIN,
    migration: {
      // The example's own options for the emulator (authkit included), with a test's quick worker.
      ...migrationOptions(
        { ...t.emulator, apiUrl: t.emulator.url, emulator: t.emulator, description: 'the test emulator' },
        { pollMs: 20, leaseMs: 3_000, leaderLeaseMs: 600, retryBaseMs: 50, retryMaxMs: 2_000 },
      ),
      flags: { refreshMs: 100 },
      // Routing by percent is what this file rehearses; proving formats first is test/shadow.test.ts's.
      cutover: { requireProvenFormats: false },
    },
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  // Only the app's own callback may receive codes.
  t.emulator.control.configure({ redirectUris: [`${base}/auth/callback`] });
  await app.workosMigrate.enqueueBackfill();
  await waitFor(
    async () => (await app.workosMigrate.status()).synced === Object.keys(PEOPLE).length,
    30_000,
    'the backfill',
  );
}, 120_000);

afterAll(async () => {
  await app?.close();
  await client?.end({ timeout: 5 });
  await t?.close();
  await database?.drop();
});

/** A browser's cookie jar, for one person, over fetch. */
function cookieJar() {
  const cookies = new Map<string, string>();
  return {
    async request(url: string, init: RequestInit = {}) {
      const response = await fetch(url, {
        ...init,
        redirect: 'manual',
        headers: {
          ...(init.headers as Record<string, string>),
          cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        },
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair = '', ...attributes] = line.split(';');
        const [name = '', value = ''] = pair.split('=');
        if (attributes.some((a) => a.trim().toLowerCase() === 'max-age=0')) cookies.delete(name);
        else cookies.set(name, value);
      }
      return response;
    },
    form(path: string, fields: Record<string, string>) {
      return this.request(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
    },
    has: (name: string) => cookies.has(name),
  };
}

/** Follows the app's redirect to /account and answers what it shows. */
async function account(jar: ReturnType<typeof cookieJar>, response: Response) {
  expect(response.status, await response.clone().text()).toBe(303);
  expect(response.headers.get('location')).toMatch(/^\/account\?via=/);
  const page = await jar.request(`${base}${response.headers.get('location')}`);
  expect(page.status).toBe(200);
  return page.text();
}

describe('the example app over HTTP', () => {
  it('at rollout 0 the email leads to the legacy password form, which opens a session', async () => {
    await rollout(0);
    const jar = cookieJar();
    const form = await jar.form('/sign-in', { email: PEOPLE.bob.email });
    expect(form.status).toBe(200);
    const html = await form.text();
    expect(html).toContain('name="password"');
    expect(html).toContain(`value="${PEOPLE.bob.email}"`);
    const wrong = await jar.form('/sign-in/password', { email: PEOPLE.bob.email, password: 'not it' });
    expect(wrong.status).toBe(401);
    const shown = await account(jar, await jar.form('/sign-in/password', { ...PEOPLE.bob }));
    expect(shown).toContain(PEOPLE.bob.email);
    expect(shown).toContain('password (legacy)');
  });

  it('at rollout 100 the email leads to AuthKit; the imported password signs in and the callback opens a session', async () => {
    await rollout(100);
    const jar = cookieJar();
    const redirect = await jar.form('/sign-in', { email: PEOPLE.cy.email });
    expect(redirect.status).toBe(303);
    const authorizeUrl = redirect.headers.get('location') ?? '';
    expect(authorizeUrl.startsWith(`${t.emulator.url}/user_management/authorize?`)).toBe(true);
    expect(jar.has('wm_pending')).toBe(true);
    const back = expectCode(await hostedPasswordSignIn(authorizeUrl, { ...PEOPLE.cy }));
    expect(back.location.startsWith(`${base}/auth/callback?`)).toBe(true);
    // Another browser (no pending cookie) cannot use this callback: the state is bound to the browser.
    const stranger = await cookieJar().request(back.location);
    expect(stranger.status).toBe(401);
    expect(await stranger.text()).toContain('state-mismatch');
    const shown = await account(jar, await jar.request(back.location));
    expect(shown).toContain(PEOPLE.cy.email);
    expect(shown).toContain('AuthKit (Password)');
    expect(jar.has('wm_pending')).toBe(false);
  });

  it('a social user (no local password) signs in through the simulated Google as themselves', async () => {
    await rollout(100);
    const jar = cookieJar();
    const redirect = await jar.form('/sign-in', { email: PEOPLE.tess.email });
    const back = expectCode(
      await hostedGoogleSignIn(redirect.headers.get('location') ?? '', { email: PEOPLE.tess.email }),
    );
    const shown = await account(jar, await jar.request(back.location));
    expect(shown).toContain(`user ${localIds.tess}`);
    expect(shown).toContain('AuthKit (GoogleOAuth)');
  });

  it('a new person who signs up on AuthKit gets a local row, linked', async () => {
    await rollout(100);
    const jar = cookieJar();
    const redirect = await jar.form('/sign-in', { email: 'newcomer@example.com' });
    expect(redirect.status).toBe(303);
    const step = await hostedSignUp(redirect.headers.get('location') ?? '', {
      email: 'newcomer@example.com',
      password: 'a brand new password',
    });
    const back = expectCode(await completeStep(step));
    const shown = await account(jar, await jar.request(back.location));
    expect(shown).toContain('newcomer@example.com');
    const [row] =
      await client`SELECT id, workos_user_id, password_hash FROM users WHERE email = 'newcomer@example.com'`;
    expect(row?.workos_user_id).toMatch(/^user_/);
    expect(row?.password_hash).toBeNull();
  });
});

describe.skipIf(!browserEnabled)('the example app in Chromium', () => {
  let browser: Browser;
  let page: Page;
  const shot = (name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `authkit-${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  const freshPage = async () => {
    await page?.context().close();
    page = await (await browser.newContext({ viewport: { width: 900, height: 900 } })).newPage();
  };

  const enterEmail = async (email: string) => {
    await page.goto(`${base}/sign-in`);
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
  };

  it('at rollout 0 signs in through the legacy form; at 100 the same person through the hosted page', async () => {
    await rollout(0);
    await freshPage();
    await enterEmail(PEOPLE.ada.email);
    await page.getByLabel('Password').waitFor();
    expect(page.url()).toBe(`${base}/sign-in`);
    await shot('1-legacy-password-form');
    await page.getByLabel('Password').fill(PEOPLE.ada.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signed-in-email').waitFor();
    expect(await page.locator('#signed-in-email').textContent()).toBe(PEOPLE.ada.email);
    expect(await page.locator('#signed-in-via').textContent()).toContain('password (legacy)');
    await shot('2-legacy-signed-in');

    await rollout(100);
    await freshPage();
    await enterEmail(PEOPLE.ada.email);
    await page.locator('main[data-page="sign-in"]').waitFor();
    expect(page.url().startsWith(`${t.emulator.url}/user_management/authorize?`)).toBe(true);
    // The hosted page knows who is signing in (login_hint).
    expect(await page.getByLabel('Email').inputValue()).toBe(PEOPLE.ada.email);
    await shot('3-hosted-sign-in');
    await page.getByLabel('Password').fill(PEOPLE.ada.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signed-in-email').waitFor();
    expect(page.url().startsWith(`${base}/account`)).toBe(true);
    expect(await page.locator('#signed-in-email').textContent()).toBe(PEOPLE.ada.email);
    expect(await page.locator('#signed-in-via').textContent()).toContain('AuthKit (Password)');
    await shot('4-authkit-signed-in');
  });

  it('a wrong password stays on the hosted page, with the error', async () => {
    await rollout(100);
    await freshPage();
    await enterEmail(PEOPLE.dee.email);
    await page.locator('main[data-page="sign-in"]').waitFor();
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('Incorrect email or password');
    expect(page.url().startsWith(t.emulator.url)).toBe(true);
    expect(await page.getByLabel('Email').inputValue()).toBe(PEOPLE.dee.email);
    await shot('5-hosted-wrong-password');
  });

  it('a social user signs in through the simulated Google', async () => {
    await rollout(100);
    await freshPage();
    await enterEmail(PEOPLE.sam.email);
    await page.getByRole('link', { name: 'Continue with Google' }).click();
    await page.locator('main[data-page="oauth"]').waitFor();
    await page.getByLabel('Google account email').fill(PEOPLE.sam.email);
    await page.getByLabel('Name').fill('Sam Social');
    await shot('6-simulated-google');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#signed-in-email').waitFor();
    expect(await page.locator('#signed-in-email').textContent()).toBe(PEOPLE.sam.email);
    expect(await page.locator('#signed-in-via').textContent()).toContain('AuthKit (GoogleOAuth)');
    await shot('7-google-signed-in');
  });
});
