// The dashboard in a real browser: Debian's Chromium (installed by .ci/run) driven by playwright-core,
// against a Fastify app listening on a real port, with its worker running on real PostgreSQL and the
// emulator. Signs in with the token, reads the numbers status() answers, flips the freeze (a guarded
// route answers 503), moves the rollout after its preview, retries a dead letter until it is synced,
// signs out; and a request without the cookie, or a cross-origin POST, is refused.
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { sql } from 'drizzle-orm';
import Fastify, { type FastifyInstance } from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import workosMigrate from 'workos-migrate/fastify';
import { type AppDatabase, engineConfig, openPostgres } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
// .ci/run installs Chromium and sets WORKOS_MIGRATE_BROWSER=1: there a missing browser fails the test.
const enabled = process.env.WORKOS_MIGRATE_BROWSER === '1' || existsSync(CHROMIUM);
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const TOKEN = 'browser-admin-token-0123456789abcdef';

let app: AppDatabase & { url: string };
let t: TestEmulator;
let fastify: FastifyInstance;
let base: string;
let browser: Browser;
let page: Page;
let elsewhere: Server;
const deadIds: string[] = [];

const text = async (id: string) => (await page.locator(`#${id}`).textContent())?.trim() ?? '';
const n = (value: number) => value.toLocaleString('en-US');
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  if (!enabled) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  app = await openPostgres();
  t = await startTestEmulator({ requireEmailVerification: false });
  const hash = bcrypt.hashSync('password-1', 4);
  for (let i = 1; i <= 8; i++) {
    await app.exec(`INSERT INTO users (email, password_hash, email_verified) VALUES ($1, $2, true)`, [
      `person${i}@example.com`,
      i === 8 ? null : hash,
    ]);
  }
  fastify = Fastify();
  const { worker, ...config } = engineConfig(app.db, t.emulator);
  await fastify.register(workosMigrate, { ...config, worker, admin: { token: TOKEN } });
  fastify.post('/signup', { config: { workosMigrate: { freeze: true } } }, async () => ({ created: true }));
  base = await fastify.listen({ port: 0, host: '127.0.0.1' });
  await waitFor(async () => (await fastify.workosMigrate.status()).synced === 8, 30_000, 'the first sync');
  // Two valid users dead-lettered as they arrive (as a fixed cause would leave them), to retry.
  await app.db.transaction(async (tx) => {
    const rows = (await tx.execute(
      sql`INSERT INTO users (email, email_verified) VALUES ('late.one@example.com', true), ('late.two@example.com', true) RETURNING id::text AS id`,
    )) as unknown as { id: string }[];
    deadIds.push(...rows.map((r) => r.id));
    await tx.execute(
      sql`UPDATE workos_migrate.outbox SET dead = true, dead_reason = 'email_owned_elsewhere', attempts = 5, last_error = 'a WorkOS user with this email exists'`,
    );
  });
  // Another origin on the same host (another port): same site for cookies, not the same origin.
  elsewhere = createServer((_req, res) => res.end('<!doctype html><title>elsewhere</title>'));
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await (await browser.newContext({ viewport: { width: 1200, height: 1400 } })).newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (elsewhere ? elsewhere.close(resolve) : resolve(undefined)));
  await fastify?.close();
  await t?.close();
  await app?.close();
});

describe.skipIf(!enabled)('the dashboard in Chromium', () => {
  it('signs in with the token and shows the numbers status() answers', async () => {
    await page.goto(`${base}/workos-migrate`);
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    expect(page.url()).toBe(`${base}/workos-migrate/`);
    await page.locator('#token').fill('wrong-token-0123456789');
    await page.locator('#sign-in button').click();
    await expect.poll(() => text('sign-in-error')).toContain('not the admin token');
    await page.locator('#token').fill(TOKEN);
    await page.locator('#sign-in button').click();
    await page.locator('#dashboard').waitFor({ state: 'visible' });
    expect(page.url()).not.toContain(TOKEN);

    const status = await fastify.workosMigrate.status();
    expect(status).toMatchObject({ users: 10, synced: 8, dead: { email_owned_elsewhere: 2 } });
    await expect.poll(() => text('users')).toBe(n(status.users));
    expect(await text('synced')).toBe(n(status.synced));
    expect(await text('pending-live')).toBe(n(status.pending.live));
    expect(await text('pending-backfill')).toBe(n(status.pending.backfill));
    expect(await text('dead-total')).toBe('2');
    for (const [state, count] of Object.entries(status.passwordStates)) {
      expect(await page.locator(`#password-states tr[data-state="${state}"] td`).nth(1).textContent()).toBe(
        n(count),
      );
    }
    expect(await text('leader')).toContain(status.leader?.holder ?? 'none');
    // Dead letters per user, emails masked.
    await expect.poll(() => page.locator('#dead-letters tr').count()).toBe(2);
    const row = await page.locator(`#dead-letters tr[data-user-id="${deadIds[0]}"]`).textContent();
    expect(row).toContain('l***@example.com');
    expect(await page.content()).not.toContain('late.one@');
    await shot('signed-in');
  });

  it('flips the freeze, and a guarded route answers 503', async () => {
    expect((await fetch(`${base}/signup`, { method: 'POST' })).status).toBe(200);
    await page.locator('#freeze').click();
    await waitFor(() => fastify.workosMigrate.flags.freeze().on, 10_000, 'the freeze');
    const frozen = await fetch(`${base}/signup`, { method: 'POST' });
    expect(frozen.status).toBe(503);
    expect(await frozen.json()).toMatchObject({ error: 'signups_frozen' });
    await expect.poll(() => page.locator('#freeze').isChecked()).toBe(true);
  });

  it('moves the rollout after showing how many users it would move', async () => {
    const preview = await fastify.workosMigrate.rolloutPreview(40);
    await page.locator('#rollout').fill('40');
    await expect
      .poll(() => text('rollout-preview'))
      .toBe(`would move ${n(preview.wouldMove)} users (from 0%)`);
    // Nothing changed before Apply.
    expect(fastify.workosMigrate.flags.rollout().percent).toBe(0);
    await page.locator('#rollout-apply').click();
    await waitFor(() => fastify.workosMigrate.flags.rollout().percent === 40, 10_000, 'the rollout');
    await expect.poll(() => text('rollout-value')).toBe('40');
  });

  it('retries a dead letter, which the worker syncs', async () => {
    const id = deadIds[0] as string;
    await page.locator(`#dead-letters tr[data-user-id="${id}"] button`).click();
    await waitFor(
      async () =>
        (await app.exec(`SELECT 1 FROM workos_migrate.sync_state WHERE user_id = $1`, [id])).length === 1,
      30_000,
      'the retried user synced',
    );
    await expect.poll(() => text('dead-total'), { timeout: 15_000 }).toBe('1');
    await expect.poll(() => text('synced'), { timeout: 15_000 }).toBe('9');
    await expect.poll(() => page.locator('#dead-letters tr').count()).toBe(1);
    await page.waitForTimeout(2500); // one more poll, so the chart has points for the screenshot
    await shot('after-actions');
    // The README's picture, refreshed on demand only (a test run leaves the work tree clean).
    if (process.env.WORKOS_MIGRATE_UPDATE_SCREENSHOT === '1') {
      await page.screenshot({ path: fileURLToPath(new URL('../docs/dashboard.png', import.meta.url)) });
    }
  });

  it('refuses a cross-origin POST even with the cookie, and any request without it', async () => {
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: 'workos_migrate_session', httpOnly: true, sameSite: 'Strict' });
    // A page of another origin on the same site posts with the browser's cookie: refused by the origin check.
    const other = await page.context().newPage();
    await other.goto(`http://127.0.0.1:${(elsewhere.address() as { port: number }).port}/`);
    await other.evaluate(async (url) => {
      await fetch(url, {
        method: 'POST',
        mode: 'no-cors',
        credentials: 'include',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ on: false }),
      });
    }, `${base}/workos-migrate/freeze`);
    await other.close();
    const forged = await fetch(`${base}/workos-migrate/freeze`, {
      method: 'POST',
      headers: {
        cookie: `${cookie?.name}=${cookie?.value}`,
        origin: 'http://evil.example',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ on: false }),
    });
    expect(forged.status).toBe(403);
    expect(fastify.workosMigrate.flags.freeze().on).toBe(true);
    expect((await fetch(`${base}/workos-migrate/status`)).status).toBe(401);
  });

  it('signs out: the form comes back and the session no longer opens anything', async () => {
    const [cookie] = await page.context().cookies();
    await page.locator('#sign-out').click();
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    expect(await page.context().cookies()).toEqual([]);
    const status = await page.evaluate(async () => (await fetch('status')).status);
    expect(status).toBe(401);
    const replayed = await fetch(`${base}/workos-migrate/status`, {
      headers: { cookie: `${cookie?.name}=${cookie?.value}` },
    });
    expect(replayed.status).toBe(401);
    await page.reload();
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    await shot('signed-out');
  });
});
